#pragma once

#include <glib.h>

#include "quipu-frame.h"

G_BEGIN_DECLS

/* The bytes a MESSAGE signature covers (PROTOCOL.md, "Signatures"): a context
 * string, then sender, room or recipients, client message id, timestamp and
 * body, each length-prefixed. `frame` must hold those fields. The room and
 * recipients go in folded (quipu_name_fold), because the server relays them
 * in the spelling it stored first, not the sender's; with `fold` FALSE they go
 * in as spelled, the form signatures made before that rule used. */
GBytes *quipu_message_signing_input_full (const QuipuFrame *frame, gboolean fold);
#define quipu_message_signing_input(frame) quipu_message_signing_input_full ((frame), TRUE)

/* The bytes a login proof covers: context string, the TLS exporter value,
 * username and public key. */
GBytes *quipu_login_proof_input (const guint8 *exporter, gsize exporter_len,
                                 const char   *username,
                                 const guint8  key[QUIPU_KEY_SIZE]);

G_END_DECLS
