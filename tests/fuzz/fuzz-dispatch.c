#define G_LOG_DOMAIN "quipu-fuzz-dispatch"

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "quipu-connection.h"
#include "quipu-server.h"
#include "quipu-signing.h"
#include "quipu-test-peer.h"
#include "quipu-test-util.h"
#include "quipu-wire.h"

/* libFuzzer target for the server's frame dispatch, live: a real
 * quipu-server (store in a temporary directory) and real QUIC connections
 * over loopback in this process. Each input is a stream of frames sent by a
 * logged-in client; its MESSAGE frames are signed again with that client's
 * key so that they reach the store and the fan-out instead of stopping at
 * the signature check. After each input a second client, a witness in a
 * room the fuzzing client may join, must still be connected, must have
 * received no ERROR, and must answer a PING: one client's frames never
 * reach another's session. A g_critical() anywhere (a server bug) aborts. */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define ROOM       "lobby"        /* the room of the seed corpus */
#define TIMEOUT_S  10
/* Our PINGs, apart from any in the input. */
#define TOKEN_BASE (G_GUINT64_CONSTANT (1) << 61)

typedef struct {
  QuipuTestPeer *raw;
  QuipuIdentity *identity;
  const char    *username;
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

static QuipuFrame *
find_frame (Peer           *peer,
            QuipuFrameType  type)
{
  for (guint i = 0; i < peer->raw->frames->len; i++)
    {
      QuipuFrame *frame = g_ptr_array_index (peer->raw->frames, i);

      if (frame->type == type)
        return frame;
    }
  return NULL;
}

static gboolean
has_pong (Peer *peer)
{
  for (guint i = 0; i < peer->raw->frames->len; i++)
    {
      QuipuFrame *frame = g_ptr_array_index (peer->raw->frames, i);

      if (frame->type == QUIPU_FRAME_PONG && frame->token == next_token)
        return TRUE;
    }
  return FALSE;
}

/* Until `done` or the connection is gone, for TIMEOUT_S at most. */
static void
spin_until (gboolean (*done) (Peer *),
            Peer      *peer)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  while (!done (peer) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
is_established (Peer *peer)
{
  return peer->raw->established || peer->raw->closed;
}

static gboolean
is_welcomed (Peer *peer)
{
  return find_frame (peer, QUIPU_FRAME_WELCOME) != NULL || peer->raw->closed;
}

static gboolean
is_joined (Peer *peer)
{
  return find_frame (peer, QUIPU_FRAME_JOIN) != NULL || peer->raw->closed;
}

static void
peer_free (Peer *peer)
{
  quipu_test_peer_free (peer->raw);
  g_object_unref (peer->identity);
  g_free (peer);
}

/* A client logged in as `username` with the key of seed `fill`. */
static Peer *
peer_new (const char *username,
          guint8      fill)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->username = username;
  peer->identity = quipu_test_identity_from_seed (fill);
  peer->raw = quipu_test_peer_connect (NULL, server_address, trust_path);
  spin_until (is_established, peer);
  if (!peer->raw->established)
    g_error ("no handshake with the server");
  quipu_test_peer_queue_login (peer->raw, peer->identity, username);
  spin_until (is_welcomed, peer);
  if (peer->raw->closed)
    g_error ("%s could not log in", username);
  g_ptr_array_set_size (peer->raw->frames, 0);
  return peer;
}

static void
tear_down (void)
{
  g_clear_pointer (&client, peer_free);
  g_clear_pointer (&witness, peer_free);
  g_clear_pointer (&server, quipu_server_free);
  quipu_test_remove_tree (data_dir);
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

  witness = peer_new ("witness", 0x77);
  quipu_frame_set_string (join, QUIPU_FIELD_ROOM, ROOM);
  quipu_connection_queue_frame (witness->raw->conn, join);
  spin_until (is_joined, witness);
  if (witness->raw->closed)
    g_error ("the witness could not join %s", ROOM);
  g_ptr_array_set_size (witness->raw->frames, 0);
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
          quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, peer->username);
          quipu_identity_sign_message (peer->identity, frame, NULL);
          if (!quipu_frame_encode_to (frame, out, NULL))
            g_byte_array_append (out, data + pos, consumed);
        }
      else
        g_byte_array_append (out, data + pos, consumed);
      pos += consumed;
    }
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  if (g_bytes_get_size (bytes) > 0)
    quipu_connection_queue_bytes (peer->raw->conn, bytes);
}

static void
ping (Peer    *peer,
      guint64  token)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_PING);

  quipu_frame_set_uint (frame, QUIPU_FIELD_TOKEN, token);
  quipu_connection_queue_frame (peer->raw->conn, frame);
}

static gboolean
both_answered (Peer *peer)
{
  return (has_pong (witness) || witness->raw->closed) && (has_pong (peer) || peer->raw->closed);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  if (client != NULL && client->raw->closed)
    g_clear_pointer (&client, peer_free);
  if (client == NULL)
    client = peer_new ("fuzzer", 0xf2);

  send_input (client, data, size);
  next_token++;
  ping (client, next_token);
  ping (witness, next_token);
  spin_until (both_answered, client);

  /* Whatever the input did, the server is up and the witness untouched. */
  if (witness->raw->closed || find_frame (witness, QUIPU_FRAME_ERROR) != NULL || !has_pong (witness))
    {
      g_printerr ("the witness was disturbed: closed %d, ERROR %d, PONG %d\n", witness->raw->closed,
                  find_frame (witness, QUIPU_FRAME_ERROR) != NULL, has_pong (witness));
      abort ();
    }
  /* Nor does the fuzzing client hang: it is answered or closed. */
  if (!client->raw->closed && !has_pong (client))
    {
      g_printerr ("no answer to a PING after the input, and no close\n");
      abort ();
    }
  /* What they were sent is not kept from one input to the next. */
  g_ptr_array_set_size (witness->raw->frames, 0);
  g_ptr_array_set_size (client->raw->frames, 0);
  return 0;
}
