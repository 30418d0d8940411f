#define G_LOG_DOMAIN "quipu-connection"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "quipu-address.h"
#include "quipu-connection-private.h"
#include "quipu-error.h"
#include "quipu-send-buffer.h"
#include "quipu-signing.h"
#include "quipu-transport-error.h"

/* Receive windows. The server reads small frames from each client; a client
 * may be sent a burst of history on login. */
#define SERVER_STREAM_WINDOW   (256 * 1024)
#define SERVER_CONN_WINDOW     (1024 * 1024)
#define CLIENT_STREAM_WINDOW   (2 * 1024 * 1024)
#define CLIENT_CONN_WINDOW     (4 * 1024 * 1024)
#define HANDSHAKE_TIMEOUT      (10 * NGTCP2_SECONDS)
/* A client acknowledges every this many packets (ngtcp2's default is 2),
 * or after max_ack_delay: on a busy server, reading one ACK per two
 * deliveries from every receiver cost as much as the deliveries. A gap in
 * the packet numbers (a loss) is still acknowledged at once. */
#define CLIENT_ACK_THRESH      10
/* A peer that leaves this much queued and unacknowledged is not reading. */
#define MAX_BACKLOG            (8 * 1024 * 1024)

typedef enum {
  CONN_ACTIVE,     /* handshaking or established */
  CONN_LINGERING,  /* close asked: flushing queued data before CONNECTION_CLOSE */
  CONN_CLOSING,    /* CONNECTION_CLOSE sent; answering stray packets with it */
  CONN_DRAINING,   /* the peer closed; silent until the drain period ends */
  CONN_DEAD,       /* to be dropped by the endpoint */
} ConnPhase;

/* Allocated with g_rc_box: the endpoint holds one ref while the connection
 * is on its socket, the owner of the session above another. */
struct _QuipuConnection {
  const QuipuConnectionSink *sink;    /* NULL once the endpoint is gone */
  gpointer            sink_data;
  gboolean            is_server;
  ConnPhase           phase;
  guint               idle_timeout_ms;

  ngtcp2_conn        *conn;
  gnutls_session_t    tls;            /* NULL on a server once established */
  guint8              login_exporter[QUIPU_LOGIN_EXPORTER_LEN];  /* kept when tls goes */
  /* Client: the TLS message being read after the handshake. */
  guint8              post_hs_header[4];
  guint               post_hs_header_len;
  guint32             post_hs_body_left;
  ngtcp2_crypto_conn_ref conn_ref;
  struct sockaddr_storage local_addr;
  struct sockaddr_storage remote_addr;
  ngtcp2_path         path;
  char               *peer;

  const QuipuConnectionCallbacks *callbacks;
  gpointer            user_data;
  gboolean            closed_notified;
  gboolean            established;
  gboolean            established_notified;
  GError             *error;          /* why it ended, when it was not us */

  /* Stream 0, which carries every frame. */
  gint64              stream_id;
  QuipuSendBuffer     send;
  GByteArray         *recv_buf;
  gboolean            recv_failed;
  gboolean            recv_finished;  /* the peer sent FIN on stream 0 */

  guint64             close_error;
  char               *close_reason;
  gint64              deadline_us;    /* linger or drain end, 0 if none */
  guint8             *close_pkt;
  gsize               close_pkt_len;

  /* Client trust. */
  QuipuTrustStore    *trust_store;
  gboolean            refuse_unknown;
  char               *hostname;
  char               *host_port;
  char               *pinned;
  char               *peer_fingerprint;
  QuipuTrustVia       trust_via;
};

static const gnutls_datum_t alpn = { (unsigned char *) QUIPU_ALPN, sizeof QUIPU_ALPN - 1 };

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref *ref)
{
  QuipuConnection *conn = ref->user_data;

  return conn->conn;
}

