/* Tests for quipu-relay, the lossy UDP relay: the binary named by
 * QUIPU_RELAY runs as a subprocess between a client socket and an echo
 * socket, both served by this process's main loop. */

#define G_LOG_DOMAIN "quipu-relay-test"

#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gio.h>

#define CLEAN_COUNT     1000
#define CLEAN_WINDOW    32
#define LOSSY_COUNT     60
#define LOSSY_WAIT_MS   30    /* a loopback round trip takes well under 1 ms */
#define WAIT_MS         3000  /* for what must arrive; only reached on failure */

typedef struct
{
  guint64 forwarded;
  guint64 dropped;
  guint64 duplicated;
  guint64 corrupted;
  guint64 reordered;
  guint64 cut;
} RelayStats;

typedef struct
{
  GSubprocess      *process;
  GOutputStream    *control;    /* the relay's stdin */
  GDataInputStream *output;     /* its stdout */
  GDataInputStream *errors;     /* its stderr, when captured */
  char             *listening;  /* its first line */
  GSocketAddress   *address;    /* where clients send */
} Relay;

/* A UDP socket served by the main loop; an echo peer returns every datagram. */
typedef struct
{
  GSocket    *socket;
  GSource    *source;
  gboolean    echo;
  GPtrArray  *datagrams;  /* GBytes, in arrival order */
  GHashTable *senders;    /* "ADDR:PORT" of everyone who sent one */
} Peer;

/* Peers */

static gboolean
on_peer_readable (GSocket      *socket,
                  GIOCondition  condition,
                  gpointer      user_data)
{
  Peer *peer = user_data;
  char buffer[65536];

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketAddress) sender = NULL;
      gssize len = g_socket_receive_from (socket, &sender, buffer, sizeof buffer, NULL, &error);

      if (len < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      g_ptr_array_add (peer->datagrams, g_bytes_new (buffer, len));
      g_hash_table_add (peer->senders,
                        g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (sender)));
      if (peer->echo)
        g_assert_cmpint (g_socket_send_to (socket, sender, buffer, len, NULL, NULL), ==, len);
    }
  return G_SOURCE_CONTINUE;
}

