#define G_LOG_DOMAIN "quipu-connection"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "quipu-address.h"
#include "quipu-connection-internal.h"
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

void
_quipu_connection_mark_dirty (QuipuConnection *conn)
{
  if (conn->sink != NULL)
    conn->sink->mark_dirty (conn->sink_data);
}

gboolean
_quipu_connection_send_packet (QuipuConnection *conn, const ngtcp2_path *path, const guint8 *data, gsize len)
{
  return conn->sink != NULL && conn->sink->send_packet (conn->sink_data, path, data, len);
}

void
_quipu_connection_notify_closed (QuipuConnection *conn)
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

void
_quipu_connection_set_error (QuipuConnection *conn, GError *error)
{
  if (conn->error == NULL)
    conn->error = error;
  else
    g_error_free (error);
}

void
_quipu_connection_enter_dead (QuipuConnection *conn)
{
  conn->phase = CONN_DEAD;
  _quipu_connection_mark_dirty (conn);
  _quipu_connection_notify_closed (conn);
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
      _quipu_connection_enter_dead (conn);
      return;
    }

  conn->close_pkt = g_memdup2 (buf, nwrite);
  conn->close_pkt_len = nwrite;
  _quipu_connection_send_packet (conn, &ps.path, buf, nwrite);

  conn->phase = CONN_CLOSING;
  conn->deadline_us = g_get_monotonic_time () + 3 * ngtcp2_conn_get_pto (conn->conn) / 1000;
  _quipu_connection_mark_dirty (conn);
  _quipu_connection_notify_closed (conn);
}

void
_quipu_connection_send_app_close (QuipuConnection *conn, ngtcp2_tstamp ts)
{
  ngtcp2_ccerr ccerr;
  gsize reason_len = conn->close_reason ? strlen (conn->close_reason) : 0;

  ngtcp2_ccerr_set_application_error (&ccerr, conn->close_error,
                                      (const uint8_t *) conn->close_reason, reason_len);
  send_close (conn, &ccerr, ts);
}

/* A fatal ngtcp2 error: the one place it becomes a GError, then a close
 * with the matching transport error. */
void
_quipu_connection_close_with_liberr (QuipuConnection *conn, int liberr, ngtcp2_tstamp ts)
{
  ngtcp2_ccerr ccerr;

  _quipu_connection_set_error (conn, quipu_transport_error_from_liberr (liberr, conn->peer));

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

  _quipu_connection_mark_dirty (conn);
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

  _quipu_connection_set_error (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
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
  cb->recv_crypto_data = _quipu_connection_on_recv_crypto_data;
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
  if (!first_cid (conn, &scid, unused_token, error) || !_quipu_connection_init_tls (conn, setup->creds, error))
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
      !_quipu_connection_init_tls (conn, setup->creds, error))
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
  _quipu_connection_mark_dirty (conn);
}

void
quipu_connection_set_callbacks (QuipuConnection                *conn,
                                const QuipuConnectionCallbacks *callbacks,
                                gpointer                        user_data)
{
  conn->callbacks = callbacks;
  conn->user_data = user_data;
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
  _quipu_connection_mark_dirty (conn);
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
  _quipu_connection_set_error (conn, error);
  if (conn->phase != CONN_DEAD)
    _quipu_connection_enter_dead (conn);
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
    _quipu_connection_enter_dead (conn);
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
      _quipu_connection_set_error (conn, error);
      _quipu_connection_send_app_close (conn, quipu_transport_now ());
    }
  else
    g_error_free (error);
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
