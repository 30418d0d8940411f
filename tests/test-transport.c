#define G_LOG_DOMAIN "quipu-test-transport"

#include "config.h"

#include <string.h>

#include "quipu-connection-private.h"
#include "quipu-endpoint.h"
#include "quipu-error.h"
#include "quipu-signing.h"
#include "quipu-test-peer.h"
#include "quipu-test-util.h"
#include "quipu-transport-error.h"

/* The transport on its own: client endpoints against an in-process server,
 * spoken to with raw frames (a PING before CONNECT is answered by a PONG
 * that echoes its token). */

#define N_PEERS 3

typedef struct {
  QuipuTestServer  ts;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  quipu_test_server_setup (&fx->ts, "transport");
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  quipu_test_server_teardown (&fx->ts);
}

static void
peer_ping (QuipuTestPeer *peer,
           guint64        token)
{
  g_autoptr(QuipuFrame) ping = quipu_frame_new (QUIPU_FRAME_PING);

  quipu_frame_set_uint (ping, QUIPU_FIELD_TOKEN, token);
  g_assert_true (quipu_connection_queue_frame (peer->conn, ping));
}

/* The token of the last PONG received, 0 if none. */
static guint64
last_pong (QuipuTestPeer *peer)
{
  for (guint i = peer->frames->len; i > 0; i--)
    {
      QuipuFrame *frame = peer->frames->pdata[i - 1];

      if (frame->type == QUIPU_FRAME_PONG)
        return frame->token;
    }
  return 0;
}

/* Several sessions share one socket: each gets its own answers, and one
 * ending leaves the others working. */
static void
test_one_socket_many_connections (Fixture       *fx,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuEndpoint) endpoint = quipu_endpoint_new_client (&error);
  g_autoptr(GInetSocketAddress) local = NULL;
  QuipuTestPeer *peers[N_PEERS];

  g_assert_no_error (error);
  local = quipu_endpoint_get_local_address (endpoint);
  g_assert_cmpuint (g_inet_socket_address_get_port (local), !=, 0);

  for (guint i = 0; i < N_PEERS; i++)
    peers[i] = quipu_test_peer_connect (endpoint, fx->ts.address, fx->ts.trust_path);
  for (guint i = 0; i < N_PEERS; i++)
    QUIPU_TEST_WAIT_FOR (peers[i]->established);

  /* Each waits for the PONG to its own token: answers are routed by
   * connection ID, not handed to whoever is first on the socket. */
  for (guint i = 0; i < N_PEERS; i++)
    peer_ping (peers[i], 100 + i);
  for (guint i = 0; i < N_PEERS; i++)
    {
      QUIPU_TEST_WAIT_FOR (quipu_test_peer_count (peers[i], QUIPU_FRAME_PONG) == 1);
      g_assert_cmpuint (last_pong (peers[i]), ==, 100 + i);
      g_assert_false (peers[i]->closed);
    }

  quipu_connection_close (peers[0]->conn, 0, "done", 1000);
  QUIPU_TEST_WAIT_FOR (peers[0]->closed);
  g_assert_no_error (peers[0]->close_error);

  for (guint i = 1; i < N_PEERS; i++)
    peer_ping (peers[i], 200 + i);
  for (guint i = 1; i < N_PEERS; i++)
    {
      QUIPU_TEST_WAIT_FOR (quipu_test_peer_count (peers[i], QUIPU_FRAME_PONG) == 2);
      g_assert_cmpuint (last_pong (peers[i]), ==, 200 + i);
      g_assert_false (peers[i]->closed);
    }
  g_assert_cmpuint (peers[0]->frames->len, ==, 1);

  for (guint i = 0; i < N_PEERS; i++)
    quipu_test_peer_free (peers[i]);
}

/* An endpoint its owner let go of still delivers what was queued before a
 * lingering close, as QuipuClient's goodbye on dispose needs, then closes
 * cleanly. */
