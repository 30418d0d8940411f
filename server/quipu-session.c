#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <stdarg.h>

#include "quipu-error.h"
#include "quipu-event.h"
#include "quipu-limits.h"
#include "quipu-session.h"

/* How long a closing connection waits for its last frames to be acknowledged. */
#define LINGER_MS 1000

/* Stream offset after which an inbox message has reached the client. */
typedef struct {
  guint64 end_offset;
  guint64 seq;
} InboxMark;

/* A feed as the batch and the held queue pass it on. */
typedef struct {
  QuipuFeedFunc  func;
  gpointer       data;
  GDestroyNotify destroy;
} Feed;

static void
feed_clear (gpointer data)
{
  Feed *feed = data;

  if (feed->destroy != NULL)
    feed->destroy (feed->data);
}

static void
feed_unref (gpointer feed)
{
  g_rc_box_release_full (feed, feed_clear);
}

/* What waits behind a feed: bytes, another feed, or (both NULL) a close. */
typedef struct {
  GBytes  *bytes;
  guint64  inbox_seq;
  Feed    *feed;
  guint64  close_code;
  char    *close_reason;
} Held;

static void
held_free (gpointer data)
{
  Held *held = data;

  g_clear_pointer (&held->bytes, g_bytes_unref);
  g_clear_pointer (&held->feed, feed_unref);
  g_free (held->close_reason);
  g_free (held);
}

static void
session_clear (gpointer data)
{
  QuipuSession *session = data;

  quipu_budget_remove (quipu_limits_get_budget (session->limits), &session->budget);
  g_queue_clear_full (&session->held, held_free);
  g_queue_clear_full (&session->marks, g_free);
  g_ptr_array_unref (session->rooms);
  quipu_connection_unref (session->conn);
  g_free (session->username);
  g_free (session->user_id);
  g_free (session->address);
}

QuipuSession *
quipu_session_new (QuipuConnection *conn,
                   QuipuLimits     *limits)
{
  QuipuSession *session = g_rc_box_new0 (QuipuSession);

  session->limits = limits;
  session->budget.owner = session;
  session->conn = quipu_connection_ref (conn);
  session->address = quipu_limits_address_of (quipu_connection_get_peer (conn));
  session->rooms = g_ptr_array_new ();
  g_queue_init (&session->marks);
  g_queue_init (&session->held);
  return session;
}

QuipuSession *
quipu_session_ref (QuipuSession *session)
{
  return g_rc_box_acquire (session);
}

void
quipu_session_unref (QuipuSession *session)
{
  g_rc_box_release_full (session, session_clear);
}

void
quipu_session_log (QuipuSession   *session,
                   GLogLevelFlags  level,
                   const char     *event,
                   const char     *format,
                   ...)
{
  g_autofree char *message = NULL;
  guint dropped = session->log_dropped;
  va_list args;

  if (!quipu_limits_take_log_line (session->limits, &session->log_lines, &session->log_dropped))
    return;
  session->log_dropped = 0;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (dropped > 0)
    quipu_log_event (level, event, quipu_connection_get_peer (session->conn), session->username,
                     "%s (%u lines about this connection held back before this one)", message, dropped);
  else
    quipu_log_event (level, event, quipu_connection_get_peer (session->conn), session->username,
                     "%s", message);
}

static guint64
unacked (QuipuSession *session)
{
  guint64 queued = quipu_connection_get_queued_offset (session->conn);

  return queued - MIN (queued, session->acked_offset);
}

/* max-queued-per-connection-kib, in bytes. */
static guint64
max_behind (QuipuSession *session)
{
  guint kib = quipu_limits_get_config (session->limits)->max_queued_per_connection_kib;

  return kib > 0 ? MIN ((guint64) kib * 1024, QUIPU_SESSION_MAX_BEHIND) : QUIPU_SESSION_MAX_BEHIND;
}

static guint64
feed_window (QuipuSession *session)
{
  return MIN (QUIPU_SESSION_FEED_WINDOW, max_behind (session) / 2);
}