static void
peer_free (Peer *peer)
{
  g_source_destroy (peer->source);
  g_source_unref (peer->source);
  g_object_unref (peer->socket);
  g_ptr_array_unref (peer->datagrams);
  g_hash_table_unref (peer->senders);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

/* Binds to the loopback address of `family`; NULL if the host has none. */
static Peer *
peer_new (GSocketFamily   family,
          gboolean        echo,
          GError        **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (family);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  Peer *peer;

  socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL || !g_socket_bind (socket, address, FALSE, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);

  peer = g_new0 (Peer, 1);
  peer->socket = g_steal_pointer (&socket);
  peer->echo = echo;
  peer->datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  peer->senders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  peer->source = g_socket_create_source (peer->socket, G_IO_IN, NULL);
  g_source_set_callback (peer->source, G_SOURCE_FUNC (on_peer_readable), peer, NULL);
  g_source_attach (peer->source, NULL);
  return peer;
}

static Peer *
peer_new_ipv4 (gboolean echo)
{
  g_autoptr(GError) error = NULL;
  Peer *peer = peer_new (G_SOCKET_FAMILY_IPV4, echo, &error);

  g_assert_no_error (error);
  return peer;
}

static void
peer_send (Peer           *peer,
           GSocketAddress *to,
           GBytes         *datagram)
{
  g_autoptr(GError) error = NULL;
  gsize size;
  const char *data = g_bytes_get_data (datagram, &size);

  g_assert_cmpint (g_socket_send_to (peer->socket, to, data, size, NULL, &error), ==, size);
  g_assert_no_error (error);
}

static GBytes *
peer_datagram (Peer  *peer,
               guint  i)
{
  g_assert_cmpuint (i, <, peer->datagrams->len);
  return peer->datagrams->pdata[i];
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until `peer` holds `count` datagrams or `ms` pass. */
static gboolean
peer_wait (Peer  *peer,
           guint  count,
           guint  ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (ms, set_flag, &expired);

  while (peer->datagrams->len < count && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return peer->datagrams->len >= count;
}

static void
run_for (guint ms)
{
  gboolean expired = FALSE;

  g_timeout_add (ms, set_flag, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
}

/* Numbered datagrams: a big-endian sequence number, then a pattern. */

static GBytes *
numbered (guint32 seq,
          gsize   size)
{
  guint8 *data = g_malloc (size);
  guint32 be = GUINT32_TO_BE (seq);

  g_assert_cmpuint (size, >=, sizeof be);
  memcpy (data, &be, sizeof be);
  for (gsize i = sizeof be; i < size; i++)
    data[i] = (seq * 7 + i) & 0xff;
  return g_bytes_new_take (data, size);
}

static void
send_numbered (Peer           *peer,
               GSocketAddress *to,
               guint32         seq,
               gsize           size)
{
  g_autoptr(GBytes) datagram = numbered (seq, size);

  peer_send (peer, to, datagram);
}

static guint32
sequence_of (GBytes *datagram)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (datagram, &size);
  guint32 be;

  g_assert_cmpuint (size, >=, sizeof be);
  memcpy (&be, data, sizeof be);
  return GUINT32_FROM_BE (be);
}

static guint
bits_differing (GBytes *a,
                GBytes *b)
{
  gsize size_a, size_b;
  const guint8 *x = g_bytes_get_data (a, &size_a);
  const guint8 *y = g_bytes_get_data (b, &size_b);
  guint n = 0;

  g_assert_cmpuint (size_a, ==, size_b);
  for (gsize i = 0; i < size_a; i++)
    n += __builtin_popcount (x[i] ^ y[i]);
  return n;
}

/* The relay process */

static void
die_with_parent (gpointer user_data)
{
  /* A crashed test must not leave a relay running. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static char *
relay_read_line (GDataInputStream *stream)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (stream, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (line);
  return line;
}

static void
parse_stats (const char *line,
             RelayStats *stats)
{
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  guint64 *fields[] = {
    &stats->forwarded, &stats->dropped, &stats->duplicated,
    &stats->corrupted, &stats->reordered, &stats->cut,
  };

  regex = g_regex_new ("^\\{\"forwarded\":(\\d+),\"dropped\":(\\d+),\"duplicated\":(\\d+),"
                       "\"corrupted\":(\\d+),\"reordered\":(\\d+),\"cut\":(\\d+)\\}$",
                       0, 0, NULL);
  if (!g_regex_match (regex, line, 0, &match))
    g_error ("not a stats line: %s", line);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *digits = g_match_info_fetch (match, i + 1);

      *fields[i] = g_ascii_strtoull (digits, NULL, 10);
    }
}

static GSocketAddress *
parse_listening (const char *line)
{
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *host = NULL;
  g_autofree char *port = NULL;

  regex = g_regex_new ("^listening on (?:\\[([0-9a-fA-F:.]+)\\]|([0-9.]+)):(\\d+)$", 0, 0, NULL);
  if (!g_regex_match (regex, line, 0, &match))
    g_error ("expected 'listening on ADDR:PORT', got: %s", line);
  host = g_match_info_fetch (match, 1);
  if (*host == '\0')
    {
      g_free (host);
      host = g_match_info_fetch (match, 2);
    }
  port = g_match_info_fetch (match, 3);
  return g_inet_socket_address_new_from_string (host, g_ascii_strtoull (port, NULL, 10));
}

/* Starts the relay between `listen` and `upstream`, then the NULL-terminated
 * options. */
static G_GNUC_NULL_TERMINATED void
relay_start (Relay      *relay,
             const char *listen,
             Peer       *upstream,
             gboolean    capture_stderr,
             ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSocketAddress) upstream_address = NULL;
  g_autofree char *upstream_text = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE;
  const char *option;
  va_list args;

  upstream_address = g_socket_get_local_address (upstream->socket, &error);
  g_assert_no_error (error);
  upstream_text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (upstream_address));

  g_ptr_array_add (argv, g_strdup (g_getenv ("QUIPU_RELAY")));
  g_ptr_array_add (argv, g_strdup_printf ("--listen=%s", listen));
  g_ptr_array_add (argv, g_strconcat ("--upstream=", upstream_text, NULL));
  va_start (args, capture_stderr);
  while ((option = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (option));
  va_end (args);
  g_ptr_array_add (argv, NULL);

  if (capture_stderr)
    flags |= G_SUBPROCESS_FLAGS_STDERR_PIPE;
  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);

  memset (relay, 0, sizeof *relay);
  relay->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                                 &error);
  g_assert_no_error (error);
  relay->control = g_object_ref (g_subprocess_get_stdin_pipe (relay->process));
  relay->output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (relay->process));
  if (capture_stderr)
    relay->errors = g_data_input_stream_new (g_subprocess_get_stderr_pipe (relay->process));

  relay->listening = relay_read_line (relay->output);
  relay->address = parse_listening (relay->listening);
}

