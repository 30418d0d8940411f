#define G_LOG_DOMAIN "quipu-flood"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gio/gio.h>

#include "quipu-connection.h"
#include "quipu-endpoint.h"
#include "quipu-error.h"
#include "quipu-identity.h"
#include "quipu-signing.h"
#include "quipu-wire.h"
#include "quipu-test-peer.h"

/* An abusive client for the integration tests: what quipu-cli never does,
 * done on purpose, over real QUIC against a real quipu-server. It prints
 * one JSON object per line for the test to read.
 *
 *   quipu-flood --server ADDR --trust FILE joins N     join N rooms; "leave" on stdin leaves them
 *   quipu-flood ... flood N                             send N messages to a room at once
 *   quipu-flood ... halfopen N                          N handshakes left half-open; ends at once
 *   quipu-flood ... idle N                              N connections that never log in
 *   --seed TEXT                                         flood as the same key each run (a reconnect)
 *
 * Every mode ends when stdin closes (or, for idle, when all are closed). */

/* --no-keep-alive: connections silent once idle, so that only the
 * server's own keep-alive could hold them open. */
static gboolean no_keep_alive;
static char *server_address;
static char *trust_path;
static char *username;
static char *room_name;
static char *seed_text;

static void
spin_until (gboolean (*done) (gpointer), gpointer data, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (!done (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
peer_settled (gpointer data)
{
  QuipuTestPeer *peer = data;

  return peer->established || peer->closed;
}

static gboolean
peer_closed (gpointer data)
{
  return ((QuipuTestPeer *) data)->closed;
}

/* A socket of its own, as each of many separate clients would have. */
static QuipuTestPeer *
peer_new (void)
{
  QuipuTestPeer *peer = quipu_test_peer_connect (NULL, server_address, trust_path);

  if (no_keep_alive)
    quipu_connection_set_keep_alive (peer->conn, FALSE);
  return peer;
}

static const char *
close_reason (QuipuTestPeer *peer)
{
  return peer->close_error != NULL ? peer->close_error->message : "closed";
}

static gboolean
has_welcome (gpointer data)
{
  QuipuTestPeer *peer = data;

  return peer->closed || quipu_test_peer_count (peer, QUIPU_FRAME_WELCOME) > 0;
}

static void
login (QuipuTestPeer          *peer,
       QuipuIdentity *identity)
{
  const guint64 version = QUIPU_PROTOCOL_VERSION;
  g_autoptr(QuipuFrame) frame = quipu_test_login_frame (peer->conn, identity, username, &version, 1,
                                                        "quipu-flood");

  quipu_connection_queue_frame (peer->conn, frame);
  spin_until (has_welcome, peer, 30);
  if (peer->closed)
    g_error ("login refused: %s", close_reason (peer));
}

static QuipuTestPeer *
logged_in_peer (QuipuIdentity *identity)
{
  QuipuTestPeer *peer = peer_new ();

  spin_until (peer_settled, peer, 30);
  if (!peer->established)
    g_error ("no handshake: %s", peer->closed ? close_reason (peer) : "timed out");
  login (peer, identity);
  return peer;
}

/* ---- what a mode waits for ---- */

typedef struct {
  QuipuTestPeer           *peer;
  QuipuFrameType  type;
  guint           count;       /* replies of `type` plus ERRORs to wait for */
} Awaited;

static gboolean
answered (gpointer data)
{
  Awaited *awaited = data;

  return awaited->peer->closed ||
         quipu_test_peer_count (awaited->peer, awaited->type) + quipu_test_peer_count (awaited->peer, QUIPU_FRAME_ERROR) >=
         awaited->count;
}

/* {"code": count} of the ERRORs received, and how many named a message id. */
static char *
error_summary (QuipuTestPeer  *peer,
               guint *with_id)
{
  g_autoptr(GHashTable) codes = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GString) out = g_string_new ("{");
  GHashTableIter iter;
  gpointer key, value;

  *with_id = 0;
  for (guint i = 0; i < peer->frames->len; i++)
    {
      QuipuFrame *frame = g_ptr_array_index (peer->frames, i);
      const char *name;

      if (frame->type != QUIPU_FRAME_ERROR)
        continue;
      name = quipu_error_code_to_string (frame->code);
      g_hash_table_insert (codes, (gpointer) name,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (codes, name)) + 1));
      if (quipu_frame_has (frame, QUIPU_FIELD_CLIENT_MSG_ID))
        (*with_id)++;
    }
  g_hash_table_iter_init (&iter, codes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_string_append_printf (out, "%s\"%s\": %u", out->len > 1 ? ", " : "", (char *) key, GPOINTER_TO_UINT (value));
  g_string_append_c (out, '}');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Waits for the test's next line on stdin ("leave", or EOF as ""). */
static void
wait_for_test (char   *buf,
               gsize   len)
{
  /* Polled, so the connection stays serviced (acknowledgements, PINGs)
   * while the test decides what comes next. */
  gboolean ready = FALSE;

  while (!ready)
    {
      GPollFD fd = { 0, G_IO_IN | G_IO_HUP, 0 };

      g_main_context_iteration (NULL, FALSE);
      if (g_poll (&fd, 1, 20) > 0)
        ready = TRUE;
    }
  if (fgets (buf, len, stdin) == NULL)
    buf[0] = '\0';
}

/* Closes the connection cleanly, so the server sees it go at once. */
static void
peer_close (QuipuTestPeer *peer)
{
  quipu_connection_close (peer->conn, 0, "bye", 0);
  spin_until (peer_closed, peer, 2);
  quipu_test_peer_free (peer);
}

/* The end of the modes that log in: hold the connection until the test
 * says, then close it. */
static void
peer_finish (QuipuTestPeer *peer)
{
  char line[64];

  wait_for_test (line, sizeof line);
  peer_close (peer);
}

static void
mode_joins (guint n)
{
  g_autoptr(QuipuIdentity) identity = quipu_identity_new_random (NULL);
  QuipuTestPeer *peer = logged_in_peer (identity);
  g_autofree char *codes = NULL;
  Awaited awaited = { peer, QUIPU_FRAME_JOIN, n };
  guint with_id;
  char line[64];

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(QuipuFrame) join = quipu_frame_new (QUIPU_FRAME_JOIN);
      g_autofree char *room = g_strdup_printf ("%s%05u", room_name, i);

      quipu_frame_set_string (join, QUIPU_FIELD_ROOM, room);
      quipu_frame_set_uint (join, QUIPU_FIELD_LIMIT, 0);
      quipu_connection_queue_frame (peer->conn, join);
      /* Let the stream drain now and then: the point is the server's
       * memory, not this process's send buffer. */
      if (i % 200 == 199)
        {
          Awaited some = { peer, QUIPU_FRAME_JOIN, i + 1 - 100 };

          spin_until (answered, &some, 60);
        }
    }
  spin_until (answered, &awaited, 120);
  codes = error_summary (peer, &with_id);
  printf ("{\"event\": \"joined\", \"ok\": %u, \"errors\": %s, \"closed\": %s}\n",
          quipu_test_peer_count (peer, QUIPU_FRAME_JOIN), codes, peer->closed ? "true" : "false");
  fflush (stdout);

  wait_for_test (line, sizeof line);
  if (g_str_has_prefix (line, "leave"))
    {
      guint joined = quipu_test_peer_count (peer, QUIPU_FRAME_JOIN);
      Awaited left = { peer, QUIPU_FRAME_LEAVE, joined };

      g_ptr_array_set_size (peer->frames, 0);
      for (guint i = 0; i < joined; i++)
        {
          g_autoptr(QuipuFrame) leave = quipu_frame_new (QUIPU_FRAME_LEAVE);
          g_autofree char *room = g_strdup_printf ("%s%05u", room_name, i);

          quipu_frame_set_string (leave, QUIPU_FIELD_ROOM, room);
          quipu_connection_queue_frame (peer->conn, leave);
        }
      spin_until (answered, &left, 120);
      printf ("{\"event\": \"left\", \"ok\": %u}\n", quipu_test_peer_count (peer, QUIPU_FRAME_LEAVE));
      fflush (stdout);
      wait_for_test (line, sizeof line);
    }
  peer_close (peer);
}

/* Random, or derived from --seed so that another run is the same user. */
static QuipuIdentity *
flood_identity (void)
{
  guint8 seed[32];
  gsize len = sizeof seed;
  g_autoptr(GChecksum) checksum = NULL;

  if (seed_text == NULL)
    return quipu_identity_new_random (NULL);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *) seed_text, -1);
  g_checksum_get_digest (checksum, seed, &len);
  return quipu_identity_new_from_seed (seed, len, NULL);
}