/* Its share of the server's budget: what waits for the client, on the
 * stream or held; nothing once the connection is going. */
static void
account (QuipuSession *session,
         gboolean      progressed)
{
  QuipuBudget *budget = quipu_limits_get_budget (session->limits);

  if (session->closed || quipu_connection_is_closing (session->conn))
    quipu_budget_remove (budget, &session->budget);
  else
    quipu_budget_update (budget, &session->budget, unacked (session) + session->held_bytes, progressed);
}

static void
close_slow_client (QuipuSession *session)
{
  if (quipu_connection_is_closing (session->conn))
    return;
  /* A client that stops reading must not hold the server's memory. */
  quipu_limits_get_stats (session->limits)->slow_clients++;
  quipu_session_log (session, G_LOG_LEVEL_WARNING, "slow-client",
                     "closing the connection of %s from %s: it stopped reading",
                     session->username ? session->username : "?",
                     quipu_connection_get_peer (session->conn));
  quipu_connection_close (session->conn, QUIPU_PROTOCOL_ERROR_RATE_LIMITED, "too far behind", 0);
  account (session, FALSE);
}

/* The slowest reader of all, while all of them together hold more than
 * max-queued-kib. What it held is freed with its connection, moments later;
 * it leaves the count now, so the next slowest is the next in line. */
static void
close_over_budget (QuipuSession *session)
{
  QuipuLimits *limits = session->limits;
  guint64 bytes = session->budget.bytes;

  quipu_budget_remove (quipu_limits_get_budget (limits), &session->budget);
  if (quipu_connection_is_closing (session->conn))
    return;
  quipu_limits_get_stats (limits)->budget_closes++;
  quipu_session_log (session, G_LOG_LEVEL_WARNING, "over-budget",
                     "closing the connection of %s from %s: the slowest reader, %" G_GUINT64_FORMAT
                     " bytes behind, while all clients together are past max-queued-kib %u",
                     session->username ? session->username : "?", quipu_connection_get_peer (session->conn),
                     bytes, quipu_limits_get_config (limits)->max_queued_kib);
  quipu_connection_close (session->conn, QUIPU_PROTOCOL_ERROR_RATE_LIMITED, "too far behind", 0);
}

/* Only ever the one holding the most goes: a reader that keeps up is never
 * closed while a slower one is there. */
static void
enforce_budget (QuipuLimits *limits)
{
  QuipuBudget *budget = quipu_limits_get_budget (limits);
  guint64 max = (guint64) quipu_limits_get_config (limits)->max_queued_kib * 1024;
  QuipuBudgetEntry *largest;

  while (max > 0 && quipu_budget_get_total (budget) > max &&
         (largest = quipu_budget_peek_largest (budget)) != NULL)
    close_over_budget (largest->owner);
}

static gboolean
queue_now (QuipuSession *session,
           GBytes       *bytes,
           guint64       inbox_seq)
{
  if (unacked (session) > max_behind (session) || !quipu_connection_queue_bytes (session->conn, bytes))
    {
      close_slow_client (session);
      return FALSE;
    }
  account (session, FALSE);

  if (inbox_seq > 0)
    {
      InboxMark *mark = g_new (InboxMark, 1);

      mark->end_offset = quipu_connection_get_queued_offset (session->conn);
      mark->seq = inbox_seq;
      g_queue_push_tail (&session->marks, mark);
    }
  /* Last: it may close this very session. */
  enforce_budget (session->limits);
  return !quipu_connection_is_closing (session->conn);
}

static void
set_held_bytes (QuipuSession *session,
                gsize         held_bytes)
{
  QuipuServerStats *stats = quipu_limits_get_stats (session->limits);

  stats->held_bytes = stats->held_bytes - session->held_bytes + held_bytes;
  session->held_bytes = held_bytes;
  account (session, FALSE);
}

