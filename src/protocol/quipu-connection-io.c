#define G_LOG_DOMAIN "quipu-connection"

#include "config.h"

#include "quipu-connection-internal.h"
#include "quipu-error.h"
#include "quipu-transport-error.h"

/* A peer that leaves this much queued and unacknowledged is not reading. */
#define MAX_BACKLOG            (8 * 1024 * 1024)

gboolean
quipu_connection_queue_bytes (QuipuConnection *conn,
                              GBytes          *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  if (conn->phase != CONN_ACTIVE)
    return FALSE;
  if (conn->send.queued - conn->send.acked > MAX_BACKLOG)
    return FALSE;

  quipu_send_buffer_append (&conn->send, data, size);
  _quipu_connection_mark_dirty (conn);
  return TRUE;
}

gboolean
quipu_connection_queue_frame (QuipuConnection  *conn,
                              const QuipuFrame *frame)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = quipu_frame_encode (frame, &error);

  if (bytes == NULL)
    {
      g_critical ("refusing to send an invalid %s frame: %s",
                  quipu_frame_type_to_string (frame->type), error->message);
      return FALSE;
    }
  return quipu_connection_queue_bytes (conn, bytes);
}

guint64
quipu_connection_get_queued_offset (QuipuConnection *conn)
{
  return conn->send.queued;
}

/* Hands decoded frames to the owner and returns flow-control credit for
 * what was consumed. Runs after ngtcp2_conn_read_pkt has returned. */
static void
deliver_frames (QuipuConnection *conn)
{
  gsize pos = 0;

  while (conn->phase == CONN_ACTIVE || conn->phase == CONN_LINGERING)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QuipuFrame) frame = NULL;
      QuipuDecodeResult result;
      gsize consumed = 0;

      result = quipu_frame_decode (conn->recv_buf->data + pos, conn->recv_buf->len - pos,
                                   &consumed, &frame, &error);
      if (result == QUIPU_DECODE_NEED_MORE)
        break;
      if (result == QUIPU_DECODE_ERROR)
        {
          g_prefix_error (&error, "malformed frame from %s: ", conn->peer);
          quipu_connection_fail (conn, g_steal_pointer (&error));
          break;
        }

      pos += consumed;
      if (result == QUIPU_DECODE_OK && conn->phase == CONN_ACTIVE &&
          conn->callbacks != NULL && conn->callbacks->frame != NULL)
        conn->callbacks->frame (conn, frame, conn->user_data);
    }

  if (pos > 0 && conn->phase != CONN_DEAD)
    {
      g_byte_array_remove_range (conn->recv_buf, 0, pos);
      ngtcp2_conn_extend_max_stream_offset (conn->conn, conn->stream_id, pos);
      ngtcp2_conn_extend_max_offset (conn->conn, pos);
    }
}

static void
after_read (QuipuConnection *conn, guint64 acked_before)
{
  if (conn->established && !conn->established_notified)
    {
      conn->established_notified = TRUE;
      if (!conn->is_server)
        {
          int rv = ngtcp2_conn_open_bidi_stream (conn->conn, &conn->stream_id, NULL);

          if (rv != 0)
            {
              quipu_connection_fail (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                                                        "%s allows no stream: %s", conn->peer,
                                                        ngtcp2_strerror (rv)));
              return;
            }
        }

      if (conn->phase == CONN_ACTIVE && conn->callbacks != NULL && conn->callbacks->established != NULL)
        conn->callbacks->established (conn, conn->user_data);
    }

  if (conn->recv_buf->len > 0)
    deliver_frames (conn);

  /* The frame stream lives as long as the connection: ending it, above all
   * in the middle of a frame, is a violation, not a way to say goodbye. */
  if ((conn->recv_failed || conn->recv_finished) && conn->phase == CONN_ACTIVE)
    {
      quipu_connection_fail (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                                                conn->recv_buf->len > 0
                                                ? "%s ended the frame stream in the middle of a frame"
                                                : "%s ended the frame stream", conn->peer));
      return;
    }

  /* A frame above may have ended the connection, and its owner with it:
   * an ACK that came in the same packet is nobody's news any more. */
  if (conn->send.acked != acked_before && !conn->closed_notified &&
      conn->callbacks != NULL && conn->callbacks->acked != NULL)
    conn->callbacks->acked (conn, conn->send.acked, conn->user_data);
}