static void quic_log (void *user_data, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
quic_log (void *user_data, const char *format, ...)
{
  va_list args;
  g_autofree char *line = NULL;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("ngtcp2: %s", line);
}

/* The sink, re-read at every use: a callback may have freed the endpoint. */

static void
mark_dirty (QuipuConnection *conn)
{
  if (conn->sink != NULL)
    conn->sink->mark_dirty (conn->sink_data);
}

static gboolean
send_packet (QuipuConnection *conn, const ngtcp2_path *path, const guint8 *data, gsize len)
{
  return conn->sink != NULL && conn->sink->send_packet (conn->sink_data, path, data, len);
}

static void
notify_closed (QuipuConnection *conn)
{
  if (conn->closed_notified)
    return;
  conn->closed_notified = TRUE;
  if (conn->callbacks != NULL && conn->callbacks->closed != NULL)
    {
      /* The owner may drop its ref and free the endpoint (and with it the
       * endpoint's ref) in there: `error` must outlive the call. This is
       * always the last thing its callers do with the connection. */
      QuipuConnection *alive = quipu_connection_ref (conn);

      conn->callbacks->closed (conn, conn->error, conn->user_data);
      quipu_connection_unref (alive);
    }
}

static void
set_error (QuipuConnection *conn, GError *error)
{
  if (conn->error == NULL)
    conn->error = error;
  else
    g_error_free (error);
}

static void
enter_dead (QuipuConnection *conn)
{
  conn->phase = CONN_DEAD;
  mark_dirty (conn);
  notify_closed (conn);
}

/* Writes CONNECTION_CLOSE and keeps it to answer stray packets during the
 * closing period (RFC 9000 §10.2.1). */
static void
send_close (QuipuConnection *conn, const ngtcp2_ccerr *ccerr, ngtcp2_tstamp ts)
{
  guint8 buf[QUIPU_MAX_PACKET];
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi;
  ngtcp2_ssize nwrite;

  ngtcp2_path_storage_zero (&ps);
  nwrite = ngtcp2_conn_write_connection_close (conn->conn, &ps.path, &pi, buf, sizeof buf, ccerr, ts);
  if (nwrite <= 0)
    {
      enter_dead (conn);
      return;
    }

  conn->close_pkt = g_memdup2 (buf, nwrite);
  conn->close_pkt_len = nwrite;
  send_packet (conn, &ps.path, buf, nwrite);

  conn->phase = CONN_CLOSING;
  conn->deadline_us = g_get_monotonic_time () + 3 * ngtcp2_conn_get_pto (conn->conn) / 1000;
  mark_dirty (conn);
  notify_closed (conn);
}

static void
send_app_close (QuipuConnection *conn, ngtcp2_tstamp ts)
{
  ngtcp2_ccerr ccerr;
  gsize reason_len = conn->close_reason ? strlen (conn->close_reason) : 0;

  ngtcp2_ccerr_set_application_error (&ccerr, conn->close_error,
                                      (const uint8_t *) conn->close_reason, reason_len);
  send_close (conn, &ccerr, ts);
}

/* A fatal ngtcp2 error: the one place it becomes a GError, then a close
 * with the matching transport error. */
static void
close_with_liberr (QuipuConnection *conn, int liberr, ngtcp2_tstamp ts)
{
  ngtcp2_ccerr ccerr;

  set_error (conn, quipu_transport_error_from_liberr (liberr, conn->peer));

  ngtcp2_ccerr_default (&ccerr);
  /* A failed handshake tells the peer which TLS alert ended it. */
  if (liberr == NGTCP2_ERR_CRYPTO)
    ngtcp2_ccerr_set_tls_alert (&ccerr, ngtcp2_conn_get_tls_alert (conn->conn), NULL, 0);
  else
    ngtcp2_ccerr_set_liberr (&ccerr, liberr, NULL, 0);
  send_close (conn, &ccerr, ts);
}

static int
on_handshake_completed (ngtcp2_conn *c, void *user_data)
{
  QuipuConnection *conn = user_data;

  conn->established = TRUE;
  return 0;
}

/* Client: whether the server's messages after the handshake, read so far,
 * are all NewSessionTicket, the only kind QUIC allows there. Anything else,
 * a KeyUpdate above all (forbidden, RFC 9001 §6), would have GnuTLS hand
 * ngtcp2 keys it already has, which aborts the process. */
static gboolean
post_handshake_allowed (QuipuConnection *conn,
                        const guint8    *data,
                        gsize            len)
{
  while (len > 0)
    {
      gsize take;

      if (conn->post_hs_body_left > 0)
        {
          take = MIN (conn->post_hs_body_left, len);
          conn->post_hs_body_left -= take;
        }
      else
        {
          take = MIN (sizeof conn->post_hs_header - conn->post_hs_header_len, len);
          memcpy (conn->post_hs_header + conn->post_hs_header_len, data, take);
          conn->post_hs_header_len += take;
          if (conn->post_hs_header_len == sizeof conn->post_hs_header)
            {
              if (conn->post_hs_header[0] != GNUTLS_HANDSHAKE_NEW_SESSION_TICKET)
                return FALSE;
              conn->post_hs_body_left = (guint32) conn->post_hs_header[1] << 16 |
                                        (guint32) conn->post_hs_header[2] << 8 |
                                        conn->post_hs_header[3];
              conn->post_hs_header_len = 0;
            }
        }
      data += take;
      len -= take;
    }
  return TRUE;
}

/* CRYPTO data after the handshake (1-RTT) is a post-handshake TLS message.
 * A QUIC client has none to send (no KeyUpdate, RFC 9001 §6; no
 * post-handshake authentication, §4.4), and a server has released its
 * session by then (release_tls) or is about to: refused at once, even in
 * the packet that completed the handshake. A client reads only tickets.
 * Refused as GnuTLS refuses a message it does not expect. */
static int
on_recv_crypto_data (ngtcp2_conn *c, ngtcp2_encryption_level level, uint64_t offset,
                     const uint8_t *data, size_t datalen, void *user_data)
{
  QuipuConnection *conn = user_data;
  gboolean allowed = TRUE;

  if (level == NGTCP2_ENCRYPTION_LEVEL_1RTT)
    allowed = !conn->is_server && conn->tls != NULL && post_handshake_allowed (conn, data, datalen);
  if (allowed)
    return ngtcp2_crypto_recv_crypto_data_cb (c, level, offset, data, datalen, user_data);
  ngtcp2_conn_set_tls_alert (c, GNUTLS_A_UNEXPECTED_MESSAGE);
  return NGTCP2_ERR_CRYPTO;
}

static int
on_stream_open (ngtcp2_conn *c, int64_t stream_id, void *user_data)
{
  QuipuConnection *conn = user_data;

  if (conn->is_server && conn->stream_id < 0)
    conn->stream_id = stream_id;
  return 0;
}

static int
on_recv_stream_data (ngtcp2_conn *c, uint32_t flags, int64_t stream_id, uint64_t offset,
                     const uint8_t *data, size_t datalen, void *user_data, void *stream_user_data)
{
  QuipuConnection *conn = user_data;

  if (stream_id != conn->stream_id)
    return 0;
  g_byte_array_append (conn->recv_buf, data, datalen);
  if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
    conn->recv_finished = TRUE;
  return 0;
}

static int
on_acked_stream_data_offset (ngtcp2_conn *c, int64_t stream_id, uint64_t offset,
                             uint64_t datalen, void *user_data, void *stream_user_data)
{
  QuipuConnection *conn = user_data;
  guint64 acked = offset + datalen;

  if (stream_id == conn->stream_id)
    quipu_send_buffer_ack (&conn->send, acked);
  return 0;
}

static int
on_stream_close (ngtcp2_conn *c, uint32_t flags, int64_t stream_id, uint64_t app_error_code,
                 void *user_data, void *stream_user_data)
{
  QuipuConnection *conn = user_data;

  if (stream_id == conn->stream_id && conn->phase == CONN_ACTIVE)
    conn->recv_failed = TRUE;
  return 0;
}

static int
on_extend_max_stream_data (ngtcp2_conn *c, int64_t stream_id, uint64_t max_data,
                           void *user_data, void *stream_user_data)
{
  QuipuConnection *conn = user_data;

  mark_dirty (conn);
  return 0;
}

static void
on_rand (uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rand_ctx)
{
  if (gnutls_rnd (GNUTLS_RND_RANDOM, dest, destlen) != 0)
    g_error ("gnutls_rnd failed");
}

static int
on_get_new_connection_id (ngtcp2_conn *c, ngtcp2_cid *cid, uint8_t *token,
                          size_t cidlen, void *user_data)
{
  QuipuConnection *conn = user_data;

  if (conn->sink == NULL || !conn->sink->new_cid (conn->sink_data, cid, cidlen, token))
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int
on_remove_connection_id (ngtcp2_conn *c, const ngtcp2_cid *cid, void *user_data)
{
  QuipuConnection *conn = user_data;

  if (conn->sink != NULL)
    conn->sink->retire_cid (conn->sink_data, cid);
  return 0;
}

static int
on_recv_stateless_reset (ngtcp2_conn *c, const ngtcp2_pkt_stateless_reset *sr, void *user_data)
{
  QuipuConnection *conn = user_data;

  set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                                "%s reset the connection (the server may have restarted)",
                                conn->peer));
  return 0;
}