static void
drop_held (QuipuSession *session)
{
  g_queue_clear_full (&session->held, held_free);
  set_held_bytes (session, 0);
}

/* Sends what the held queue allows: bytes and closes at once, a feed while
 * less than QUIPU_SESSION_FEED_WINDOW of the stream is unacknowledged. */
static void
pump_held (QuipuSession *session)
{
  Held *held;

  while ((held = g_queue_peek_head (&session->held)) != NULL)
    {
      if (session->closed || quipu_connection_is_closing (session->conn))
        {
          drop_held (session);
          return;
        }

      if (held->feed != NULL)
        {
          guint64 pending = unacked (session);

          if (pending >= feed_window (session))
            return;   /* on_acked() calls again */
          if (!held->feed->func (session, held->feed->data, feed_window (session) - pending))
            continue;
        }
      else if (held->bytes != NULL)
        {
          set_held_bytes (session, session->held_bytes - g_bytes_get_size (held->bytes));
          queue_now (session, held->bytes, held->inbox_seq);
        }
      else
        quipu_connection_close (session->conn, held->close_code, held->close_reason, LINGER_MS);
      /* Unless the connection went meanwhile, taking the queue with it. */
      if (g_queue_peek_head (&session->held) == held)
        held_free (g_queue_pop_head (&session->held));
    }
}

static void
pump (QuipuSession *session)
{
  /* A close in there may drop the server's reference. */
  quipu_session_ref (session);
  pump_held (session);
  quipu_session_unref (session);
}

static void
hold (QuipuSession *session,
      Held         *held)
{
  gsize size = held->bytes ? g_bytes_get_size (held->bytes) : 0;

  /* Behind a feed is still queued for the client: the same limit. */
  if (size > 0 && unacked (session) + session->held_bytes + size > max_behind (session))
    {
      held_free (held);
      drop_held (session);
      close_slow_client (session);
      return;
    }
  g_queue_push_tail (&session->held, held);
  set_held_bytes (session, session->held_bytes + size);
  if (session->held.length == 1)
    pump (session);
  else if (size > 0)
    enforce_budget (session->limits);
}

static void
deliver (QuipuSession *session,
         GBytes       *bytes,
         guint64       inbox_seq)
{
  Held *held;

  if (session->closed)
    return;
  if (session->held.length == 0)
    {
      queue_now (session, bytes, inbox_seq);
      return;
    }
  held = g_new0 (Held, 1);
  held->bytes = g_bytes_ref (bytes);
  held->inbox_seq = inbox_seq;
  hold (session, held);
}

void
quipu_session_deliver (QuipuSession *session,
                       GBytes       *bytes,
                       guint64       inbox_seq)
{
  /* Last words: a page still on its way will not be finished. */
  drop_held (session);
  if (!session->closed)
    queue_now (session, bytes, inbox_seq);
}

static void
deliver_feed (QuipuSession *session,
              Feed         *feed)
{
  Held *held;

  if (session->closed)
    return;
  held = g_new0 (Held, 1);
  held->feed = g_rc_box_acquire (feed);
  hold (session, held);
}

/* A close comes after everything sent before it, feeds included. */
static void
close_after (QuipuSession *session,
             guint64       code,
             const char   *reason)
{
  Held *held;

  if (session->held.length == 0)
    {
      quipu_connection_close (session->conn, code, reason, LINGER_MS);
      return;
    }
  held = g_new0 (Held, 1);
  held->close_code = code;
  held->close_reason = g_strdup (reason);
  hold (session, held);
}

void
quipu_session_mark_closed (QuipuSession *session)
{
  session->closed = TRUE;
  drop_held (session);
  account (session, FALSE);
}

void
quipu_session_send_feed (QuipuSession   *session,
                         QuipuBatch     *batch,
                         QuipuFeedFunc   func,
                         gpointer        data,
                         GDestroyNotify  destroy)
{
  Feed *feed = g_rc_box_new0 (Feed);

  feed->func = func;
  feed->data = data;
  feed->destroy = destroy;
  if (batch != NULL && quipu_batch_is_open (batch))
    quipu_batch_queue_feed (batch, quipu_session_ref (session), feed, feed_unref);
  else
    {
      deliver_feed (session, feed);
      feed_unref (feed);
    }
}