static void
mode_flood (guint n)
{
  g_autoptr(QuipuIdentity) identity = flood_identity ();
  QuipuTestPeer *peer = logged_in_peer (identity);
  g_autoptr(QuipuFrame) join = quipu_frame_new (QUIPU_FRAME_JOIN);
  g_autofree char *codes = NULL;
  Awaited joined = { peer, QUIPU_FRAME_JOIN, 1 };
  Awaited awaited = { peer, QUIPU_FRAME_ACK, n };
  guint with_id;

  quipu_frame_set_string (join, QUIPU_FIELD_ROOM, room_name);
  quipu_connection_queue_frame (peer->conn, join);
  spin_until (answered, &joined, 30);
  g_ptr_array_set_size (peer->frames, 0);

  for (guint i = 1; i <= n; i++)
    {
      g_autoptr(QuipuFrame) msg = quipu_frame_new (QUIPU_FRAME_MESSAGE);
      g_autofree char *body = g_strdup_printf ("flood %05u", i);

      quipu_frame_set_string (msg, QUIPU_FIELD_SENDER, username);
      quipu_frame_set_string (msg, QUIPU_FIELD_ROOM, room_name);
      quipu_frame_set_uint (msg, QUIPU_FIELD_CLIENT_MSG_ID, i);
      quipu_frame_set_uint (msg, QUIPU_FIELD_TIMESTAMP, g_get_real_time () / 1000);
      quipu_frame_set_string (msg, QUIPU_FIELD_BODY, body);
      if (!quipu_identity_sign_message (identity, msg, NULL))
        g_error ("cannot sign");
      quipu_connection_queue_frame (peer->conn, msg);
      if (i % 500 == 0)
        g_main_context_iteration (NULL, FALSE);
    }
  spin_until (answered, &awaited, 120);
  codes = error_summary (peer, &with_id);
  printf ("{\"event\": \"flood\", \"acked\": %u, \"errors\": %s, \"errors_with_id\": %u, \"closed\": %s}\n",
          quipu_test_peer_count (peer, QUIPU_FRAME_ACK), codes, with_id, peer->closed ? "true" : "false");
  fflush (stdout);
  peer_finish (peer);
}

