#pragma once

#include "quipu-identity.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* Signing and checking what goes over the wire: the login proof and MESSAGE
 * frames. Internal to the library and the server (applications never see a
 * QuipuFrame); the byte layouts are in PROTOCOL.md, "Signatures". */

/* The TLS exporter (RFC 8446 §7.5) value a login proof signs, so a proof is
 * worthless on any other connection. */
#define QUIPU_LOGIN_EXPORTER_LABEL  "EXPORTER-quipu-login"
#define QUIPU_LOGIN_EXPORTER_LEN    32

gboolean quipu_identity_sign_login_proof (QuipuIdentity *self,
                                          const guint8  *exporter,
                                          gsize          exporter_len,
                                          const char    *username,
                                          guint8         proof[QUIPU_SIGNATURE_SIZE],
                                          GError       **error);

/* Signs the MESSAGE frame's sender, destination, id, timestamp and body and
 * sets its SIGNATURE field. */
gboolean quipu_identity_sign_message     (QuipuIdentity *self,
                                          QuipuFrame    *frame,
                                          GError       **error);
/* TRUE if the frame's SIGNATURE is `key`'s over those fields. */
gboolean quipu_message_frame_verify      (const QuipuFrame *frame,
                                          const guint8      key[QUIPU_KEY_SIZE]);

G_END_DECLS
