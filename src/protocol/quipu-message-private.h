#pragma once

#include "quipu-message.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* From a MESSAGE frame (sender, room or recipients, body...); status RECEIVED,
 * or ACKED when `own`. `self_name` is the receiving user, whom a direct
 * conversation's key leaves out. */
QuipuMessage *quipu_message_new_from_frame (const QuipuFrame *frame,
                                            const char       *sender_id,
                                            const char       *self_name,
                                            gboolean          own);
/* One of ours, PENDING. */
QuipuMessage *quipu_message_new_outgoing   (const char         *sender,
                                            const char         *sender_id,
                                            const char         *room,
                                            const char * const *recipients,
                                            const char         *body,
                                            gint64              timestamp,
                                            guint64             client_msg_id);
void quipu_message_set_status       (QuipuMessage *self, QuipuMessageStatus status);
void quipu_message_set_seq          (QuipuMessage *self, guint64 seq);
void quipu_message_set_verification (QuipuMessage *self, QuipuVerification verification);
/* FAILED, with the server's reason set before the status notifies, so a
 * handler of notify::status finds it. */
void quipu_message_set_failed       (QuipuMessage *self, const GError *error);

G_END_DECLS
