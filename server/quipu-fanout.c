#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include "quipu-error.h"
#include "quipu-event.h"
#include "quipu-fanout.h"
#include "quipu-identity.h"
#include "quipu-signing.h"

/* Sends a stored direct message to the online sessions of one user. */
static void
relay_to_user (QuipuRequest *request,
               QuipuFrame   *frame,
               gint64        uid,
               guint64       seq)
{
  GPtrArray *sessions = quipu_roster_lookup_user (request->roster, uid);
  g_autoptr(GBytes) bytes = NULL;

  if (sessions == NULL)
    return;
  quipu_frame_set_uint (frame, QUIPU_FIELD_SEQ, seq);
  bytes = quipu_frame_encode (frame, NULL);
  for (guint j = 0; bytes != NULL && j < sessions->len; j++)
    {
      QuipuSession *target = g_ptr_array_index (sessions, j);

      if (target != request->session)
        quipu_session_send_written (target, request->batch, bytes, seq, QUIPU_ON_FAILURE_DROP, NULL);
    }
}

/* Each inbox has its own sequence, so each recipient gets its own encoding;
 * the sender's other connections get the message too, with the sender's. */
static void
relay_direct (QuipuRequest  *request,
              QuipuFrame    *frame,
              const gint64  *uids,
              const guint64 *seqs,
              guint          n,
              guint64        sender_seq)
{
  QuipuSession *session = request->session;
  g_autoptr(GHashTable) done = g_hash_table_new (g_int64_hash, g_int64_equal);

  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, session->key, QUIPU_KEY_SIZE);
  g_hash_table_add (done, &session->uid);
  for (guint i = 0; i < n; i++)
    if (g_hash_table_add (done, (gpointer) &uids[i]))
      relay_to_user (request, frame, uids[i], seqs[i]);
  relay_to_user (request, frame, session->uid, sender_seq);
}

/* Encode once; every member's stream references the same bytes. */
static void
relay_room (QuipuRequest *request,
            QuipuRoom    *room,
            QuipuFrame   *frame,
            guint64       seq)
{
  g_autoptr(GBytes) bytes = NULL;

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room->name);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, request->session->key, QUIPU_KEY_SIZE);
  quipu_frame_set_uint (frame, QUIPU_FIELD_SEQ, seq);
  bytes = quipu_frame_encode (frame, NULL);
  if (bytes != NULL)
    quipu_room_send (room, request->batch, bytes, request->session);
}

/* The ACK stands for the commit: if that fails, the sender hears
 * server-error about the same message instead, and resends it. */
static void
reply_stored (QuipuRequest     *request,
              const QuipuFrame *ack,
              guint64           inbox_seq,
              const QuipuFrame *message)
{
  g_autoptr(QuipuFrame) refusal = quipu_session_error_frame (QUIPU_PROTOCOL_ERROR_SERVER,
                                                             "the server could not store the message",
                                                             message);
  g_autoptr(GBytes) bytes = quipu_frame_encode (ack, NULL);
  g_autoptr(GBytes) fallback = quipu_frame_encode (refusal, NULL);

  if (bytes != NULL && fallback != NULL)
    quipu_session_send_written (request->session, request->batch, bytes, inbox_seq,
                                QUIPU_ON_FAILURE_REPLACE, fallback);
}

/* The recipients' uids, or FALSE after telling the sender who is unknown. */
static gboolean
lookup_recipients (QuipuRequest     *request,
                   const QuipuFrame *frame,
                   gint64           *uids)
{
  for (guint i = 0; i < frame->recipients->len; i++)
    {
      const char *name = g_ptr_array_index (frame->recipients, i);
      g_autoptr(GError) error = NULL;

      if (!quipu_store_lookup_user (request->store, name, &uids[i], NULL, NULL, &error))
        {
          g_autofree char *text = error ? g_strdup (error->message)
                                        : g_strdup_printf ("there is no user named %s here", name);

          quipu_request_error (request,
                               error ? QUIPU_PROTOCOL_ERROR_SERVER : QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT,
                               text, frame);
          return FALSE;
        }
    }
  return TRUE;
}