static int
on_dcid_status (ngtcp2_conn *c, ngtcp2_connection_id_status_type type, uint64_t seq,
                const ngtcp2_cid *cid, const uint8_t *token, void *user_data)
{
  QuipuConnection *conn = user_data;

  if (token != NULL && conn->sink != NULL)
    conn->sink->reset_token (conn->sink_data, token, type == NGTCP2_CONNECTION_ID_STATUS_TYPE_ACTIVATE);
  return 0;
}

static void
init_callbacks (ngtcp2_callbacks *cb, gboolean is_server)
{
  memset (cb, 0, sizeof *cb);
  if (is_server)
    cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  else
    {
      cb->client_initial = ngtcp2_crypto_client_initial_cb;
      cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
      cb->dcid_status = on_dcid_status;
    }
  cb->recv_crypto_data = on_recv_crypto_data;
  cb->encrypt = ngtcp2_crypto_encrypt_cb;
  cb->decrypt = ngtcp2_crypto_decrypt_cb;
  cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb->update_key = ngtcp2_crypto_update_key_cb;
  cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb->handshake_completed = on_handshake_completed;
  cb->stream_open = on_stream_open;
  cb->recv_stream_data = on_recv_stream_data;
  cb->acked_stream_data_offset = on_acked_stream_data_offset;
  cb->stream_close = on_stream_close;
  cb->extend_max_stream_data = on_extend_max_stream_data;
  cb->rand = on_rand;
  cb->get_new_connection_id = on_get_new_connection_id;
  cb->remove_connection_id = on_remove_connection_id;
  cb->recv_stateless_reset = on_recv_stateless_reset;
}