/* NULL (and a critical: a server bug) when the frame breaks the rules. */
static GBytes *
encode (const QuipuFrame *frame)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = quipu_frame_encode (frame, &error);

  if (bytes == NULL)
    g_critical ("cannot encode %s: %s", quipu_frame_type_to_string (frame->type), error->message);
  return bytes;
}

gsize
quipu_session_feed_frame (QuipuSession     *session,
                          const QuipuFrame *frame,
                          guint64           inbox_seq)
{
  g_autoptr(GBytes) bytes = encode (frame);

  if (bytes == NULL)
    return 0;
  if (session->closed || !queue_now (session, bytes, inbox_seq))
    return 0;
  return g_bytes_get_size (bytes);
}

void
quipu_session_send (QuipuSession *session,
                    QuipuBatch   *batch,
                    GBytes       *bytes,
                    guint64       inbox_seq)
{
  if (session->closed)
    return;
  if (batch != NULL && quipu_batch_is_open (batch))
    quipu_batch_queue (batch, quipu_session_ref (session), bytes, inbox_seq, 0, NULL);
  else
    deliver (session, bytes, inbox_seq);
}

void
quipu_session_close (QuipuSession *session,
                     QuipuBatch   *batch,
                     guint64       code,
                     const char   *reason)
{
  if (batch != NULL && quipu_batch_is_open (batch))
    quipu_batch_queue (batch, quipu_session_ref (session), NULL, 0, code, reason);
  else
    close_after (session, code, reason);
}

void
quipu_session_send_written (QuipuSession   *session,
                            QuipuBatch     *batch,
                            GBytes         *bytes,
                            guint64         inbox_seq,
                            QuipuOnFailure  on_failure,
                            GBytes         *fallback)
{
  if (session->closed)
    return;
  if (batch != NULL && quipu_batch_is_open (batch))
    quipu_batch_queue_written (batch, quipu_session_ref (session), bytes, inbox_seq, on_failure, fallback);
  else
    deliver (session, bytes, inbox_seq);
}

/* After a failed commit only what rests on the batch's writes is held back:
 * readers in the same batch keep their connection and get what does not
 * depend on it (history, presence), a writer gets an ERROR per refused
 * message and resends it, and nothing unstored is acknowledged. */
void
quipu_session_release_outgoing (const QuipuOutgoing *out,
                                gboolean             durable)
{
  QuipuSession *session = out->target;
  QuipuOnFailure on_failure = durable ? QUIPU_ON_FAILURE_SEND : out->on_failure;

  switch (on_failure)
    {
    case QUIPU_ON_FAILURE_SEND:
      if (out->feed != NULL)
        deliver_feed (session, out->feed);
      else if (out->bytes == NULL)
        close_after (session, out->close_code, out->close_reason);
      else
        deliver (session, out->bytes, out->inbox_seq);
      break;
    case QUIPU_ON_FAILURE_DROP:
      break;
    case QUIPU_ON_FAILURE_REPLACE:
      deliver (session, out->fallback, 0);
      break;
    case QUIPU_ON_FAILURE_CLOSE:
      if (!session->closed && !quipu_connection_is_closing (session->conn))
        quipu_connection_close (session->conn, QUIPU_PROTOCOL_ERROR_SERVER,
                                "the server could not store your login", 0);
      break;
    default:
      g_assert_not_reached ();
    }
}

void
quipu_session_send_frame (QuipuSession     *session,
                          QuipuBatch       *batch,
                          const QuipuFrame *frame,
                          guint64           inbox_seq)
{
  g_autoptr(GBytes) bytes = encode (frame);

  if (bytes != NULL)
    quipu_session_send (session, batch, bytes, inbox_seq);
}

