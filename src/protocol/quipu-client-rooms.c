#define G_LOG_DOMAIN "quipu-client"

#include "config.h"

#include "quipu-client-private.h"
#include "quipu-message-private.h"
#include "quipu-names.h"

/* What an application asks of a session: rooms, messages, history, and the
 * outbox that keeps its unacknowledged messages (across runs, with a path). */

gboolean
quipu_client_join (QuipuClient *self,
                   const char  *room,
                   GError     **error)
{
  QuipuSequencer *conv;

  g_return_val_if_fail (QUIPU_IS_CLIENT (self), FALSE);

  if (!quipu_name_validate (room, -1, error))
    {
      g_prefix_error (error, "room: ");
      return FALSE;
    }
  conv = quipu_client_conversation (self, room);
  quipu_conversation_list_add_room (self->conversation_list, room, quipu_outbox_peek (self->outbox));
  if (conv->joined)
    return TRUE;
  conv->joined = TRUE;
  if (self->state == QUIPU_STATE_CONNECTED)
    quipu_client_send_join (self, conv);
  return TRUE;
}

void
quipu_client_join_async (QuipuClient         *self,
                         const char          *room,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  QuipuSequencer *conv;

  g_return_if_fail (QUIPU_IS_CLIENT (self));
  g_return_if_fail (room != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_client_join_async);
  if (!quipu_client_join (self, room, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  conv = quipu_client_conversation (self, room);
  if (self->state == QUIPU_STATE_CONNECTED && conv->confirmed)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  key = quipu_sequencer_key (room);
  quipu_waiters_add (self->join_waiters, key, g_steal_pointer (&task));
}

gboolean
quipu_client_join_finish (QuipuClient   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == quipu_client_join_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
quipu_client_leave (QuipuClient *self,
                    const char  *room)
{
  g_autoptr(QuipuFrame) frame = NULL;
  QuipuSequencer *conv = quipu_client_conversation (self, room);

  quipu_conversation_list_remove_room (self->conversation_list, room);
  if (!conv->joined)
    return;
  conv->joined = FALSE;
  conv->confirmed = FALSE;
  if (self->state != QUIPU_STATE_CONNECTED)
    return;
  frame = quipu_frame_new (QUIPU_FRAME_LEAVE);
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room);
  quipu_client_queue_frame (self, frame);
}

static QuipuMessage *
enqueue (QuipuClient        *self,
         const char         *room,
         const char * const *recipients,
         const char         *body,
         GError            **error)
{
  g_autoptr(QuipuMessage) msg = NULL;
  g_autoptr(QuipuFrame) frame = NULL;

  msg = quipu_message_new_outgoing (self->username, quipu_identity_get_user_id (self->identity),
                                    room, recipients, body, g_get_real_time () / 1000, quipu_client_random_id ());

  /* Encode once now so a message the server would refuse (too long, bad
   * recipient name) is refused here, with the codec's precise reason. */
  frame = quipu_client_build_message (self, msg, error);
  if (frame == NULL)
    return NULL;
  {
    g_autoptr(GBytes) bytes = quipu_frame_encode (frame, error);

    if (bytes == NULL)
      return NULL;
  }

  quipu_outbox_push (self->outbox, msg);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_N_PENDING]);
  quipu_conversation_list_add_pending (self->conversation_list, msg);
  /* Sent now with the frame built above if nothing waits before it, else
   * when the stream drains (quipu_client_pump_outbox). */
  if (quipu_outbox_next_unsent (self->outbox) == msg && quipu_client_outbox_may_send (self) &&
      quipu_connection_queue_frame (self->conn, frame))
    quipu_outbox_mark_sent (self->outbox);
  return g_steal_pointer (&msg);
}

QuipuMessage *
quipu_client_send_to_room (QuipuClient *self,
                           const char  *room,
                           const char  *body,
                           GError     **error)
{
  g_autofree char *key = NULL;
  QuipuConversation *conv;

  g_return_val_if_fail (room != NULL, NULL);

  /* The server relays a room's messages under its own spelling of the name,
   * which the signature must then cover: use it once the join told us. */
  key = quipu_conversation_key_for_room (room);
  conv = quipu_conversation_list_lookup (self->conversation_list, key);
  return enqueue (self, conv ? quipu_conversation_get_room (conv) : room, NULL, body, error);
}