static void
init_settings (ngtcp2_settings *settings, ngtcp2_tstamp ts)
{
  ngtcp2_settings_default (settings);
  settings->initial_ts = ts;
  settings->max_tx_udp_payload_size = QUIPU_MAX_PACKET;
  settings->handshake_timeout = HANDSHAKE_TIMEOUT;
  if (g_getenv ("QUIPU_DEBUG_QUIC") != NULL)
    settings->log_printf = quic_log;
}

static int
verify_server_certificate (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  QuipuConnection *conn = ref->user_data;
  QuipuTrustPolicy policy = {
    .hostname = conn->hostname,
    .host_port = conn->host_port,
    .pinned_fingerprint = conn->pinned,
    .store = conn->trust_store,
    .refuse_unknown = conn->refuse_unknown,
  };
  GError *error = NULL;

  g_clear_pointer (&conn->peer_fingerprint, g_free);
  if (!quipu_tls_verify_peer (session, &policy, &conn->trust_via, &conn->peer_fingerprint, &error))
    {
      set_error (conn, error);
      return GNUTLS_E_CERTIFICATE_ERROR;
    }
  return 0;
}

/* One parsed priority set shared by every session (GnuTLS counts its
 * references): gnutls_priority_set_direct parses the string again for each
 * session and keeps the result, ~8 KB per connection (massif, issue 11). */
static gnutls_priority_t
shared_priority (void)
{
  static gsize initialized;
  static gnutls_priority_t priority;

  if (g_once_init_enter (&initialized))
    {
      if (gnutls_priority_init (&priority, QUIPU_TLS_PRIORITY, NULL) < 0)
        priority = NULL;
      g_once_init_leave (&initialized, 1);
    }
  return priority;
}