void
quipu_connection_read_packet (QuipuConnection       *conn,
                              const struct sockaddr *remote,
                              socklen_t              remote_len,
                              const guint8          *data,
                              gsize                  len,
                              ngtcp2_tstamp          ts)
{
  ngtcp2_path path;
  guint64 acked_before = conn->send.acked;
  int rv;

  switch (conn->phase)
    {
    case CONN_CLOSING:
      /* The peer has not seen our CONNECTION_CLOSE yet. */
      _quipu_connection_send_packet (conn, &conn->path, conn->close_pkt, conn->close_pkt_len);
      return;
    case CONN_DRAINING:
    case CONN_DEAD:
      return;
    case CONN_ACTIVE:
    case CONN_LINGERING:
    default:
      break;
    }

  path.local = conn->path.local;
  path.remote.addr = (ngtcp2_sockaddr *) remote;
  path.remote.addrlen = remote_len;
  path.user_data = NULL;

  rv = ngtcp2_conn_read_pkt (conn->conn, &path, NULL, data, len, ts);
  if (rv != 0)
    {
      switch (rv)
        {
        case NGTCP2_ERR_DRAINING:
          _quipu_connection_set_error (conn, quipu_transport_error_from_close (ngtcp2_conn_get_ccerr (conn->conn),
                                                                              conn->peer, conn->is_server));
          conn->phase = CONN_DRAINING;
          conn->deadline_us = g_get_monotonic_time () + 3 * ngtcp2_conn_get_pto (conn->conn) / 1000;
          _quipu_connection_mark_dirty (conn);
          _quipu_connection_notify_closed (conn);
          break;
        case NGTCP2_ERR_DROP_CONN:
          _quipu_connection_set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                                                          "connection with %s dropped", conn->peer));
          _quipu_connection_enter_dead (conn);
          break;
        case NGTCP2_ERR_CRYPTO:
          _quipu_connection_set_error (conn, quipu_transport_error_from_tls_alert (ngtcp2_conn_get_tls_alert (conn->conn),
                                                                                  conn->peer, conn->is_server, FALSE));
          _quipu_connection_close_with_liberr (conn, rv, ts);
          break;
        default:
          _quipu_connection_close_with_liberr (conn, rv, ts);
          break;
        }
      return;
    }

  _quipu_connection_release_tls (conn);
  quipu_connection_ref (conn);
  after_read (conn, acked_before);
  _quipu_connection_mark_dirty (conn);
  quipu_connection_unref (conn);
}

/* Writes what ngtcp2 has to send, queued stream data coalesced into full
 * packets; FALSE if that ended the connection. */
static gboolean
write_stream_packets (QuipuConnection *conn,
                      ngtcp2_tstamp    ts)
{
  guint8 buf[QUIPU_MAX_PACKET];
  gboolean stream_blocked = FALSE;

  for (;;)
    {
      ngtcp2_vec vecs[16];
      gsize n_vecs = 0;
      int64_t stream_id = -1;
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_NONE;
      ngtcp2_ssize n_data = -1;
      ngtcp2_ssize n_write;
      ngtcp2_path_storage ps;
      ngtcp2_pkt_info pi;

      if (conn->stream_id >= 0 && !stream_blocked)
        n_vecs = quipu_send_buffer_peek_unsent (&conn->send, vecs, G_N_ELEMENTS (vecs));
      if (n_vecs > 0)
        {
          stream_id = conn->stream_id;
          flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        }

      ngtcp2_path_storage_zero (&ps);
      n_write = ngtcp2_conn_writev_stream (conn->conn, &ps.path, &pi, buf, sizeof buf, &n_data,
                                           flags, stream_id, vecs, n_vecs, ts);
      if (n_write < 0)
        {
          switch (n_write)
            {
            case NGTCP2_ERR_WRITE_MORE:
              quipu_send_buffer_mark_sent (&conn->send, n_data);
              continue;
            case NGTCP2_ERR_STREAM_DATA_BLOCKED:
            case NGTCP2_ERR_STREAM_SHUT_WR:
            case NGTCP2_ERR_STREAM_NOT_FOUND:
              stream_blocked = TRUE;
              continue;
            default:
              _quipu_connection_close_with_liberr (conn, (int) n_write, ts);
              return FALSE;
            }
        }

      if (n_data > 0)
        quipu_send_buffer_mark_sent (&conn->send, n_data);
      if (n_write == 0)
        break;
      if (!_quipu_connection_send_packet (conn, &ps.path, buf, n_write))
        break;
    }

  ngtcp2_conn_update_pkt_tx_time (conn->conn, ts);
  return TRUE;
}