void
quipu_fanout_handle_message (QuipuRequest *request,
                             QuipuFrame   *frame)
{
  QuipuSession *session = request->session;
  g_autoptr(QuipuFrame) ack = quipu_frame_new (QUIPU_FRAME_ACK);
  g_autoptr(GError) error = NULL;
  g_autofree gint64 *uids = NULL;
  g_autofree guint64 *seqs = NULL;
  QuipuRoom *room = NULL;
  gboolean duplicate = FALSE;
  guint64 seq = 0;
  guint n = 0;

  if (frame->room != NULL && (room = quipu_roster_joined_room (request->roster, session, frame->room)) == NULL)
    {
      quipu_request_error (request, QUIPU_PROTOCOL_ERROR_NOT_JOINED, "join the room before sending to it", frame);
      return;
    }

  if (frame->recipients != NULL)
    {
      n = frame->recipients->len;
      uids = g_new (gint64, n);
      seqs = g_new0 (guint64, n);
      if (!lookup_recipients (request, frame, uids))
        return;
    }

  /* The sender is who logged in on this connection, whatever the frame says;
   * the signature must hold for that name and the login key. */
  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, session->username);
  if (!quipu_message_frame_verify (frame, session->key))
    {
      quipu_session_log (session, G_LOG_LEVEL_WARNING, "bad-signature",
                         "message %" G_GUINT64_FORMAT " from %s refused: its signature does not verify",
                         frame->client_msg_id, session->username);
      quipu_request_error (request, QUIPU_PROTOCOL_ERROR_BAD_SIGNATURE, "the message signature does not verify",
                           frame);
      return;
    }

  if (quipu_batch_ensure_transaction (request->batch, &error))
    {
      if (room != NULL)
        quipu_store_add_room_message (request->store, session->uid, room->name, frame->client_msg_id,
                                      frame->body, frame->timestamp, frame->signature, &seq, &duplicate, &error);
      else
        quipu_store_add_direct_message (request->store, session->uid, uids,
                                        (const char * const *) frame->recipients->pdata, n,
                                        frame->client_msg_id, frame->body, frame->timestamp,
                                        frame->signature, &seq, seqs, &duplicate, &error);
    }
  if (error != NULL)
    {
      if (error->code == QUIPU_PROTOCOL_ERROR_SERVER)
        quipu_log_store_error (&quipu_limits_get_stats (request->limits)->store_failures,
                               "cannot store a message", error);
      quipu_request_error (request,
                           error->code <= QUIPU_PROTOCOL_ERROR_LAST_WIRE_CODE ? error->code
                                                                              : QUIPU_PROTOCOL_ERROR_SERVER,
                           error->message, frame);
      return;
    }

  quipu_frame_set_uint (ack, QUIPU_FIELD_CLIENT_MSG_ID, frame->client_msg_id);
  quipu_frame_set_uint (ack, QUIPU_FIELD_SEQ, seq);
  if (room != NULL)
    quipu_frame_set_string (ack, QUIPU_FIELD_ROOM, room->name);
  if (room == NULL || duplicate)
    quipu_frame_set_uint (ack, QUIPU_FIELD_FLAGS,
                          (room ? 0 : QUIPU_FLAG_INBOX) | (duplicate ? QUIPU_FLAG_DUPLICATE : 0));
  /* A direct message is in the sender's inbox too; once the ACK is through,
   * the sender has it, and a later login must not bring it as news. */
  if (duplicate)
    {
      quipu_request_reply (request, ack, 0);
      return;
    }
  reply_stored (request, ack, room == NULL ? seq : 0, frame);

  if (room != NULL)
    relay_room (request, room, frame, seq);
  else
    relay_direct (request, frame, uids, seqs, n, seq);
}