static void
relay_write (Relay      *relay,
             const char *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (relay->control, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
relay_stats (Relay      *relay,
             RelayStats *stats)
{
  g_autofree char *line = NULL;

  relay_write (relay, "stats\n");
  line = relay_read_line (relay->output);
  parse_stats (line, stats);
}

/* Commands run in order, so once the stats reply is back `command` applies. */
static void
relay_command (Relay      *relay,
               const char *command)
{
  g_autofree char *line = g_strconcat (command, "\n", NULL);
  RelayStats stats;

  relay_write (relay, line);
  relay_stats (relay, &stats);
}

/* Stops the relay with `signum`, which must make it print the stats and exit 0. */
static void
relay_stop (Relay      *relay,
            int         signum,
            RelayStats *stats)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  g_subprocess_send_signal (relay->process, signum);
  line = relay_read_line (relay->output);
  parse_stats (line, stats);
  g_subprocess_wait_check (relay->process, NULL, &error);
  g_assert_no_error (error);

  g_clear_object (&relay->control);
  g_clear_object (&relay->output);
  g_clear_object (&relay->errors);
  g_clear_object (&relay->process);
  g_clear_object (&relay->address);
  g_clear_pointer (&relay->listening, g_free);
}

/* Tests */

static void
test_clean_path (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  Relay relay;
  RelayStats stats;
  guint sent = 0;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, NULL);

  /* A window keeps socket buffers from overflowing, yet lets order be tested. */
  while (client->datagrams->len < CLEAN_COUNT)
    {
      guint received = client->datagrams->len;

      for (; sent < CLEAN_COUNT && sent - received < CLEAN_WINDOW; sent++)
        send_numbered (client, relay.address, sent, 64);
      g_assert_true (peer_wait (client, received + 1, WAIT_MS));
    }

  for (guint i = 0; i < CLEAN_COUNT; i++)
    {
      g_autoptr(GBytes) expected = numbered (i, 64);

      g_assert_true (g_bytes_equal (peer_datagram (client, i), expected));
    }

  relay_stop (&relay, SIGTERM, &stats);
  g_assert_cmpuint (client->datagrams->len, ==, CLEAN_COUNT);
  g_assert_cmpuint (stats.forwarded, ==, 2 * CLEAN_COUNT);
  g_assert_cmpuint (stats.dropped + stats.duplicated + stats.corrupted, ==, 0);
  g_assert_cmpuint (stats.reordered + stats.cut, ==, 0);
}

/* One datagram at a time, so the relay sees the same sequence each run.
 * Returns which came back, as a string of '0' and '1'. */
static char *
lossy_run (const char *seed)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  char *returned = g_strnfill (LOSSY_COUNT, '0');
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, "--seed", seed, "--loss", "0.3", NULL);
  for (guint i = 0; i < LOSSY_COUNT; i++)
    {
      send_numbered (client, relay.address, i, 32);
      peer_wait (client, client->datagrams->len + 1, LOSSY_WAIT_MS);
    }
  relay_stop (&relay, SIGTERM, &stats);

  for (guint i = 0; i < client->datagrams->len; i++)
    {
      guint32 seq = sequence_of (peer_datagram (client, i));

      g_assert_cmpuint (seq, <, LOSSY_COUNT);
      g_assert_cmpint (returned[seq], ==, '0');
      returned[seq] = '1';
    }

  /* Every datagram the relay took in was either forwarded or dropped. */
  g_assert_cmpuint (stats.forwarded, ==, echo->datagrams->len + client->datagrams->len);
  g_assert_cmpuint (stats.dropped, ==, LOSSY_COUNT - client->datagrams->len);
  return returned;
}

