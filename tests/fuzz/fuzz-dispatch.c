#define G_LOG_DOMAIN "quipu-fuzz-dispatch"

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <glib/gstdio.h>

#include "quipu-connection.h"
#include "quipu-endpoint.h"
#include "quipu-identity.h"
#include "quipu-server.h"
#include "quipu-signing-input.h"
#include "quipu-trust.h"
#include "quipu-wire.h"

/* libFuzzer target for the server's frame dispatch, live: a real
 * quipu-server (store in a temporary directory) and real QUIC connections
 * over loopback in this process. Each input is a stream of frames sent by a
 * logged-in client; its MESSAGE frames are signed again with that client's
 * key so that they reach the store and the fan-out instead of stopping at
 * the signature check. After each input a second client, a witness in the
 * room the seeds join, must still be connected, must have received no
 * ERROR, and must answer a PING: one client's frames never reach another's
 * session. A g_critical() anywhere (a server bug) aborts. */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define EXPORTER_LABEL "EXPORTER-quipu-login"
#define EXPORTER_LEN   32
#define ROOM           "general"
#define TIMEOUT_S      10
/* Our PINGs, apart from any in the input. */
#define TOKEN_BASE     (G_GUINT64_CONSTANT (1) << 61)

typedef struct {
  const char      *username;
  QuipuIdentity   *identity;
  QuipuEndpoint   *endpoint;
  QuipuConnection *conn;
  gboolean         established;
  gboolean         welcomed;
  gboolean         joined;
  gboolean         closed;
  guint64          pong;       /* token of the last PONG */
  guint            errors;     /* ERROR frames received */
} Peer;

static char        *data_dir;
static char        *trust_path;
static QuipuServer *server;
static char        *server_address;
static Peer        *witness;
static Peer        *client;
static guint64      next_token = TOKEN_BASE;

static GLogWriterOutput
quiet_writer (GLogLevelFlags   level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         data)
{
  /* The server logs every refused frame: here that is the point. A
   * critical is a bug, in the server or in what the fuzzer found. */
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    {
      g_log_writer_standard_streams (level, fields, n_fields, data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

static void
on_established (QuipuConnection *conn,
                gpointer         data)
{
  ((Peer *) data)->established = TRUE;
}

static void
on_frame (QuipuConnection *conn,
          QuipuFrame      *frame,
          gpointer         data)
{
  Peer *peer = data;

  switch (frame->type)
    {
    case QUIPU_FRAME_WELCOME:
      peer->welcomed = TRUE;
      break;
    case QUIPU_FRAME_JOIN:
      peer->joined = TRUE;
      break;
    case QUIPU_FRAME_PONG:
      peer->pong = frame->token;
      break;
    case QUIPU_FRAME_ERROR:
      peer->errors++;
      break;
    default:
      break;
    }
}

static void
on_closed (QuipuConnection *conn,
           const GError    *error,
           gpointer         data)
{
  ((Peer *) data)->closed = TRUE;
}

static const QuipuConnectionCallbacks callbacks = {
  .established = on_established,
  .frame = on_frame,
  .closed = on_closed,
};

static void
spin_until (gboolean (*done) (Peer *), Peer *peer)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  while (!done (peer) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
is_established (Peer *peer)
{
  return peer->established || peer->closed;
}

static gboolean
is_welcomed (Peer *peer)
{
  return peer->welcomed || peer->closed;
}

static gboolean
is_joined (Peer *peer)
{
  return peer->joined || peer->closed;
}

static void
peer_free (Peer *peer)
{
  if (peer == NULL)
    return;
  quipu_connection_set_callbacks (peer->conn, NULL, NULL);
  quipu_connection_abort (peer->conn);
  quipu_connection_unref (peer->conn);
  quipu_endpoint_release (peer->endpoint);
  g_object_unref (peer->identity);
  g_free (peer);
}

static void
login (Peer *peer)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_CONNECT);
  g_autoptr(GBytes) input = NULL;
  guint8 exporter[EXPORTER_LEN];
  guint8 proof[QUIPU_SIGNATURE_SIZE];
  const guint8 *key = quipu_identity_get_public_key (peer->identity);

  if (!quipu_connection_export_keying_material (peer->conn, EXPORTER_LABEL, exporter, sizeof exporter, NULL))
    g_error ("no exporter");
  input = quipu_login_proof_input (exporter, sizeof exporter, peer->username, key);
  if (!quipu_identity_sign (peer->identity, g_bytes_get_data (input, NULL), g_bytes_get_size (input), proof, NULL))
    g_error ("cannot sign the login");
  quipu_frame_add_uint (frame, QUIPU_FIELD_VERSION, QUIPU_PROTOCOL_VERSION);
  quipu_frame_set_string (frame, QUIPU_FIELD_USERNAME, peer->username);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, key, QUIPU_KEY_SIZE);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_PROOF, proof, sizeof proof);
  quipu_frame_set_string (frame, QUIPU_FIELD_CLIENT, "fuzz-dispatch");
  quipu_connection_queue_frame (peer->conn, frame);
  spin_until (is_welcomed, peer);
}

