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

/* Messages read from the store per step of a page: a few, so a step that
 * fills the window early wastes little. */
#define STEP_MESSAGES 8

/* A page on its way. Its bounds are fixed when it is asked for, so it is
 * the page of that moment however long the client takes to read it:
 * messages stored since then come as news behind it. */
typedef struct {
  QuipuStore          *store;      /* the server's, outlives its sessions' feeds */
  char                *room;       /* NULL: the session's inbox */
  gint64               uid;
  QuipuFetchDirection  direction;
  guint64              seq;        /* as asked for */
  guint64              last;       /* the room's or inbox's last seq when asked */
  QuipuHistoryMode     mode;
  guint64              delivered;  /* for QUIPU_HISTORY_IF_DELIVERED */
  guint64              cursor;     /* what is left has seq > cursor, */
  guint64              upper;      /* seq < upper, */
  guint                remaining;  /* and this many at most */
  gboolean             more;       /* beyond the page (QUIPU_FETCH_BEFORE: known from the start) */
  guint                count;      /* sent so far */
  guint64              first_seq;  /* of the first sent */
  gboolean             waited;     /* for the client at least once: counted as paced */
  QuipuServerStats    *stats;
} Page;

static void
page_free (gpointer data)
{
  Page *page = data;

  g_free (page->room);
  g_free (page);
}

static void
send_end (QuipuSession *session,
          Page         *page)
{
  g_autoptr(QuipuFrame) end = quipu_frame_new (QUIPU_FRAME_HISTORY);
  guint64 flags = 0, covered;

  if (page->room != NULL)
    quipu_frame_set_string (end, QUIPU_FIELD_ROOM, page->room);
  else
    flags |= QUIPU_FLAG_INBOX;
  if (page->more)
    flags |= QUIPU_FLAG_MORE;
  quipu_frame_set_uint (end, QUIPU_FIELD_COUNT, page->count);
  if (page->direction == QUIPU_FETCH_AFTER)
    {
      /* Everything up to `covered` that exists has now been sent. */
      covered = page->more ? page->cursor : MAX (page->last, page->seq);
      quipu_frame_set_uint (end, QUIPU_FIELD_AFTER_SEQ, page->seq);
    }
  else
    {
      covered = page->count > 0 ? page->first_seq : MIN (page->seq, page->last + 1);
      quipu_frame_set_uint (end, QUIPU_FIELD_BEFORE_SEQ, MIN (page->seq, (guint64) QUIPU_VARINT_MAX));
    }
  quipu_frame_set_uint (end, QUIPU_FIELD_SEQ, covered);
  if (flags != 0)
    quipu_frame_set_uint (end, QUIPU_FIELD_FLAGS, flags);
  quipu_session_feed_frame (session, end, 0);
}

/* The QuipuFeedFunc of a page: the next messages, then the HISTORY frame
 * that closes it. */
static gboolean
page_feed (QuipuSession *session,
           gpointer      data,
           gsize         budget)
{
  Page *page = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  gboolean store_more = FALSE;
  gboolean done = page->remaining == 0 && page->direction == QUIPU_FETCH_BEFORE;
  gsize sent = 0;

  if (!done)
    {
      /* One more than the page still takes tells whether it has more. */
      messages = quipu_store_fetch (page->store, page->room, page->uid, QUIPU_FETCH_AFTER, page->cursor,
                                    MIN (STEP_MESSAGES, page->remaining + 1), &store_more, &error);
      if (messages == NULL)
        {
          g_autoptr(QuipuFrame) frame =
            quipu_session_error_frame (QUIPU_PROTOCOL_ERROR_SERVER, "cannot read history", NULL);

          quipu_session_log (session, G_LOG_LEVEL_WARNING, "store-error", "cannot read history: %s",
                             error->message);
          quipu_session_feed_frame (session, frame, 0);
          return TRUE;
        }
      /* Fewer than asked for: the store has no more. */
      done = !store_more;
    }

  for (guint i = 0; messages != NULL && i < messages->len; i++)
    {
      QuipuStoredMessage *msg = g_ptr_array_index (messages, i);
      gboolean history = page->mode == QUIPU_HISTORY_ALWAYS ||
                         (page->mode == QUIPU_HISTORY_IF_DELIVERED && msg->seq <= page->delivered);
      g_autoptr(QuipuFrame) frame = NULL;
      gsize size;

      if (msg->seq >= page->upper)
        {
          /* Stored after the page was asked for. */
          done = TRUE;
          break;
        }
      if (page->remaining == 0)
        {
          if (page->direction == QUIPU_FETCH_AFTER)
            page->more = TRUE;
          done = TRUE;
          break;
        }
      if (sent >= budget)
        {
          page->waited = TRUE;
          return FALSE;
        }

      frame = frame_from_stored (msg, page->room, history ? QUIPU_FLAG_HISTORY : 0);
      if ((size = quipu_session_feed_frame (session, frame, page->room ? 0 : msg->seq)) == 0)
        return TRUE;
      sent += size;
      if (page->count++ == 0)
        page->first_seq = msg->seq;
      page->cursor = msg->seq;
      page->remaining--;
    }
  if (!done && page->direction == QUIPU_FETCH_BEFORE && page->remaining == 0)
    done = TRUE;
  if (!done)
    {
      if (sent >= budget)
        page->waited = TRUE;
      return FALSE;
    }

  if (page->waited)
    page->stats->history_paced++;
  send_end (session, page);
  return TRUE;
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
  Page *page = g_new0 (Page, 1);

  page->store = request->store;
  page->room = room ? g_strdup (room->name) : NULL;
  page->uid = session->uid;
  page->direction = direction;
  page->seq = seq;
  page->mode = mode;
  page->stats = quipu_limits_get_stats (request->limits);
  if (mode == QUIPU_HISTORY_IF_DELIVERED)
    page->delivered = quipu_store_get_delivered (request->store, session->uid, NULL);
  page->last = room ? quipu_store_room_last_seq (request->store, room->name, NULL)
                    : quipu_store_inbox_last_seq (request->store, session->uid, NULL);
  page->upper = page->last + 1;

  if (direction == QUIPU_FETCH_AFTER)
    {
      page->cursor = seq;
      page->remaining = limit;
    }
  else
    {
      guint64 floor_seq = 0;

      page->upper = MIN (page->upper, seq);
      if (limit > 0 &&
          !quipu_store_page_floor (request->store, page->room, page->uid, seq, limit, &floor_seq,
                                   &page->remaining, &page->more, &error))
        {
          quipu_session_log (session, G_LOG_LEVEL_WARNING, "store-error", "cannot read history: %s",
                             error->message);
          quipu_request_error (request, QUIPU_PROTOCOL_ERROR_SERVER, "cannot read history", NULL);
          page_free (page);
          return;
        }
      page->cursor = floor_seq > 0 ? floor_seq - 1 : 0;
    }

  quipu_session_send_feed (session, request->batch, page_feed, page, page_free);
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