static void
test_loss_deterministic (void)
{
  g_autofree char *first = lossy_run ("7");
  g_autofree char *again = lossy_run ("7");
  g_autofree char *other = lossy_run ("8");

  g_test_message ("seed 7 returned %s", first);
  g_assert_nonnull (strchr (first, '0'));
  g_assert_nonnull (strchr (first, '1'));
  g_assert_cmpstr (first, ==, again);
  g_assert_cmpstr (first, !=, other);
}

static void
test_duplicate (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  guint copies[10] = { 0 };
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, "--duplicate", "1.0", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (copies); i++)
    {
      send_numbered (client, relay.address, i, 32);
      /* Two copies up, each echoed and doubled again on the way back. */
      g_assert_true (peer_wait (client, 4 * (i + 1), WAIT_MS));
    }
  run_for (50);
  relay_stop (&relay, SIGTERM, &stats);

  for (guint i = 0; i < client->datagrams->len; i++)
    {
      guint32 seq = sequence_of (peer_datagram (client, i));

      g_assert_cmpuint (seq, <, G_N_ELEMENTS (copies));
      copies[seq]++;
    }
  for (guint i = 0; i < G_N_ELEMENTS (copies); i++)
    g_assert_cmpuint (copies[i], ==, 4);
  g_assert_cmpuint (echo->datagrams->len, ==, 20);
  g_assert_cmpuint (stats.duplicated, ==, 10 + 20);
  g_assert_cmpuint (stats.forwarded, ==, 20 + 40);
}

static void
test_corrupt (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, "--corrupt", "1.0", NULL);
  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(GBytes) sent = numbered (i, 100);
      GBytes *upstream, *back;

      peer_send (client, relay.address, sent);
      g_assert_true (peer_wait (client, i + 1, WAIT_MS));
      upstream = peer_datagram (echo, i);
      back = peer_datagram (client, i);

      /* Each hop flips 1 to 3 distinct bits. */
      g_assert_cmpuint (bits_differing (sent, upstream), >=, 1);
      g_assert_cmpuint (bits_differing (sent, upstream), <=, 3);
      g_assert_cmpuint (bits_differing (upstream, back), >=, 1);
      g_assert_cmpuint (bits_differing (upstream, back), <=, 3);
      g_assert_false (g_bytes_equal (sent, back));
    }
  relay_stop (&relay, SIGTERM, &stats);
  g_assert_cmpuint (stats.corrupted, ==, 100);
  g_assert_cmpuint (stats.forwarded, ==, 100);
}

static void
test_delay (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, "--delay", "50", NULL);
  for (guint i = 0; i < 5; i++)
    {
      gint64 start = g_get_monotonic_time ();

      send_numbered (client, relay.address, i, 32);
      g_assert_true (peer_wait (client, i + 1, WAIT_MS));
      g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
    }
  relay_stop (&relay, SIGTERM, &stats);
  g_assert_cmpuint (stats.forwarded, ==, 10);
}

static void
test_reorder (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  gboolean seen[100] = { FALSE };
  guint32 highest = 0;
  guint late = 0;
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, "--seed", "3", "--delay", "5",
               "--jitter", "20", "--reorder", "0.2", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (seen); i++)
    send_numbered (client, relay.address, i, 32);
  g_assert_true (peer_wait (client, G_N_ELEMENTS (seen), WAIT_MS));
  relay_stop (&relay, SIGTERM, &stats);

  for (guint i = 0; i < client->datagrams->len; i++)
    {
      guint32 seq = sequence_of (peer_datagram (client, i));

      g_assert_cmpuint (seq, <, G_N_ELEMENTS (seen));
      g_assert_false (seen[seq]);
      seen[seq] = TRUE;
      if (seq < highest)
        late++;
      highest = MAX (highest, seq);
    }
  g_test_message ("%u of %u arrived after a later one", late, client->datagrams->len);
  g_assert_cmpuint (late, >, 0);
  g_assert_cmpuint (stats.reordered, >, 0);
  g_assert_cmpuint (stats.forwarded, ==, 2 * G_N_ELEMENTS (seen));
}

