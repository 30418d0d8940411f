#define G_LOG_DOMAIN "quipu-connection"

#include "config.h"

#include <string.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "quipu-connection-internal.h"
#include "quipu-error.h"

static const gnutls_datum_t alpn = { (unsigned char *) QUIPU_ALPN, sizeof QUIPU_ALPN - 1 };

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref *ref)
{
  QuipuConnection *conn = ref->user_data;

  return conn->conn;
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
 * session by then (_quipu_connection_release_tls) or is about to: refused at once, even in
 * the packet that completed the handshake. A client reads only tickets.
 * Refused as GnuTLS refuses a message it does not expect. */
int
_quipu_connection_on_recv_crypto_data (ngtcp2_conn *c, ngtcp2_encryption_level level, uint64_t offset,
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
      _quipu_connection_set_error (conn, error);
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

gboolean
_quipu_connection_init_tls (QuipuConnection                  *conn,
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
void
_quipu_connection_release_tls (QuipuConnection *conn)
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