QuipuMessage *
quipu_client_send_direct (QuipuClient        *self,
                          const char * const *recipients,
                          const char         *body,
                          GError            **error)
{
  g_return_val_if_fail (recipients != NULL && recipients[0] != NULL, NULL);

  return enqueue (self, NULL, recipients, body, error);
}

guint
quipu_client_get_n_pending (QuipuClient *self)
{
  return quipu_outbox_get_length (self->outbox);
}

gboolean
quipu_client_load_older (QuipuClient *self,
                         const char  *room,
                         guint        limit)
{
  QuipuSequencer *conv = quipu_client_conversation (self, room);

  return quipu_client_request_history (self, room,
                                       conv->lowest == G_MAXUINT64 ? (guint64) QUIPU_VARINT_MAX : conv->lowest,
                                       limit);
}

gboolean
quipu_client_request_history (QuipuClient *self,
                              const char  *room,
                              guint64      before_seq,
                              guint        limit)
{
  g_autoptr(QuipuFrame) frame = NULL;
  QuipuSequencer *conv = quipu_client_conversation (self, room);

  if (self->state != QUIPU_STATE_CONNECTED || conv->loading_older)
    return FALSE;

  frame = quipu_frame_new (QUIPU_FRAME_HISTORY);
  if (room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room);
  else
    quipu_frame_set_uint (frame, QUIPU_FIELD_FLAGS, QUIPU_FLAG_INBOX);
  quipu_frame_set_uint (frame, QUIPU_FIELD_BEFORE_SEQ, MIN (before_seq, (guint64) QUIPU_VARINT_MAX));
  quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, MIN (limit, QUIPU_CLIENT_RESYNC_PAGE));
  conv->loading_older = TRUE;
  quipu_client_queue_frame (self, frame);
  return TRUE;
}

guint64
quipu_client_get_synced_seq (QuipuClient *self,
                             const char  *room)
{
  return quipu_client_conversation (self, room)->contiguous;
}

typedef struct {
  GWeakRef     client;
  QuipuOutbox *outbox;
} Restore;

static void
restore_free (Restore *restore)
{
  g_weak_ref_clear (&restore->client);
  quipu_outbox_unref (restore->outbox);
  g_free (restore);
}

static void
outbox_restored_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Restore *restore = user_data;
  g_autoptr(QuipuClient) self = g_weak_ref_get (&restore->client);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) restored = quipu_outbox_restore_finish (restore->outbox, result, &error);

  restore_free (restore);
  if (restored == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("cannot restore unsent messages: %s", error->message);
      return;
    }
  if (self == NULL || restored->len == 0)
    return;
  for (guint i = 0; i < restored->len; i++)
    quipu_conversation_list_add_pending (self->conversation_list, g_ptr_array_index (restored, i));
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_N_PENDING]);
  /* Already logged in: send them now; otherwise the login resends them. */
  quipu_client_pump_outbox (self);
}

void
quipu_client_set_outbox_path (QuipuClient *self,
                              const char  *path)
{
  g_return_if_fail (QUIPU_IS_CLIENT (self));

  if (g_strcmp0 (quipu_outbox_get_path (self->outbox), path) == 0)
    return;
  g_cancellable_cancel (self->outbox_cancellable);
  g_clear_object (&self->outbox_cancellable);
  quipu_outbox_set_path (self->outbox, path);
  if (path != NULL)
    {
      Restore *restore = g_new0 (Restore, 1);

      g_weak_ref_init (&restore->client, self);
      restore->outbox = quipu_outbox_ref (self->outbox);
      self->outbox_cancellable = g_cancellable_new ();
      quipu_outbox_restore_async (self->outbox, self->username, quipu_client_get_user_id (self),
                                  self->outbox_cancellable, outbox_restored_cb, restore);
    }
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_OUTBOX_PATH]);
}