static void
test_cut (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, NULL);
  send_numbered (client, relay.address, 0, 32);
  g_assert_true (peer_wait (client, 1, WAIT_MS));

  relay_command (&relay, "cut");
  for (guint i = 1; i <= 10; i++)
    send_numbered (client, relay.address, i, 32);
  run_for (200);
  g_assert_cmpuint (echo->datagrams->len, ==, 1);
  g_assert_cmpuint (client->datagrams->len, ==, 1);

  relay_command (&relay, "restore");
  send_numbered (client, relay.address, 11, 32);
  g_assert_true (peer_wait (client, 2, WAIT_MS));
  g_assert_cmpuint (sequence_of (peer_datagram (client, 1)), ==, 11);

  relay_stop (&relay, SIGTERM, &stats);
  g_assert_cmpuint (stats.cut, ==, 10);
  g_assert_cmpuint (stats.forwarded, ==, 4);
}

/* Everything at once: the counters must account for every datagram seen. */
static void
test_stats_balance (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  guint64 taken_in;
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, "--seed", "5", "--loss", "0.2",
               "--duplicate", "0.3", "--corrupt", "0.1", "--reorder", "0.1",
               "--jitter", "2", NULL);
  for (guint burst = 0; burst < 10; burst++)
    {
      for (guint i = 0; i < 20; i++)
        send_numbered (client, relay.address, burst * 20 + i, 32);
      run_for (20);
    }
  run_for (100);
  relay_stop (&relay, SIGTERM, &stats);

  taken_in = 200 + echo->datagrams->len;
  g_assert_cmpuint (stats.forwarded, ==, echo->datagrams->len + client->datagrams->len);
  g_assert_cmpuint (stats.forwarded + stats.dropped, ==, taken_in + stats.duplicated);
  g_assert_cmpuint (stats.dropped, >, 0);
  g_assert_cmpuint (stats.duplicated, >, 0);
  g_assert_cmpuint (stats.corrupted, >, 0);
  g_assert_cmpuint (stats.reordered, >, 0);
  g_assert_cmpuint (stats.cut, ==, 0);
}

static void
test_control (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new_ipv4 (FALSE);
  const char *bad[] = { "frobnicate", "set loss", "set volume 3", "set loss 7", "stats now" };
  g_autoptr(GError) error = NULL;
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, TRUE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *line = NULL;

      relay_command (&relay, bad[i]);
      line = relay_read_line (relay.errors);
      g_test_message ("'%s': %s", bad[i], line);
      g_assert_true (g_str_has_prefix (line, "quipu-relay: "));
    }

  relay_command (&relay, "set loss 1");
  for (guint i = 0; i < 5; i++)
    send_numbered (client, relay.address, i, 32);
  run_for (100);
  g_assert_cmpuint (echo->datagrams->len, ==, 0);

  relay_command (&relay, "set loss 0");
  send_numbered (client, relay.address, 5, 32);
  g_assert_true (peer_wait (client, 1, WAIT_MS));

  /* End of input leaves the relay running. */
  g_output_stream_close (relay.control, NULL, &error);
  g_assert_no_error (error);
  send_numbered (client, relay.address, 6, 32);
  g_assert_true (peer_wait (client, 2, WAIT_MS));

  relay_stop (&relay, SIGINT, &stats);
  g_assert_cmpuint (stats.dropped, ==, 5);
  g_assert_cmpuint (stats.forwarded, ==, 4);
}

static void
test_two_clients (void)
{
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) alice = peer_new_ipv4 (FALSE);
  g_autoptr(Peer) bob = peer_new_ipv4 (FALSE);
  Relay relay;
  RelayStats stats;

  relay_start (&relay, "127.0.0.1:0", echo, FALSE, NULL);
  for (guint round = 0; round < 2; round++)
    {
      send_numbered (alice, relay.address, 100 + round, 32);
      send_numbered (bob, relay.address, 200 + round, 32);
      g_assert_true (peer_wait (alice, round + 1, WAIT_MS));
      g_assert_true (peer_wait (bob, round + 1, WAIT_MS));
      g_assert_cmpuint (sequence_of (peer_datagram (alice, round)), ==, 100 + round);
      g_assert_cmpuint (sequence_of (peer_datagram (bob, round)), ==, 200 + round);
    }
  relay_stop (&relay, SIGTERM, &stats);

  /* One upstream port per client, kept across datagrams. */
  g_assert_cmpuint (g_hash_table_size (echo->senders), ==, 2);
  g_assert_cmpuint (stats.forwarded, ==, 8);
}