/* JOIN and LEAVE of one room, N times, as fast as the stream takes them. */
static void
mode_churn (guint n)
{
  g_autoptr(QuipuIdentity) identity = quipu_identity_new_random (NULL);
  QuipuTestPeer *peer = logged_in_peer (identity);
  Awaited awaited = { peer, QUIPU_FRAME_LEAVE, n };
  g_autofree char *codes = NULL;
  guint with_id;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(QuipuFrame) join = quipu_frame_new (QUIPU_FRAME_JOIN);
      g_autoptr(QuipuFrame) leave = quipu_frame_new (QUIPU_FRAME_LEAVE);

      quipu_frame_set_string (join, QUIPU_FIELD_ROOM, room_name);
      quipu_frame_set_uint (join, QUIPU_FIELD_LIMIT, 0);
      quipu_frame_set_string (leave, QUIPU_FIELD_ROOM, room_name);
      quipu_connection_queue_frame (peer->conn, join);
      quipu_connection_queue_frame (peer->conn, leave);
    }
  spin_until (answered, &awaited, 120);
  codes = error_summary (peer, &with_id);
  printf ("{\"event\": \"churned\", \"left\": %u, \"errors\": %s}\n", quipu_test_peer_count (peer, QUIPU_FRAME_LEAVE), codes);
  fflush (stdout);
  peer_finish (peer);
}

/* ERROR frames of 1 000 bytes of text each: each would be a log line. */
static void
mode_errors (guint n)
{
  g_autoptr(QuipuIdentity) identity = quipu_identity_new_random (NULL);
  QuipuTestPeer *peer = logged_in_peer (identity);
  g_autofree char *text = g_strnfill (1000, 'e');

  for (guint i = 0; i < n && !peer->closed; i++)
    {
      g_autoptr(QuipuFrame) error = quipu_frame_new (QUIPU_FRAME_ERROR);

      quipu_frame_set_uint (error, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_BAD_REQUEST);
      quipu_frame_set_string (error, QUIPU_FIELD_TEXT, text);
      quipu_connection_queue_frame (peer->conn, error);
      if (i % 100 == 99)
        g_main_context_iteration (NULL, FALSE);
    }
  spin_until (peer_closed, peer, 10);
  printf ("{\"event\": \"errors\", \"closed\": %s, \"reason\": \"%s\"}\n", peer->closed ? "true" : "false",
          peer->closed ? close_reason (peer) : "");
  fflush (stdout);
  quipu_test_peer_free (peer);
}

typedef struct {
  GPtrArray *peers;
  gboolean   (*test) (QuipuTestPeer *peer);
} AllOf;