static gboolean
init_tls (QuipuConnection                  *conn,
          gnutls_certificate_credentials_t  creds,
          GError                          **error)
{
  unsigned int flags = GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA;
  int rv;

  flags |= conn->is_server ? GNUTLS_SERVER | GNUTLS_NO_TICKETS : GNUTLS_CLIENT;
  if ((rv = gnutls_init (&conn->tls, flags)) != 0 ||
      (rv = shared_priority () != NULL ? gnutls_priority_set (conn->tls, shared_priority ())
                                        : GNUTLS_E_INVALID_REQUEST) != 0 ||
      (rv = conn->is_server ? ngtcp2_crypto_gnutls_configure_server_session (conn->tls)
                            : ngtcp2_crypto_gnutls_configure_client_session (conn->tls)) != 0 ||
      (rv = gnutls_credentials_set (conn->tls, GNUTLS_CRD_CERTIFICATE, creds)) != 0 ||
      (rv = gnutls_alpn_set_protocols (conn->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY)) != 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot set up TLS: %s", rv < 0 ? gnutls_strerror (rv) : "ngtcp2 crypto setup failed");
      return FALSE;
    }

  conn->conn_ref.get_conn = get_conn;
  conn->conn_ref.user_data = conn;
  gnutls_session_set_ptr (conn->tls, &conn->conn_ref);

  if (!conn->is_server)
    {
      g_autoptr(GInetAddress) literal = g_inet_address_new_from_string (conn->hostname);

      /* SNI carries host names only, never address literals (RFC 6066 §3). */
      if (literal == NULL)
        gnutls_server_name_set (conn->tls, GNUTLS_NAME_DNS, conn->hostname, strlen (conn->hostname));
      gnutls_session_set_verify_function (conn->tls, verify_server_certificate);
    }
  return TRUE;
}

/* Server: once the handshake is over, ngtcp2 needs nothing more from the
 * GnuTLS session (1-RTT keys and key updates live in its own crypto
 * context, and the server sends no session tickets), and Quipu needs only
 * the login exporter: kept, and the session (~10 KB with its handshake
 * buffers, massif, issue 11) freed. Called after ngtcp2_conn_read_pkt has
 * returned, never from inside GnuTLS. A client keeps its session: a server
 * may still send it tickets. */
static void
release_tls (QuipuConnection *conn)
{
  int rv;

  if (!conn->is_server || !conn->established || conn->tls == NULL)
    return;

  rv = gnutls_prf_rfc5705 (conn->tls, strlen (QUIPU_LOGIN_EXPORTER_LABEL), QUIPU_LOGIN_EXPORTER_LABEL,
                           0, NULL, sizeof conn->login_exporter, (char *) conn->login_exporter);
  if (rv != 0)
    {
      /* Keep the session: the exporter is then asked of it again, and fails there. */
      g_debug ("keeping the TLS session of %s: %s", conn->peer, gnutls_strerror (rv));
      return;
    }
  ngtcp2_conn_set_tls_native_handle (conn->conn, NULL);
  g_clear_pointer (&conn->tls, gnutls_deinit);
}

static void
connection_free (QuipuConnection *conn)
{
  quipu_send_buffer_clear (&conn->send);
  g_byte_array_unref (conn->recv_buf);
  if (conn->conn != NULL)
    ngtcp2_conn_del (conn->conn);
  g_clear_pointer (&conn->tls, gnutls_deinit);
  gnutls_memset (conn->login_exporter, 0, sizeof conn->login_exporter);
  g_clear_error (&conn->error);
  g_clear_pointer (&conn->trust_store, quipu_trust_store_free);
  g_free (conn->close_reason);
  g_free (conn->close_pkt);
  g_free (conn->peer);
  g_free (conn->hostname);
  g_free (conn->host_port);
  g_free (conn->pinned);
  g_free (conn->peer_fingerprint);
}

QuipuConnection *
quipu_connection_ref (QuipuConnection *conn)
{
  return g_rc_box_acquire (conn);
}

void
quipu_connection_unref (QuipuConnection *conn)
{
  g_rc_box_release_full (conn, (GDestroyNotify) connection_free);
}