static void
test_release_finishes_the_goodbye (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  QuipuEndpoint *endpoint = quipu_endpoint_new_client (&error);
  QuipuTestPeer *peer;
  guint64 queued;

  g_assert_no_error (error);
  peer = quipu_test_peer_connect (endpoint, fx->ts.address, fx->ts.trust_path);
  QUIPU_TEST_WAIT_FOR (peer->established);

  peer_ping (peer, 7);
  queued = quipu_connection_get_queued_offset (peer->conn);
  quipu_connection_close (peer->conn, 0, "bye", 2000);
  g_clear_pointer (&endpoint, quipu_endpoint_release);
  g_assert_false (peer->closed);

  QUIPU_TEST_WAIT_FOR (peer->closed);
  g_assert_no_error (peer->close_error);
  g_assert_cmpuint (peer->acked, ==, queued);
  g_assert_true (quipu_connection_is_closing (peer->conn));
  quipu_test_peer_free (peer);
}

/* A port nobody listens on answers with ICMP, which the unconnected
 * socket learns from its error queue: the connection fails at once, not
 * after the 10 s handshake timeout. */
static void
test_refused_at_once (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) probe = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                           G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) closed_port = NULL;
  g_autofree char *address = NULL;
  QuipuTestPeer *peer;
  gint64 start;

  g_assert_no_error (error);
  /* A port that was free a moment ago, and is again. */
  g_assert_true (g_socket_bind (probe, any, FALSE, &error));
  closed_port = g_socket_get_local_address (probe, &error);
  g_assert_no_error (error);
  g_clear_object (&probe);
  address = g_strdup_printf ("127.0.0.1:%u",
                             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (closed_port)));

  start = g_get_monotonic_time ();
  peer = quipu_test_peer_connect (NULL, address, fx->ts.trust_path);
  QUIPU_TEST_WAIT_FOR (peer->closed);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_error (peer->close_error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE);
  g_assert_nonnull (strstr (peer->close_error->message, "connection refused"));
  g_assert_false (peer->established);
  quipu_test_peer_free (peer);
}

/* A bare server endpoint: no sessions above it, only the connection it
 * accepted last, for tests that look at the transport's server side. */
typedef struct {
  QuipuServerCredentials *creds;
  QuipuEndpoint          *endpoint;
  QuipuConnection        *accepted;
  char                   *address;
  const char             *trust_path;
} RawServer;

static void
raw_accepted (QuipuEndpoint   *endpoint,
              QuipuConnection *conn,
              gpointer         user_data)
{
  RawServer *raw = user_data;

  g_assert_null (raw->accepted);
  raw->accepted = quipu_connection_ref (conn);
}

static const QuipuEndpointCallbacks raw_callbacks = {
  .accepted = raw_accepted,
};

static void
raw_server_start (RawServer *raw,
                  Fixture   *fx)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = g_build_filename (fx->ts.dir, "raw-server", NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GInetSocketAddress) bound = NULL;
  QuipuServerOptions options = { 0 };

  raw->creds = quipu_server_credentials_ensure (data_dir, &error);
  g_assert_no_error (error);
  raw->endpoint = quipu_endpoint_new_server (G_INET_SOCKET_ADDRESS (any), raw->creds, &options,
                                             &raw_callbacks, raw, &error);
  g_assert_no_error (error);
  bound = quipu_endpoint_get_local_address (raw->endpoint);
  raw->address = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (bound));
  raw->trust_path = fx->ts.trust_path;
}

/* A new client, once its handshake is done on both sides. */
static QuipuTestPeer *
raw_server_connect (RawServer *raw)
{
  QuipuTestPeer *peer = quipu_test_peer_connect (NULL, raw->address, raw->trust_path);

  g_clear_pointer (&raw->accepted, quipu_connection_unref);
  QUIPU_TEST_WAIT_FOR (peer->established && raw->accepted != NULL);
  return peer;
}

static void
raw_server_stop (RawServer *raw)
{
  g_clear_pointer (&raw->accepted, quipu_connection_unref);
  g_clear_pointer (&raw->endpoint, quipu_endpoint_free);
  g_clear_pointer (&raw->creds, quipu_server_credentials_free);
  g_clear_pointer (&raw->address, g_free);
}

/* A server connection frees its TLS session once the handshake is over
 * (issue 11: ~10 KB per idle connection) and keeps the one exporter value
 * a login proof signs: the same as the client's, and nothing else. The
 * client keeps its session. */