static gboolean
all_of (gpointer data)
{
  AllOf *all = data;

  for (guint i = 0; i < all->peers->len; i++)
    if (!all->test (g_ptr_array_index (all->peers, i)))
      return FALSE;
  return TRUE;
}

static gboolean
is_settled (QuipuTestPeer *peer)
{
  return peer_settled (peer);
}

static gboolean
is_closed (QuipuTestPeer *peer)
{
  return peer->closed;
}

static void
mode_idle (guint n,
           guint wait_s)
{
  g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func ((GDestroyNotify) quipu_test_peer_free);
  g_autoptr(GHashTable) reasons = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GString) summary = g_string_new ("{");
  AllOf settled = { peers, is_settled };
  AllOf closed = { peers, is_closed };
  gint64 opened_at;
  guint established = 0, n_closed = 0;
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (peers, peer_new ());
  spin_until (all_of, &settled, 60);
  opened_at = g_get_monotonic_time ();
  for (guint i = 0; i < peers->len; i++)
    if (((QuipuTestPeer *) g_ptr_array_index (peers, i))->established)
      established++;
  printf ("{\"event\": \"opened\", \"established\": %u}\n", established);
  fflush (stdout);

  spin_until (all_of, &closed, wait_s);
  for (guint i = 0; i < peers->len; i++)
    {
      QuipuTestPeer *peer = g_ptr_array_index (peers, i);

      if (!peer->closed)
        continue;
      n_closed++;
      g_hash_table_insert (reasons, g_strdup (close_reason (peer)),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (reasons, close_reason (peer))) + 1));
    }
  g_hash_table_iter_init (&iter, reasons);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autofree char *escaped = g_strescape (key, NULL);

      g_string_append_printf (summary, "%s\"%s\": %u", summary->len > 1 ? ", " : "", escaped,
                              GPOINTER_TO_UINT (value));
    }
  g_string_append_c (summary, '}');
  printf ("{\"event\": \"idle\", \"closed\": %u, \"seconds\": %.1f, \"reasons\": %s}\n", n_closed,
          (g_get_monotonic_time () - opened_at) / (gdouble) G_USEC_PER_SEC, summary->str);
  fflush (stdout);
}

/* Each sends its first Initial from a socket of its own, then the socket
 * closes without a word: the server holds a handshake in progress for each
 * until its handshake timeout, as a flood of spoofed or abandoned Initials
 * would make it. */
static void
mode_halfopen (guint n)
{
  for (guint i = 0; i < n; i++)
    {
      QuipuTestPeer *peer = peer_new ();

      /* The endpoint writes the Initial in its next dispatch, and reads
       * nothing before the next one. */
      g_main_context_iteration (NULL, FALSE);
      quipu_test_peer_free (peer);
    }
  printf ("{\"event\": \"halfopen\", \"sent\": %u}\n", n);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("joins N | flood N | idle N | halfopen N");
  g_autoptr(GError) error = NULL;
  guint64 n;
  gint wait_s = 30;
  const GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &server_address, "Server address", "ADDR:PORT" },
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path, "Known-servers file", "FILE" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &username, "User name", "NAME" },
    { "room", 0, 0, G_OPTION_ARG_STRING, &room_name, "Room of flood and churn; prefix of the rooms of joins", "ROOM" },
    { "no-keep-alive", 0, 0, G_OPTION_ARG_NONE, &no_keep_alive, "Send no keep-alive PINGs", NULL },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_s, "Seconds idle waits for closes", "S" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &seed_text, "Derive flood's key from TEXT", "TEXT" },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 3 || server_address == NULL ||
      trust_path == NULL || !g_ascii_string_to_unsigned (argv[2], 10, 1, 100000, &n, NULL))
    {
      g_printerr ("usage: quipu-flood --server ADDR --trust FILE [--user NAME] joins|flood|idle|halfopen N\n");
      return 2;
    }
  if (username == NULL)
    username = g_strdup ("flood");
  if (room_name == NULL)
    room_name = g_strdup ("flood");
  if (g_str_equal (argv[1], "joins"))
    mode_joins (n);
  else if (g_str_equal (argv[1], "flood"))
    mode_flood (n);
  else if (g_str_equal (argv[1], "churn"))
    mode_churn (n);
  else if (g_str_equal (argv[1], "errors"))
    mode_errors (n);
  else if (g_str_equal (argv[1], "idle"))
    mode_idle (n, wait_s);
  else if (g_str_equal (argv[1], "halfopen"))
    mode_halfopen (n);
  else
    return 2;

  g_free (server_address);
  g_free (trust_path);
  g_free (username);
  g_free (room_name);
  g_free (seed_text);
  return 0;
}
