#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include "quipu-error.h"
#include "quipu-history.h"

static QuipuFrame *
frame_from_stored (const QuipuStoredMessage *msg,
                   const char               *room_name,
                   guint64                   flags)
{
  QuipuFrame *frame = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, msg->sender);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, msg->sender_key, QUIPU_KEY_SIZE);
  if (msg->room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room_name ? room_name : msg->room);
  for (guint i = 0; msg->recipients != NULL && msg->recipients[i] != NULL; i++)
    quipu_frame_add_string (frame, QUIPU_FIELD_RECIPIENT, msg->recipients[i]);
  quipu_frame_set_uint (frame, QUIPU_FIELD_CLIENT_MSG_ID, msg->client_msg_id);
  quipu_frame_set_uint (frame, QUIPU_FIELD_SEQ, msg->seq);
  quipu_frame_set_uint (frame, QUIPU_FIELD_TIMESTAMP, msg->timestamp);
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY, msg->body);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_SIGNATURE, msg->signature, QUIPU_SIGNATURE_SIZE);
  if (flags != 0)
    quipu_frame_set_uint (frame, QUIPU_FIELD_FLAGS, flags);
  return frame;
}

void
quipu_history_send_page (QuipuRequest        *request,
                         QuipuRoom           *room,
                         QuipuFetchDirection  direction,
                         guint64              seq,
                         guint                limit,
                         QuipuHistoryMode     mode)
{
  QuipuSession *session = request->session;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(QuipuFrame) end = quipu_frame_new (QUIPU_FRAME_HISTORY);
  guint64 delivered = 0, last, covered;
  gboolean more = FALSE;
  guint64 flags = 0;

  if (mode == QUIPU_HISTORY_IF_DELIVERED)
    delivered = quipu_store_get_delivered (request->store, session->uid, NULL);
  last = room ? quipu_store_room_last_seq (request->store, room->name, NULL)
              : quipu_store_inbox_last_seq (request->store, session->uid, NULL);

  messages = limit > 0 ? quipu_store_fetch (request->store, room ? room->name : NULL, session->uid,
                                            direction, seq, limit, &more, &error)
                       : g_ptr_array_new ();
  if (messages == NULL)
    {
      quipu_session_log (session, G_LOG_LEVEL_WARNING, "store-error", "cannot read history: %s", error->message);
      quipu_request_error (request, QUIPU_PROTOCOL_ERROR_SERVER, "cannot read history", NULL);
      return;
    }

  for (guint i = 0; i < messages->len; i++)
    {
      QuipuStoredMessage *msg = g_ptr_array_index (messages, i);
      gboolean history = mode == QUIPU_HISTORY_ALWAYS ||
                         (mode == QUIPU_HISTORY_IF_DELIVERED && msg->seq <= delivered);
      g_autoptr(QuipuFrame) frame =
        frame_from_stored (msg, room ? room->name : NULL, history ? QUIPU_FLAG_HISTORY : 0);

      quipu_request_reply (request, frame, room ? 0 : msg->seq);
    }

  if (room != NULL)
    quipu_frame_set_string (end, QUIPU_FIELD_ROOM, room->name);
  else
    flags |= QUIPU_FLAG_INBOX;
  if (more)
    flags |= QUIPU_FLAG_MORE;
  quipu_frame_set_uint (end, QUIPU_FIELD_COUNT, messages->len);
  if (direction == QUIPU_FETCH_AFTER)
    {
      /* Everything up to `covered` that exists has now been sent. */
      covered = more ? ((QuipuStoredMessage *) g_ptr_array_index (messages, messages->len - 1))->seq
                     : MAX (last, seq);
      quipu_frame_set_uint (end, QUIPU_FIELD_AFTER_SEQ, seq);
    }
  else
    {
      covered = messages->len > 0 ? ((QuipuStoredMessage *) g_ptr_array_index (messages, 0))->seq
                                  : MIN (seq, last + 1);
      quipu_frame_set_uint (end, QUIPU_FIELD_BEFORE_SEQ, MIN (seq, (guint64) QUIPU_VARINT_MAX));
    }
  quipu_frame_set_uint (end, QUIPU_FIELD_SEQ, covered);
  if (flags != 0)
    quipu_frame_set_uint (end, QUIPU_FIELD_FLAGS, flags);
  quipu_request_reply (request, end, 0);
}

void
quipu_history_handle (QuipuRequest     *request,
                      const QuipuFrame *frame)
{
  gboolean before = quipu_frame_has (frame, QUIPU_FIELD_BEFORE_SEQ);
  gboolean after = quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ);
  guint limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, QUIPU_SERVER_MAX_PAGE)
                                                            : QUIPU_SERVER_DEFAULT_PAGE;
  QuipuRoom *room = NULL;

  if (before == after)
    {
      quipu_request_error (request, QUIPU_PROTOCOL_ERROR_BAD_REQUEST,
                           "HISTORY needs exactly one of before-seq and after-seq", frame);
      return;
    }
  if (frame->room != NULL &&
      (room = quipu_roster_joined_room (request->roster, request->session, frame->room)) == NULL)
    {
      quipu_request_error (request, QUIPU_PROTOCOL_ERROR_NOT_JOINED,
                           "join the room before reading its history", frame);
      return;
    }

  if (before)
    quipu_history_send_page (request, room, QUIPU_FETCH_BEFORE, MIN (frame->before_seq, (guint64) G_MAXINT64),
                             limit, QUIPU_HISTORY_ALWAYS);
  else
    quipu_history_send_page (request, room, QUIPU_FETCH_AFTER, frame->after_seq, MAX (limit, 1),
                             QUIPU_HISTORY_NEVER);
}