static QuipuConnection *
connection_new (const QuipuConnectionSetup *setup, gboolean is_server)
{
  QuipuConnection *conn = g_rc_box_new0 (QuipuConnection);

  conn->sink = setup->sink;
  conn->sink_data = setup->sink_data;
  conn->is_server = is_server;
  conn->stream_id = -1;
  conn->recv_buf = g_byte_array_new ();
  quipu_send_buffer_init (&conn->send);

  memcpy (&conn->local_addr, setup->local, setup->local_len);
  memcpy (&conn->remote_addr, setup->remote, setup->remote_len);
  conn->path.local.addr = (ngtcp2_sockaddr *) &conn->local_addr;
  conn->path.local.addrlen = setup->local_len;
  conn->path.remote.addr = (ngtcp2_sockaddr *) &conn->remote_addr;
  conn->path.remote.addrlen = setup->remote_len;
  return conn;
}

static void
apply_keep_alive (QuipuConnection *conn,
                  gboolean         enabled)
{
  /* PING well inside the idle timeout keeps NAT bindings and idle timers fresh. */
  ngtcp2_conn_set_keep_alive_timeout (conn->conn, enabled ? (guint64) conn->idle_timeout_ms * NGTCP2_MILLISECONDS / 3
                                                          : G_MAXUINT64);
}

/* The common tail of both constructors, after ngtcp2_conn_*_new returned rv. */
static gboolean
finish_setup (QuipuConnection  *conn,
              int               rv,
              guint             idle_timeout_ms,
              GError          **error)
{
  if (rv != 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_FAILED,
                   "cannot create QUIC connection: %s", ngtcp2_strerror (rv));
      return FALSE;
    }
  ngtcp2_conn_set_tls_native_handle (conn->conn, conn->tls);
  conn->idle_timeout_ms = idle_timeout_ms;
  /* A server keeps alive only what logged in: see set_keep_alive. */
  apply_keep_alive (conn, !conn->is_server);
  return TRUE;
}

static gboolean
first_cid (QuipuConnection *conn,
           ngtcp2_cid      *cid,
           guint8           token[NGTCP2_STATELESS_RESET_TOKENLEN],
           GError         **error)
{
  if (conn->sink->new_cid (conn->sink_data, cid, QUIPU_CID_LEN, token))
    return TRUE;
  g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_FAILED,
                       "cannot derive a stateless reset token");
  return FALSE;
}

QuipuConnection *
quipu_connection_new_client (const QuipuConnectionSetup *setup,
                             const QuipuTrustPolicy     *policy,
                             GError                    **error)
{
  g_autoptr(QuipuConnection) conn = connection_new (setup, FALSE);
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  guint8 unused_token[NGTCP2_STATELESS_RESET_TOKENLEN];
  int rv;

  conn->hostname = g_strdup (policy->hostname);
  conn->host_port = g_strdup (policy->host_port);
  conn->pinned = g_strdup (policy->pinned_fingerprint);
  conn->refuse_unknown = policy->refuse_unknown;
  if (policy->store != NULL)
    conn->trust_store = quipu_trust_store_new (quipu_trust_store_get_path (policy->store));
  conn->peer = g_strdup (policy->host_port);

  init_callbacks (&callbacks, FALSE);
  init_settings (&settings, quipu_transport_now ());
  settings.max_stream_window = 4 * CLIENT_STREAM_WINDOW;
  settings.ack_thresh = CLIENT_ACK_THRESH;
  settings.max_window = 4 * CLIENT_CONN_WINDOW;
  ngtcp2_transport_params_default (&params);
  params.initial_max_stream_data_bidi_local = CLIENT_STREAM_WINDOW;
  params.initial_max_data = CLIENT_CONN_WINDOW;
  params.max_idle_timeout = (guint64) setup->idle_timeout_ms * NGTCP2_MILLISECONDS;

  /* The server's first id is ours to pick and routes nothing here. */
  dcid.datalen = QUIPU_CID_LEN;
  on_rand (dcid.data, dcid.datalen, NULL);
  if (!first_cid (conn, &scid, unused_token, error) || !init_tls (conn, setup->creds, error))
    return NULL;

  rv = ngtcp2_conn_client_new (&conn->conn, &dcid, &scid, &conn->path, NGTCP2_PROTO_VER_V1,
                               &callbacks, &settings, &params, NULL, conn);
  if (!finish_setup (conn, rv, setup->idle_timeout_ms, error))
    return NULL;
  return g_steal_pointer (&conn);
}