/* ngtcp2 holds an ACK back for a while (max_ack_delay, or an eighth of the
 * round trip if less), and a CONNECTION_CLOSE carries none: closing before
 * its timer would leave the peer unsure of what arrived last (the server
 * counts an inbox message delivered by its ACK). Any timer of ngtcp2's this
 * close is waited for; the linger deadline still bounds the wait. */
static gboolean
ack_held_back (QuipuConnection *conn,
               ngtcp2_tstamp    ts)
{
  ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry (conn->conn);

  return expiry != UINT64_MAX && expiry <= ts + NGTCP2_DEFAULT_MAX_ACK_DELAY;
}

void
quipu_connection_write_packets (QuipuConnection *conn,
                                ngtcp2_tstamp    ts)
{
  if (conn->phase == CONN_LINGERING &&
      (!conn->established || g_get_monotonic_time () >= conn->deadline_us))
    {
      _quipu_connection_send_app_close (conn, ts);
      return;
    }
  if (conn->phase != CONN_ACTIVE && conn->phase != CONN_LINGERING)
    return;

  if (!write_stream_packets (conn, ts))
    return;
  if (conn->phase == CONN_LINGERING && conn->send.acked == conn->send.queued && !ack_held_back (conn, ts))
    _quipu_connection_send_app_close (conn, ts);
}

void
quipu_connection_handle_expiry (QuipuConnection *conn,
                                ngtcp2_tstamp    ts)
{
  gint64 now = g_get_monotonic_time ();
  int rv;

  switch (conn->phase)
    {
    case CONN_CLOSING:
    case CONN_DRAINING:
      if (now >= conn->deadline_us)
        _quipu_connection_enter_dead (conn);
      return;
    case CONN_DEAD:
      return;
    case CONN_LINGERING:
      if (now >= conn->deadline_us)
        {
          _quipu_connection_send_app_close (conn, ts);
          return;
        }
      break;
    case CONN_ACTIVE:
    default:
      break;
    }

  if (ngtcp2_conn_get_expiry (conn->conn) > ts)
    return;

  rv = ngtcp2_conn_handle_expiry (conn->conn, ts);
  switch (rv)
    {
    case 0:
      _quipu_connection_mark_dirty (conn);
      break;
    case NGTCP2_ERR_IDLE_CLOSE:
      _quipu_connection_set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TIMED_OUT,
                                                      "connection with %s timed out", conn->peer));
      _quipu_connection_enter_dead (conn);
      break;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      _quipu_connection_set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                                      "no answer from %s", conn->peer));
      _quipu_connection_enter_dead (conn);
      break;
    default:
      _quipu_connection_close_with_liberr (conn, rv, ts);
      break;
    }
}

gint64
quipu_connection_get_expiry (QuipuConnection *conn)
{
  ngtcp2_tstamp expiry;
  gint64 wake;

  switch (conn->phase)
    {
    case CONN_DEAD:
      return 0;
    case CONN_CLOSING:
    case CONN_DRAINING:
      return conn->deadline_us;
    case CONN_ACTIVE:
    case CONN_LINGERING:
    default:
      break;
    }

  expiry = ngtcp2_conn_get_expiry (conn->conn);
  /* ngtcp2 counts nanoseconds, GLib microseconds: round up so the timer never
   * fires before the expiry and spins. */
  wake = expiry == UINT64_MAX ? G_MAXINT64 : (gint64) ((expiry + 999) / 1000);
  if (conn->phase == CONN_LINGERING)
    wake = MIN (wake, conn->deadline_us);
  return wake;
}
