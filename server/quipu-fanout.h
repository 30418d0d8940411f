#pragma once

#include "quipu-request.h"

G_BEGIN_DECLS

/* MESSAGE: checks the signature, stores the message, ACKs it to the sender
 * and relays it to the room's members or the recipients' online sessions
 * (after the batch commits, like everything the batch sends). The frame is
 * rewritten on the way (sender, key, seq). */
void quipu_fanout_handle_message (QuipuRequest *request,
                                  QuipuFrame   *frame);

G_END_DECLS