QuipuConnection *
quipu_connection_new_server (const QuipuConnectionSetup *setup,
                             const ngtcp2_pkt_hd        *hd,
                             const ngtcp2_cid           *original_dcid,
                             const ngtcp2_cid           *retry_scid,
                             ngtcp2_tstamp               ts,
                             GError                    **error)
{
  g_autoptr(QuipuConnection) conn = connection_new (setup, TRUE);
  ngtcp2_callbacks callbacks;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  int rv;

  conn->peer = quipu_sockaddr_to_string (setup->remote);

  init_callbacks (&callbacks, TRUE);
  init_settings (&settings, ts);
  if (hd->tokenlen > 0)
    {
      settings.token = hd->token;
      settings.tokenlen = hd->tokenlen;
      settings.token_type = NGTCP2_TOKEN_TYPE_RETRY;
    }

  ngtcp2_transport_params_default (&params);
  params.initial_max_stream_data_bidi_remote = SERVER_STREAM_WINDOW;
  params.initial_max_data = SERVER_CONN_WINDOW;
  params.initial_max_streams_bidi = 1;   /* stream 0 carries everything */
  params.max_idle_timeout = (guint64) setup->idle_timeout_ms * NGTCP2_MILLISECONDS;
  params.original_dcid = *original_dcid;
  params.original_dcid_present = 1;
  if (retry_scid != NULL)
    {
      params.retry_scid = *retry_scid;
      params.retry_scid_present = 1;
    }
  params.stateless_reset_token_present = 1;
  if (!first_cid (conn, &scid, params.stateless_reset_token, error) ||
      !init_tls (conn, setup->creds, error))
    return NULL;

  rv = ngtcp2_conn_server_new (&conn->conn, &hd->scid, &scid, &conn->path, hd->version,
                               &callbacks, &settings, &params, NULL, conn);
  if (!finish_setup (conn, rv, setup->idle_timeout_ms, error))
    return NULL;
  return g_steal_pointer (&conn);
}

void
quipu_connection_set_keep_alive (QuipuConnection *conn,
                                 gboolean         enabled)
{
  if (conn->phase == CONN_DEAD)
    return;
  apply_keep_alive (conn, enabled);
  /* The next wake may have moved. */
  mark_dirty (conn);
}

void
quipu_connection_set_callbacks (QuipuConnection                *conn,
                                const QuipuConnectionCallbacks *callbacks,
                                gpointer                        user_data)
{
  conn->callbacks = callbacks;
  conn->user_data = user_data;
}

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
  mark_dirty (conn);
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

void
quipu_connection_close (QuipuConnection *conn,
                        guint64          app_error,
                        const char      *reason,
                        guint            linger_ms)
{
  if (conn->phase != CONN_ACTIVE)
    return;

  conn->close_error = app_error;
  g_free (conn->close_reason);
  conn->close_reason = g_strdup (reason);
  conn->phase = CONN_LINGERING;
  conn->deadline_us = g_get_monotonic_time () + (gint64) linger_ms * 1000;
  mark_dirty (conn);
}

gboolean
quipu_connection_is_closing (QuipuConnection *conn)
{
  return conn->phase != CONN_ACTIVE;
}

void
quipu_connection_die (QuipuConnection *conn,
                      GError          *error)
{
  set_error (conn, error);
  if (conn->phase != CONN_DEAD)
    enter_dead (conn);
}

gboolean
quipu_connection_is_closed (QuipuConnection *conn)
{
  return conn->phase == CONN_CLOSING || conn->phase == CONN_DRAINING;
}

gboolean
quipu_connection_is_dead (QuipuConnection *conn)
{
  return conn->phase == CONN_DEAD;
}

void
quipu_connection_detach (QuipuConnection *conn)
{
  conn->sink = NULL;
  conn->sink_data = NULL;
  conn->phase = CONN_DEAD;
}

ngtcp2_conn *
quipu_connection_get_quic (QuipuConnection *conn)
{
  return conn->conn;
}

void
quipu_connection_abort (QuipuConnection *conn)
{
  if (conn->phase != CONN_DEAD)
    enter_dead (conn);
}