static void
test_server_keeps_only_login_exporter (Fixture       *fx,
                                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  RawServer raw = { NULL };
  QuipuTestPeer *peer;
  guint8 client_value[QUIPU_LOGIN_EXPORTER_LEN];
  guint8 server_value[QUIPU_LOGIN_EXPORTER_LEN];
  guint8 other[QUIPU_LOGIN_EXPORTER_LEN];

  raw_server_start (&raw, fx);
  peer = raw_server_connect (&raw);

  g_assert_true (quipu_connection_export_keying_material (peer->conn, QUIPU_LOGIN_EXPORTER_LABEL,
                                                          client_value, sizeof client_value, &error));
  g_assert_no_error (error);
  g_assert_true (quipu_connection_export_keying_material (raw.accepted, QUIPU_LOGIN_EXPORTER_LABEL,
                                                          server_value, sizeof server_value, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (client_value, sizeof client_value, server_value, sizeof server_value);

  g_assert_false (quipu_connection_export_keying_material (raw.accepted, "EXPORTER-quipu-other",
                                                           other, sizeof other, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (quipu_connection_export_keying_material (raw.accepted, QUIPU_LOGIN_EXPORTER_LABEL,
                                                           other, 16, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_true (quipu_connection_export_keying_material (peer->conn, "EXPORTER-quipu-other",
                                                          other, sizeof other, &error));
  g_assert_no_error (error);
  g_assert_cmpint (memcmp (other, client_value, sizeof other), !=, 0);

  /* Without its session the connection still carries data both ways. */
  peer_ping (peer, 5);
  quipu_connection_close (peer->conn, 0, "done", 1000);
  QUIPU_TEST_WAIT_FOR (peer->closed);
  g_assert_no_error (peer->close_error);
  g_assert_cmpuint (peer->acked, ==, quipu_connection_get_queued_offset (peer->conn));

  quipu_test_peer_free (peer);
  raw_server_stop (&raw);
}

/* Past the handshake a client has no TLS message to send (RFC 9001 §4.4,
 * §6), and the server, its session gone, has nothing to read one with: a
 * CRYPTO frame then closes the connection with unexpected_message, and the
 * server carries on. Before, a KeyUpdate reached GnuTLS, which handed
 * ngtcp2 keys it already had: ngtcp2 aborted the server. */
static void
test_post_handshake_crypto_refused (Fixture       *fx,
                                   gconstpointer  data)
{
  static const guint8 key_update[] = { 24, 0, 0, 1, 0 };   /* TLS KeyUpdate */
  RawServer raw = { NULL };
  QuipuTestPeer *peer, *other;

  raw_server_start (&raw, fx);
  peer = raw_server_connect (&raw);
  g_assert_cmpint (ngtcp2_conn_submit_crypto_data (quipu_connection_get_quic (peer->conn),
                                                   NGTCP2_ENCRYPTION_LEVEL_1RTT,
                                                   key_update, sizeof key_update), ==, 0);
  peer_ping (peer, 1);   /* something to send it with */
  QUIPU_TEST_WAIT_FOR (peer->closed);
  g_assert_error (peer->close_error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE);
  g_assert_nonnull (strstr (peer->close_error->message, "received alert 10"));
  g_assert_true (quipu_connection_is_closing (raw.accepted));

  /* The next client is served as usual. */
  other = raw_server_connect (&raw);
  g_assert_false (other->closed);

  quipu_test_peer_free (other);
  quipu_test_peer_free (peer);
  raw_server_stop (&raw);
}

/* After the handshake a client takes session tickets from a server, in
 * pieces, and nothing else: a KeyUpdate, which QUIC forbids (RFC 9001
 * §6), closes the connection with unexpected_message instead of reaching
 * GnuTLS (which would hand ngtcp2 keys it has, and abort). */
static void
test_client_reads_only_tickets (Fixture       *fx,
                                gconstpointer  data)
{
  static const guint8 ticket[] = {
    4, 0, 0, 16,                 /* NewSessionTicket, 16 bytes */
    0, 0, 0x0e, 0x10,            /* lifetime 3600 s */
    1, 2, 3, 4,                  /* age_add */
    1, 0,                        /* nonce */
    0, 2, 0xab, 0xcd,            /* ticket */
    0, 0,                        /* no extensions */
  };
  static const guint8 key_update[] = { 24, 0, 0, 1, 0 };
  RawServer raw = { NULL };
  QuipuTestPeer *peer;
  ngtcp2_conn *quic;

  raw_server_start (&raw, fx);
  peer = raw_server_connect (&raw);
  quic = quipu_connection_get_quic (raw.accepted);

  /* Two tickets, the first split inside its header, the second whole. */
  g_assert_cmpint (ngtcp2_conn_submit_crypto_data (quic, NGTCP2_ENCRYPTION_LEVEL_1RTT, ticket, 2), ==, 0);
  g_assert_cmpint (ngtcp2_conn_submit_crypto_data (quic, NGTCP2_ENCRYPTION_LEVEL_1RTT, ticket + 2,
                                                   sizeof ticket - 2), ==, 0);
  g_assert_cmpint (ngtcp2_conn_submit_crypto_data (quic, NGTCP2_ENCRYPTION_LEVEL_1RTT, ticket,
                                                   sizeof ticket), ==, 0);
  peer_ping (peer, 1);
  QUIPU_TEST_WAIT_FOR (peer->acked == quipu_connection_get_queued_offset (peer->conn));
  quipu_test_spin (100);
  g_assert_false (peer->closed);

  g_assert_cmpint (ngtcp2_conn_submit_crypto_data (quic, NGTCP2_ENCRYPTION_LEVEL_1RTT, key_update,
                                                   sizeof key_update), ==, 0);
  peer_ping (peer, 2);
  QUIPU_TEST_WAIT_FOR (peer->closed);
  g_assert_error (peer->close_error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE);
  g_assert_nonnull (strstr (peer->close_error->message, "sent alert 10"));

  quipu_test_peer_free (peer);
  raw_server_stop (&raw);
}

/* A peer may close with any transport error and no reason phrase at all:
 * that must read as an error, not crash the server reading it. */
static void
test_close_without_reason (void)
{
  ngtcp2_ccerr ccerr;
  g_autoptr(GError) violation = NULL;
  g_autoptr(GError) alert = NULL;
  g_autoptr(GError) bye = NULL;

  ngtcp2_ccerr_default (&ccerr);
  ngtcp2_ccerr_set_transport_error (&ccerr, NGTCP2_PROTOCOL_VIOLATION, NULL, 0);
  g_assert_null (ccerr.reason);
  violation = quipu_transport_error_from_close (&ccerr, "127.0.0.1:1", TRUE);
  g_assert_error (violation, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL);
  g_assert_cmpstr (violation->message, ==, "127.0.0.1:1 closed the connection with QUIC error 0xa");

  ngtcp2_ccerr_set_tls_alert (&ccerr, 42, NULL, 0);
  alert = quipu_transport_error_from_close (&ccerr, "127.0.0.1:1", TRUE);
  g_assert_error (alert, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE);
  g_assert_nonnull (strstr (alert->message, "received alert 42"));

  ngtcp2_ccerr_set_application_error (&ccerr, 0, NULL, 0);
  bye = quipu_transport_error_from_close (&ccerr, "127.0.0.1:1", FALSE);
  g_assert_error (bye, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED);
  g_assert_cmpstr (bye->message, ==, "127.0.0.1:1 closed the connection");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/quipu/transport/one-socket-many-connections", Fixture, NULL,
              fixture_setup, test_one_socket_many_connections, fixture_teardown);
  g_test_add ("/quipu/transport/release-finishes-the-goodbye", Fixture, NULL,
              fixture_setup, test_release_finishes_the_goodbye, fixture_teardown);
  g_test_add ("/quipu/transport/refused-at-once", Fixture, NULL,
              fixture_setup, test_refused_at_once, fixture_teardown);
  g_test_add_func ("/quipu/transport/close-without-reason", test_close_without_reason);
  g_test_add ("/quipu/transport/server-keeps-only-login-exporter", Fixture, NULL,
              fixture_setup, test_server_keeps_only_login_exporter, fixture_teardown);
  g_test_add ("/quipu/transport/post-handshake-crypto-refused", Fixture, NULL,
              fixture_setup, test_post_handshake_crypto_refused, fixture_teardown);
  g_test_add ("/quipu/transport/client-reads-only-tickets", Fixture, NULL,
              fixture_setup, test_client_reads_only_tickets, fixture_teardown);

  return g_test_run ();
}
