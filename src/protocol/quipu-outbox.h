#pragma once

#include <gio/gio.h>

#include "quipu-message.h"

G_BEGIN_DECLS

/* A client's own messages the server has not acknowledged yet, oldest
 * first. With a path set, the queue is kept in a file (0600, replaced
 * atomically from an idle source, off the frame path) and restored from it
 * by quipu_outbox_restore_async, so what was written offline survives a
 * restart. Internal to QuipuClient. */
typedef struct _QuipuOutbox QuipuOutbox;

QuipuOutbox  *quipu_outbox_new            (GMainContext *context);
QuipuOutbox  *quipu_outbox_ref            (QuipuOutbox  *self);
void          quipu_outbox_unref          (QuipuOutbox  *self);
/* The owner is done with it: saves what is not saved yet synchronously
 * (the process may be quitting) and stops all further saving. */
void          quipu_outbox_close          (QuipuOutbox  *self);

void          quipu_outbox_set_path       (QuipuOutbox  *self,
                                           const char   *path);
const char   *quipu_outbox_get_path       (QuipuOutbox  *self);

void          quipu_outbox_push           (QuipuOutbox  *self,
                                           QuipuMessage *msg);
/* Removes and returns the message with that id (transfer full), or NULL. */
QuipuMessage *quipu_outbox_take           (QuipuOutbox  *self,
                                           guint64       client_msg_id);
guint         quipu_outbox_get_length     (QuipuOutbox  *self);
/* The queue, oldest first: QuipuMessage * data, owned by the outbox. */
GList        *quipu_outbox_peek           (QuipuOutbox  *self);

/* What is on the wire. The outbox sends only as fast as the connection
 * drains, so it keeps a cursor: the messages before it were sent on the
 * current connection, the one at it is the next to send. A pushed message
 * starts unsent. */
QuipuMessage *quipu_outbox_next_unsent    (QuipuOutbox  *self);
/* The message at the cursor went on the wire: the cursor moves past it. */
void          quipu_outbox_mark_sent      (QuipuOutbox  *self);
/* How many messages are before the cursor: on the wire, not acknowledged. */
guint         quipu_outbox_get_n_sent     (QuipuOutbox  *self);
/* A new connection: nothing is on the wire. */
void          quipu_outbox_rewind         (QuipuOutbox  *self);
/* The server refused that message for now (rate-limited): it and every
 * message after it count as unsent again. FALSE if it is not on the wire
 * (acknowledged, or unsent already: a refusal of an earlier sending). */
gboolean      quipu_outbox_rewind_to      (QuipuOutbox  *self,
                                           guint64       client_msg_id);

/* Reads the file and puts the messages saved there ahead of any pushed
 * since, as PENDING messages from `sender`. Until it completes, nothing is
 * saved, so the file is never overwritten unread. */
void          quipu_outbox_restore_async  (QuipuOutbox         *self,
                                           const char          *sender,
                                           const char          *sender_id,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
/* The restored messages (QuipuMessage *), or NULL with error set. A missing
 * file restores nothing. */
GPtrArray    *quipu_outbox_restore_finish (QuipuOutbox   *self,
                                           GAsyncResult  *result,
                                           GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuOutbox, quipu_outbox_unref)

G_END_DECLS