void
quipu_connection_fail (QuipuConnection *conn,
                       GError          *error)
{
  guint64 code = QUIPU_PROTOCOL_ERROR_PROTOCOL;

  if (error->domain == QUIPU_PROTOCOL_ERROR && error->code > 0 &&
      error->code <= QUIPU_PROTOCOL_ERROR_LAST_WIRE_CODE)
    code = error->code;

  if (conn->phase == CONN_ACTIVE || conn->phase == CONN_LINGERING)
    {
      conn->close_error = code;
      g_free (conn->close_reason);
      conn->close_reason = g_strdup (error->message);
      set_error (conn, error);
      send_app_close (conn, quipu_transport_now ());
    }
  else
    g_error_free (error);
}

gboolean
quipu_connection_export_keying_material (QuipuConnection *conn,
                                         const char      *label,
                                         guint8          *out,
                                         gsize            out_len,
                                         GError         **error)
{
  int rv;

  if (!conn->established)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_INVALID_STATE,
                           "the TLS handshake has not completed");
      return FALSE;
    }
  if (conn->tls == NULL)
    {
      if (strcmp (label, QUIPU_LOGIN_EXPORTER_LABEL) == 0 && out_len == sizeof conn->login_exporter)
        {
          memcpy (out, conn->login_exporter, out_len);
          return TRUE;
        }
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_INVALID_STATE,
                   "only the login exporter is kept after the handshake, not %s", label);
      return FALSE;
    }
  rv = gnutls_prf_rfc5705 (conn->tls, strlen (label), label, 0, NULL, out_len, (char *) out);
  if (rv != 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "TLS exporter failed: %s", gnutls_strerror (rv));
      return FALSE;
    }
  return TRUE;
}

const char *
quipu_connection_get_peer (QuipuConnection *conn)
{
  return conn->peer;
}

const char *
quipu_connection_get_peer_fingerprint (QuipuConnection *conn)
{
  return conn->peer_fingerprint;
}

QuipuTrustVia
quipu_connection_get_trust_via (QuipuConnection *conn)
{
  return conn->trust_via;
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
      send_packet (conn, &conn->path, conn->close_pkt, conn->close_pkt_len);
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
          set_error (conn, quipu_transport_error_from_close (ngtcp2_conn_get_ccerr (conn->conn),
                                                            conn->peer, conn->is_server));
          conn->phase = CONN_DRAINING;
          conn->deadline_us = g_get_monotonic_time () + 3 * ngtcp2_conn_get_pto (conn->conn) / 1000;
          mark_dirty (conn);
          notify_closed (conn);
          break;
        case NGTCP2_ERR_DROP_CONN:
          set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                                        "connection with %s dropped", conn->peer));
          enter_dead (conn);
          break;
        case NGTCP2_ERR_CRYPTO:
          set_error (conn, quipu_transport_error_from_tls_alert (ngtcp2_conn_get_tls_alert (conn->conn),
                                                                conn->peer, conn->is_server, FALSE));
          close_with_liberr (conn, rv, ts);
          break;
        default:
          close_with_liberr (conn, rv, ts);
          break;
        }
      return;
    }

  release_tls (conn);
  quipu_connection_ref (conn);
  after_read (conn, acked_before);
  mark_dirty (conn);
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
              close_with_liberr (conn, (int) n_write, ts);
              return FALSE;
            }
        }

      if (n_data > 0)
        quipu_send_buffer_mark_sent (&conn->send, n_data);
      if (n_write == 0)
        break;
      if (!send_packet (conn, &ps.path, buf, n_write))
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
      send_app_close (conn, ts);
      return;
    }
  if (conn->phase != CONN_ACTIVE && conn->phase != CONN_LINGERING)
    return;

  if (!write_stream_packets (conn, ts))
    return;
  if (conn->phase == CONN_LINGERING && conn->send.acked == conn->send.queued && !ack_held_back (conn, ts))
    send_app_close (conn, ts);
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
        enter_dead (conn);
      return;
    case CONN_DEAD:
      return;
    case CONN_LINGERING:
      if (now >= conn->deadline_us)
        {
          send_app_close (conn, ts);
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
      mark_dirty (conn);
      break;
    case NGTCP2_ERR_IDLE_CLOSE:
      set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TIMED_OUT,
                                    "connection with %s timed out", conn->peer));
      enter_dead (conn);
      break;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                    "no answer from %s", conn->peer));
      enter_dead (conn);
      break;
    default:
      close_with_liberr (conn, rv, ts);
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
