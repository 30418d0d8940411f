#define G_LOG_DOMAIN "quipu-test-peer"

#include "config.h"

#include "quipu-signing.h"
#include "quipu-test-peer.h"

static void
peer_established (QuipuConnection *conn,
                  gpointer         data)
{
  QuipuTestPeer *peer = data;

  peer->established = TRUE;
}

/* The connection frees `frame` after this returns: keep a copy made by
 * encoding and decoding it again. */
static void
peer_frame (QuipuConnection *conn,
            QuipuFrame      *frame,
            gpointer         data)
{
  QuipuTestPeer *peer = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = quipu_frame_encode (frame, &error);
  QuipuFrame *copy = NULL;
  gsize consumed = 0;

  g_assert_no_error (error);
  g_assert_cmpint (quipu_frame_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                       &consumed, &copy, &error), ==, QUIPU_DECODE_OK);
  g_assert_no_error (error);
  g_ptr_array_add (peer->frames, copy);
}

static void
peer_acked (QuipuConnection *conn,
            guint64          offset,
            gpointer         data)
{
  QuipuTestPeer *peer = data;

  peer->acked = offset;
}

static void
peer_closed (QuipuConnection *conn,
             const GError    *error,
             gpointer         data)
{
  QuipuTestPeer *peer = data;

  peer->closed = TRUE;
  if (error != NULL)
    peer->close_error = g_error_copy (error);
}

static const QuipuConnectionCallbacks peer_callbacks = {
  .established = peer_established,
  .frame = peer_frame,
  .acked = peer_acked,
  .closed = peer_closed,
};

QuipuTestPeer *
quipu_test_peer_connect (QuipuEndpoint *endpoint,
                         const char    *address,
                         const char    *trust_path)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_parse (address, 0, NULL);
  const char *host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  guint16 port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  g_autoptr(GSocketAddress) sockaddr = g_inet_socket_address_new_from_string (host, port);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (trust_path);
  g_autoptr(GError) error = NULL;
  QuipuTrustPolicy policy = {
    .hostname = host,
    .host_port = address,
    .store = store,
  };
  QuipuTestPeer *peer = g_new0 (QuipuTestPeer, 1);

  g_assert_nonnull (sockaddr);
  peer->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) quipu_frame_free);
  if (endpoint == NULL)
    {
      endpoint = peer->endpoint = quipu_endpoint_new_client (&error);
      g_assert_no_error (error);
    }
  peer->conn = quipu_endpoint_connect (endpoint, G_INET_SOCKET_ADDRESS (sockaddr), &policy, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (peer->conn);
  quipu_connection_set_callbacks (peer->conn, &peer_callbacks, peer);
  return peer;
}

QuipuFrame *
quipu_test_login_frame (QuipuConnection *conn,
                        QuipuIdentity   *identity,
                        const char      *username,
                        const guint64   *versions,
                        guint            n_versions,
                        const char      *client)
{
  QuipuFrame *frame = quipu_frame_new (QUIPU_FRAME_CONNECT);
  g_autoptr(GError) error = NULL;
  guint8 exporter[QUIPU_LOGIN_EXPORTER_LEN];
  guint8 proof[QUIPU_SIGNATURE_SIZE];

  g_assert_true (quipu_connection_export_keying_material (conn, QUIPU_LOGIN_EXPORTER_LABEL, exporter,
                                                          sizeof exporter, &error));
  g_assert_no_error (error);
  g_assert_true (quipu_identity_sign_login_proof (identity, exporter, sizeof exporter, username, proof, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < n_versions; i++)
    quipu_frame_add_uint (frame, QUIPU_FIELD_VERSION, versions[i]);
  quipu_frame_set_string (frame, QUIPU_FIELD_USERNAME, username);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, quipu_identity_get_public_key (identity), QUIPU_KEY_SIZE);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_PROOF, proof, sizeof proof);
  if (client != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_CLIENT, client);
  return frame;
}

void
quipu_test_peer_queue_login (QuipuTestPeer *peer,
                             QuipuIdentity *identity,
                             const char    *username)
{
  const guint64 version = QUIPU_PROTOCOL_VERSION;
  g_autoptr(QuipuFrame) frame = quipu_test_login_frame (peer->conn, identity, username, &version, 1,
                                                        "quipu-test-peer");

  g_assert_true (quipu_connection_queue_frame (peer->conn, frame));
}

guint
quipu_test_peer_count (QuipuTestPeer  *peer,
                       QuipuFrameType  type)
{
  guint n = 0;

  for (guint i = 0; i < peer->frames->len; i++)
    if (((QuipuFrame *) g_ptr_array_index (peer->frames, i))->type == type)
      n++;
  return n;
}

void
quipu_test_peer_free (QuipuTestPeer *peer)
{
  quipu_connection_set_callbacks (peer->conn, NULL, NULL);
  quipu_connection_abort (peer->conn);
  quipu_connection_unref (peer->conn);
  g_clear_pointer (&peer->endpoint, quipu_endpoint_free);
  g_clear_error (&peer->close_error);
  g_ptr_array_unref (peer->frames);
  g_free (peer);
}