static void
test_ipv6 (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(Peer) echo = peer_new_ipv4 (TRUE);
  g_autoptr(Peer) client = peer_new (G_SOCKET_FAMILY_IPV6, FALSE, &error);
  Relay relay;
  RelayStats stats;

  if (client == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("no IPv6 loopback: %s", error->message);

      g_test_skip (reason);
      return;
    }

  relay_start (&relay, "[::1]:0", echo, FALSE, NULL);
  g_assert_true (g_str_has_prefix (relay.listening, "listening on [::1]:"));
  send_numbered (client, relay.address, 6, 32);
  g_assert_true (peer_wait (client, 1, WAIT_MS));
  g_assert_cmpuint (sequence_of (peer_datagram (client, 0)), ==, 6);
  relay_stop (&relay, SIGTERM, &stats);
  g_assert_cmpuint (stats.forwarded, ==, 2);
}

static void
test_bad_arguments (void)
{
#define UPSTREAM "--upstream=127.0.0.1:7447"
  const char *cases[][4] = {
    { "--listen=127.0.0.1:0", NULL },
    { "--listen=localhost:0", UPSTREAM, NULL },
    { "--listen=::1:0", UPSTREAM, NULL },
    { "--listen=[::1]:0", "--upstream=127.0.0.1:0", NULL },
    { "--listen=127.0.0.1:65536", UPSTREAM, NULL },
    { "--listen=127.0.0.1:0", UPSTREAM, "--loss=1.5", NULL },
    { "--listen=127.0.0.1:0", UPSTREAM, "--delay=-5", NULL },
    { "--listen=127.0.0.1:0", UPSTREAM, "--seed=x", NULL },
    { "--listen=127.0.0.1:0", UPSTREAM, "--bogus", NULL },
    { "--listen=127.0.0.1:0", UPSTREAM, "stray", NULL },
  };
#undef UPSTREAM

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autoptr(GSubprocess) process = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *joined = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_ptr_array_add (argv, (char *) g_getenv ("QUIPU_RELAY"));
      for (guint j = 0; cases[i][j] != NULL; j++)
        g_ptr_array_add (argv, (char *) cases[i][j]);
      g_ptr_array_add (argv, NULL);

      process = g_subprocess_newv ((const char * const *) argv->pdata,
                                   G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                   &error);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
      g_assert_no_error (error);

      joined = g_strjoinv (" ", (char **) cases[i]);
      g_test_message ("%s: %.*s", joined, (int) strcspn (err, "\n"), err);
      g_assert_true (g_subprocess_get_if_exited (process));
      g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 2);
      g_assert_cmpstr (out, ==, "");
      /* Exactly one line. */
      g_assert_true (g_str_has_prefix (err, "quipu-relay: "));
      g_assert_cmpuint (strchr (err, '\n') - err, ==, strlen (err) - 1);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("QUIPU_RELAY") == NULL)
    {
      g_printerr ("QUIPU_RELAY is not set: point it at the quipu-relay binary to test\n");
      return 1;
    }

  g_test_add_func ("/quipu/relay/clean-path", test_clean_path);
  g_test_add_func ("/quipu/relay/loss/deterministic", test_loss_deterministic);
  g_test_add_func ("/quipu/relay/duplicate", test_duplicate);
  g_test_add_func ("/quipu/relay/corrupt", test_corrupt);
  g_test_add_func ("/quipu/relay/delay", test_delay);
  g_test_add_func ("/quipu/relay/reorder", test_reorder);
  g_test_add_func ("/quipu/relay/cut", test_cut);
  g_test_add_func ("/quipu/relay/stats/balance", test_stats_balance);
  g_test_add_func ("/quipu/relay/control", test_control);
  g_test_add_func ("/quipu/relay/nat/two-clients", test_two_clients);
  g_test_add_func ("/quipu/relay/ipv6", test_ipv6);
  g_test_add_func ("/quipu/relay/arguments/bad", test_bad_arguments);

  return g_test_run ();
}