/* A client logged in as `username`, its key derived from the name. */
static Peer *
peer_new (const char *username)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_parse (server_address, 0, NULL);
  const char *host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  guint16 port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new_from_string (host, port);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (trust_path);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GError) error = NULL;
  QuipuTrustPolicy policy = { .hostname = host, .host_port = server_address, .store = store };
  Peer *peer = g_new0 (Peer, 1);
  guint8 seed[32];
  gsize len = sizeof seed;

  g_checksum_update (checksum, (const guchar *) username, -1);
  g_checksum_get_digest (checksum, seed, &len);
  peer->username = username;
  peer->identity = quipu_identity_new_from_seed (seed, len, &error);
  peer->endpoint = quipu_endpoint_new_client (&error);
  if (peer->identity == NULL || peer->endpoint == NULL)
    g_error ("cannot make a client: %s", error->message);
  peer->conn = quipu_endpoint_connect (peer->endpoint, G_INET_SOCKET_ADDRESS (address), &policy, 0, &error);
  if (peer->conn == NULL)
    g_error ("cannot connect: %s", error->message);
  quipu_connection_set_callbacks (peer->conn, &callbacks, peer);
  spin_until (is_established, peer);
  if (!peer->established)
    g_error ("no handshake with the server");
  login (peer);
  if (!peer->welcomed)
    g_error ("%s could not log in", username);
  return peer;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
tear_down (void)
{
  g_clear_pointer (&client, peer_free);
  g_clear_pointer (&witness, peer_free);
  g_clear_pointer (&server, quipu_server_free);
  remove_tree (data_dir);
  g_free (server_address);
  g_free (trust_path);
  g_free (data_dir);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(QuipuFrame) join = quipu_frame_new (QUIPU_FRAME_JOIN);
  g_autoptr(GError) error = NULL;

  g_log_set_writer_func (quiet_writer, NULL, NULL);
  data_dir = g_dir_make_tmp ("quipu-fuzz-dispatch-XXXXXX", &error);
  if (data_dir == NULL)
    g_error ("no temporary directory: %s", error->message);
  trust_path = g_build_filename (data_dir, "known-servers", NULL);

  quipu_server_config_init (&config);
  config.data_dir = g_build_filename (data_dir, "server", NULL);
  config.listen = g_strdup ("127.0.0.1:0");
  config.sync_normal = TRUE;    /* no fsync per input: durability is not what is fuzzed */
  /* Rates and the log limit depend on the clock: off, so an input does
   * the same whenever it runs. */
  config.limits.message_rate = 0;
  config.limits.join_rate = 0;
  config.limits.error_rate = 0;
  config.limits.log_lines_per_minute = 0;
  config.limits.registrations_per_hour = 0;
  server = quipu_server_new (&config, &error);
  if (server == NULL)
    g_error ("cannot start the server: %s", error->message);
  server_address = quipu_server_dup_address (server);
  atexit (tear_down);

  witness = peer_new ("witness");
  quipu_frame_set_string (join, QUIPU_FIELD_ROOM, ROOM);
  quipu_connection_queue_frame (witness->conn, join);
  spin_until (is_joined, witness);
  if (!witness->joined)
    g_error ("the witness could not join %s", ROOM);
  return 0;
}

/* The input's frames as a client would send them; MESSAGEs signed by the
 * client. A frame that does not decode goes as it is (the server closes
 * the connection for it); an incomplete one at the end is left out, as the
 * server would wait for the rest of it forever. */
static void
send_input (Peer          *peer,
            const uint8_t *data,
            size_t         size)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  gsize pos = 0;

  while (pos < size)
    {
      g_autoptr(QuipuFrame) frame = NULL;
      gsize consumed = 0;
      QuipuDecodeResult result = quipu_frame_decode (data + pos, size - pos, &consumed, &frame, NULL);

      if (result == QUIPU_DECODE_NEED_MORE)
        break;
      if (result == QUIPU_DECODE_ERROR)
        {
          g_byte_array_append (out, data + pos, size - pos);
          break;
        }
      if (result == QUIPU_DECODE_OK && frame->type == QUIPU_FRAME_MESSAGE)
        {
          g_autoptr(GBytes) input = NULL;
          guint8 signature[QUIPU_SIGNATURE_SIZE];

          quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, peer->username);
          input = quipu_message_signing_input (frame);
          if (quipu_identity_sign (peer->identity, g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                                   signature, NULL))
            quipu_frame_set_bytes (frame, QUIPU_FIELD_SIGNATURE, signature, sizeof signature);
          if (!quipu_frame_encode_to (frame, out, NULL))
            g_byte_array_append (out, data + pos, consumed);
        }
      else
        g_byte_array_append (out, data + pos, consumed);
      pos += consumed;
    }
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  if (g_bytes_get_size (bytes) > 0)
    quipu_connection_queue_bytes (peer->conn, bytes);
}

static void
ping (Peer    *peer,
      guint64  token)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_PING);

  quipu_frame_set_uint (frame, QUIPU_FIELD_TOKEN, token);
  quipu_connection_queue_frame (peer->conn, frame);
}

static gboolean
both_answered (Peer *peer)
{
  return (witness->pong == next_token || witness->closed) && (peer->pong == next_token || peer->closed);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  if (client != NULL && client->closed)
    g_clear_pointer (&client, peer_free);
  if (client == NULL)
    client = peer_new ("fuzzer");

  send_input (client, data, size);
  next_token++;
  ping (client, next_token);
  ping (witness, next_token);
  spin_until (both_answered, client);

  /* Whatever the input did, the server is up and the witness untouched. */
  if (witness->closed || witness->errors > 0 || witness->pong != next_token)
    {
      g_printerr ("the witness was disturbed: closed %d, %u errors, pong %" G_GUINT64_FORMAT " of %"
                  G_GUINT64_FORMAT "\n", witness->closed, witness->errors, witness->pong, next_token);
      abort ();
    }
  /* Nor does the fuzzing client hang: it is answered or closed. */
  if (!client->closed && client->pong != next_token)
    {
      g_printerr ("no answer to a PING after the input, and no close\n");
      abort ();
    }
  return 0;
}