QuipuFrame *
quipu_session_error_frame (QuipuProtocolError  code,
                           const char         *text,
                           const QuipuFrame   *about)
{
  QuipuFrame *frame = quipu_frame_new (QUIPU_FRAME_ERROR);

  quipu_frame_set_uint (frame, QUIPU_FIELD_CODE, code);
  quipu_frame_set_string (frame, QUIPU_FIELD_TEXT, text);
  if (about != NULL && quipu_frame_has (about, QUIPU_FIELD_CLIENT_MSG_ID))
    quipu_frame_set_uint (frame, QUIPU_FIELD_CLIENT_MSG_ID, about->client_msg_id);
  if (about != NULL && about->room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, about->room);
  return frame;
}

void
quipu_session_send_error (QuipuSession       *session,
                          QuipuBatch         *batch,
                          QuipuProtocolError  code,
                          const char         *text,
                          const QuipuFrame   *about)
{
  g_autoptr(QuipuFrame) frame = quipu_session_error_frame (code, text, about);

  quipu_session_send_frame (session, batch, frame, 0);
}

/* The close carries the same code and text as the ERROR, so the client
 * learns why even if the ERROR frame is lost. */
void
quipu_session_refuse (QuipuSession       *session,
                      QuipuBatch         *batch,
                      QuipuProtocolError  code,
                      const char         *text)
{
  quipu_session_send_error (session, batch, code, text, NULL);
  session->refused = TRUE;
  quipu_session_close (session, batch, code, text);
}

void
quipu_session_violation (QuipuSession *session,
                         const char   *format,
                         ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  quipu_session_log (session, G_LOG_LEVEL_WARNING, "protocol-violation", "protocol violation from %s: %s",
                     quipu_connection_get_peer (session->conn), text);
  session->refused = TRUE;
  quipu_connection_fail (session->conn, g_error_new_literal (QUIPU_PROTOCOL_ERROR,
                                                             QUIPU_PROTOCOL_ERROR_PROTOCOL, text));
}

static gboolean
login_deadline_cb (gpointer data)
{
  QuipuSession *session = data;

  session->login_deadline_id = 0;
  if (session->uid != 0 || session->closed || quipu_connection_is_closing (session->conn))
    return G_SOURCE_REMOVE;
  /* A handshake costs the server memory; one that never logs in must not
   * hold it until the idle timeout, which keep-alives would push back. */
  quipu_limits_get_stats (session->limits)->login_timeouts++;
  quipu_session_log (session, G_LOG_LEVEL_INFO, "login-timeout", "closing the connection from %s: no login in time",
                     quipu_connection_get_peer (session->conn));
  session->refused = TRUE;
  quipu_connection_close (session->conn, QUIPU_PROTOCOL_ERROR_PROTOCOL, "no CONNECT in time after the handshake", 0);
  return G_SOURCE_REMOVE;
}

void
quipu_session_start_deadline (QuipuSession *session,
                              guint         seconds)
{
  g_return_if_fail (session->login_deadline_id == 0);
  if (seconds > 0)
    session->login_deadline_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, seconds, login_deadline_cb,
                                                             quipu_session_ref (session),
                                                             (GDestroyNotify) quipu_session_unref);
}

void
quipu_session_stop_deadline (QuipuSession *session)
{
  g_clear_handle_id (&session->login_deadline_id, g_source_remove);
}

guint64
quipu_session_acked (QuipuSession *session,
                     guint64       offset)
{
  guint64 delivered = session->delivered;
  InboxMark *mark;

  if (offset > session->acked_offset)
    {
      session->acked_offset = offset;
      account (session, TRUE);
    }
  pump (session);
  while ((mark = g_queue_peek_head (&session->marks)) != NULL && mark->end_offset <= offset)
    {
      delivered = MAX (delivered, mark->seq);
      g_free (g_queue_pop_head (&session->marks));
    }
  return delivered;
}
