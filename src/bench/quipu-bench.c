#define G_LOG_DOMAIN "quipu-bench"

#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <glib/gstdio.h>

#include "quipu.h"
#include "quipu-bench-fleet.h"
#include "quipu-bench-measure.h"
#include "quipu-bench-report.h"

/* quipu-bench: a load generator for quipu-server. One process and one
 * GLib main loop drive N sessions over real QUIC (sharing a few UDP
 * sockets); see `quipu-bench --help` and README.md, "Performance". */

typedef struct {
  char    *server;
  char    *fingerprint;
  char    *user_prefix;
  char    *room;
  int      server_pid;
  int      sessions;
  int      endpoints;
  int      rooms;
  int      senders;
  int      size;
  double   rate;
  int      window;
  double   duration;
  gint64   messages;
  double   verify_sample;
  int      concurrency;
  gint64   seed;
  int      pages;
  int      page_size;
  double   drain_timeout;
  gboolean json;
} Options;

typedef struct {
  Options          *options;
  QuipuBenchFleet  *fleet;
  QuipuBenchReport *report;
  QuipuBenchMeasure measure;
} Run;

static gboolean
read_server (Run *run, QuipuBenchProc *out, GError **error)
{
  if (run->options->server_pid <= 0)
    return TRUE;
  return quipu_bench_proc_read (run->options->server_pid, out, error);
}

static gboolean
measure_start (Run *run, GError **error)
{
  return quipu_bench_measure_start (&run->measure, run->options->server_pid, error);
}

static gboolean
measure_end (Run *run, gint64 end_us, double work, const char *work_name, GError **error)
{
  return quipu_bench_measure_end (&run->measure, run->report, end_us, work, work_name, error);
}

static void
report_counters (Run *run)
{
  const QuipuBenchCounters *counters = quipu_bench_fleet_counters (run->fleet);

  quipu_bench_report_add (run->report, "sessions", quipu_bench_fleet_size (run->fleet), "");
  quipu_bench_report_add (run->report, "logged_in", counters->logged_in, "");
  quipu_bench_report_add (run->report, "errors", counters->errors, "");
}

static gboolean
login (Run *run, GError **error)
{
  double timeout = 60 + run->options->sessions / 100.0;

  return quipu_bench_fleet_login_all (run->fleet, timeout, error);
}

/* fanout: senders flat out (or at --rate) for --duration or --messages,
 * then wait until every acknowledged message reached every other member. */

static gboolean
send_phase_over (QuipuBenchFleet *fleet, gpointer data)
{
  Run *run = data;
  const QuipuBenchCounters *counters = quipu_bench_fleet_counters (fleet);

  if (run->options->messages > 0)
    return counters->acked + counters->errors >= (guint64) run->options->messages;
  return FALSE;
}

static gboolean
drained (QuipuBenchFleet *fleet, gpointer data)
{
  const QuipuBenchCounters *counters = quipu_bench_fleet_counters (fleet);

  return counters->acked + counters->errors >= counters->sent && counters->delivered >= counters->expected;
}

static gboolean
run_fanout (Run *run, GError **error)
{
  Options *options = run->options;
  const QuipuBenchCounters *counters = quipu_bench_fleet_counters (run->fleet);
  gint64 end_us, send_end_us, drain_end_us;
  double wall;

  if (!login (run, error) || !measure_start (run, error))
    return FALSE;
  quipu_bench_fleet_start_sending (run->fleet, options->senders, options->size, options->rate,
                                   options->window, options->messages);
  send_end_us = run->measure.start_us + (gint64) (options->duration * G_USEC_PER_SEC);
  quipu_bench_fleet_run_until (run->fleet, send_phase_over, run,
                               options->messages > 0 ? G_MAXINT64 : send_end_us, "sending");
  quipu_bench_fleet_stop_sending (run->fleet);
  drain_end_us = g_get_monotonic_time () + (gint64) (options->drain_timeout * G_USEC_PER_SEC);
  if (!quipu_bench_fleet_run_until (run->fleet, drained, run, drain_end_us, "draining"))
    g_printerr ("quipu-bench: not every delivery arrived within %.0f s\n", options->drain_timeout);

  end_us = MAX (counters->last_delivery_us, run->measure.start_us + 1);
  wall = (double) (end_us - run->measure.start_us) / G_USEC_PER_SEC;
  report_counters (run);
  quipu_bench_report_add (run->report, "senders", options->senders, "");
  quipu_bench_report_add (run->report, "receivers_per_room",
                          (double) options->sessions / MAX (options->rooms, 1) - 1, "");
  quipu_bench_report_add (run->report, "size", options->size, "bytes");
  quipu_bench_report_add (run->report, "sent", counters->sent, "");
  quipu_bench_report_add (run->report, "acked", counters->acked, "");
  quipu_bench_report_add (run->report, "deliveries", counters->delivered, "");
  quipu_bench_report_add (run->report, "expected_deliveries", counters->expected, "");
  quipu_bench_report_add (run->report, "messages_per_s", counters->acked / wall, "/s");
  quipu_bench_report_add (run->report, "deliveries_per_s", counters->delivered / wall, "/s");
  quipu_bench_report_add_latency (run->report, "latency", quipu_bench_fleet_latency (run->fleet));
  quipu_bench_report_add (run->report, "verified", counters->verified, "");
  quipu_bench_report_add (run->report, "verify_sample", options->verify_sample, "of deliveries");
  if (!measure_end (run, end_us, counters->delivered, "delivery", error))
    return FALSE;
  /* Counted after the table so a missing delivery is an error in both. */
  if (counters->delivered != counters->expected)
    quipu_bench_report_add (run->report, "missing_deliveries",
                            (double) counters->expected - counters->delivered, "");
  return TRUE;
}

/* idle: hold logged-in sessions; the server's RSS growth per connection. */

static gboolean
never (QuipuBenchFleet *fleet, gpointer data)
{
  return FALSE;
}

static gboolean
run_idle (Run *run, GError **error)
{
  QuipuBenchProc before = { 0 }, after = { 0 };

  if (!read_server (run, &before, error) || !login (run, error) || !measure_start (run, error))
    return FALSE;
  quipu_bench_fleet_run_until (run->fleet, never, NULL,
                               run->measure.start_us + (gint64) (run->options->duration * G_USEC_PER_SEC),
                               "holding");
  if (!read_server (run, &after, error))
    return FALSE;
  report_counters (run);
  if (run->options->server_pid > 0)
    {
      quipu_bench_report_add (run->report, "server_rss_before_kib", before.rss_kib, "KiB");
      quipu_bench_report_add (run->report, "rss_per_connection_kib",
                              ((double) after.rss_kib - before.rss_kib) / run->options->sessions, "KiB");
    }
  return measure_end (run, g_get_monotonic_time (), 0, NULL, error);
}

/* logins: full handshakes and login proofs, --concurrency at a time. */

static gboolean
run_logins (Run *run, GError **error)
{
  gboolean ok;
  gint64 end_us;

  if (!measure_start (run, error))
    return FALSE;
  ok = login (run, error);
  end_us = g_get_monotonic_time ();
  report_counters (run);
  quipu_bench_report_add (run->report, "logins_per_s",
                          quipu_bench_fleet_counters (run->fleet)->logged_in /
                          ((double) (end_us - run->measure.start_us) / G_USEC_PER_SEC), "/s");
  return measure_end (run, end_us, quipu_bench_fleet_counters (run->fleet)->logged_in, "login", error) && ok;
}

/* history: seed a room with --seed messages, then time --pages requests
 * for its newest --page-size, one at a time. */

typedef struct {
  gboolean loaded;
  guint    count;
} Page;

static void
on_history_loaded (QuipuClient *client, const char *room, guint count, gboolean more, Page *page)
{
  page->loaded = TRUE;
  page->count = count;
}

static gboolean
page_loaded (QuipuBenchFleet *fleet, gpointer data)
{
  return ((Page *) data)->loaded;
}

static gboolean
seeded (QuipuBenchFleet *fleet, gpointer data)
{
  const QuipuBenchCounters *counters = quipu_bench_fleet_counters (fleet);

  return counters->acked + counters->errors >= (guint64) GPOINTER_TO_SIZE (data);
}

static gboolean
run_history (Run *run, GError **error)
{
  Options *options = run->options;
  QuipuClient *client = quipu_bench_fleet_get_client (run->fleet, 0);
  g_autoptr(QuipuBenchHistogram) pages = quipu_bench_histogram_new ();
  const char *room = options->room;
  Page page = { 0 };
  guint count = 0;

  if (!login (run, error))
    return FALSE;
  if (options->seed > 0)
    {
      quipu_bench_fleet_start_sending (run->fleet, 1, options->size, 0, options->window, options->seed);
      quipu_bench_fleet_run_until (run->fleet, seeded, GSIZE_TO_POINTER (options->seed), G_MAXINT64,
                                   "seeding");
      quipu_bench_fleet_stop_sending (run->fleet);
    }
  if (!measure_start (run, error))
    return FALSE;
  g_signal_connect (client, "history-loaded", G_CALLBACK (on_history_loaded), &page);
  for (int i = 0; i < options->pages; i++)
    {
      gint64 asked = g_get_monotonic_time ();

      page.loaded = FALSE;
      if (!quipu_client_request_history (client, room, QUIPU_SEQ_MAX, options->page_size) ||
          !quipu_bench_fleet_run_until (run->fleet, page_loaded, &page, asked + 10 * G_USEC_PER_SEC, "page"))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "history page %d did not come", i);
          g_signal_handlers_disconnect_by_data (client, &page);
          return FALSE;
        }
      quipu_bench_histogram_add (pages, g_get_monotonic_time () - asked);
      count = page.count;
    }
  g_signal_handlers_disconnect_by_data (client, &page);
  report_counters (run);
  quipu_bench_report_add (run->report, "seeded", quipu_bench_fleet_counters (run->fleet)->acked, "");
  quipu_bench_report_add (run->report, "pages", options->pages, "");
  quipu_bench_report_add (run->report, "page_messages", count, "");
  quipu_bench_report_add_latency (run->report, "page", pages);
  return measure_end (run, g_get_monotonic_time (), options->pages, "page", error);
}

/* Main. */

static const char *modes[] = { "fanout", "idle", "logins", "history", NULL };

int
main (int argc, char **argv)
{
  Options options = {
    .sessions = 100, .endpoints = 4, .rooms = -1, .senders = 1, .size = 100, .window = 32,
    .duration = 5, .verify_sample = 0.01, .concurrency = 200, .pages = 100, .page_size = 200,
    .drain_timeout = 30,
  };
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &options.server, "quipu-server to load", "HOST:PORT" },
    { "server-fingerprint", 0, 0, G_OPTION_ARG_STRING, &options.fingerprint,
      "Its certificate (default: trusted on first use)", "SHA256:..." },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &options.server_pid,
      "Report its CPU and memory from /proc", "PID" },
    { "sessions", 'n', 0, G_OPTION_ARG_INT, &options.sessions, "Sessions to open (default 100)", "N" },
    { "endpoints", 0, 0, G_OPTION_ARG_INT, &options.endpoints, "UDP sockets they share (default 4)", "K" },
    { "rooms", 'r', 0, G_OPTION_ARG_INT, &options.rooms,
      "Rooms the sessions are spread over (default 1; idle and logins: 0, no join)", "R" },
    { "senders", 0, 0, G_OPTION_ARG_INT, &options.senders, "fanout: sessions that send (default 1)", "S" },
    { "size", 'b', 0, G_OPTION_ARG_INT, &options.size, "Message body bytes (default 100)", "B" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &options.rate,
      "fanout: messages/s in all (default 0: flat out)", "R" },
    { "window", 0, 0, G_OPTION_ARG_INT, &options.window,
      "Unacknowledged messages per sender (default 32)", "W" },
    { "duration", 't', 0, G_OPTION_ARG_DOUBLE, &options.duration,
      "fanout and idle: seconds (default 5)", "T" },
    { "messages", 'm', 0, G_OPTION_ARG_INT64, &options.messages, "fanout: send this many instead", "M" },
    { "verify-sample", 0, 0, G_OPTION_ARG_DOUBLE, &options.verify_sample,
      "Fraction of deliveries whose signature is checked (default 0.01)", "P" },
    { "concurrency", 'c', 0, G_OPTION_ARG_INT, &options.concurrency, "Logins in flight (default 200)", "C" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &options.seed, "history: messages to write first", "M" },
    { "pages", 0, 0, G_OPTION_ARG_INT, &options.pages, "history: pages to ask for (default 100)", "P" },
    { "page-size", 0, 0, G_OPTION_ARG_INT, &options.page_size,
      "history: messages per page (default 200)", "N" },
    { "drain-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options.drain_timeout,
      "fanout: seconds to wait for the last deliveries (default 30)", "S" },
    { "room", 0, 0, G_OPTION_ARG_STRING, &options.room,
      "history: the room; others: rooms are ROOM0, ROOM1, ... (default: the user prefix)", "ROOM" },
    { "user-prefix", 0, 0, G_OPTION_ARG_STRING, &options.user_prefix,
      "Session names start with this (default: random per run)", "PREFIX" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, "Print the results as JSON", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("fanout|idle|logins|history");
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuBenchFleet) fleet = NULL;
  g_autoptr(QuipuBenchReport) report = NULL;
  g_autofree char *scratch = NULL;
  g_auto(GStrv) rooms = NULL;
  QuipuBenchFleetOptions fleet_options;
  const char *mode;
  Run run = { &options };
  gboolean ok = FALSE;

  setlocale (LC_ALL, "");
  g_option_context_set_summary (context, "Loads a quipu-server with many sessions from one process and "
                                         "reports rates, latencies and the server's CPU and memory.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("quipu-bench: %s\n", error->message);
      return 2;
    }
  mode = argc == 2 ? argv[1] : NULL;
  if (mode == NULL || !g_strv_contains (modes, mode) || options.server == NULL)
    {
      g_printerr ("quipu-bench: give --server HOST:PORT and one mode: fanout, idle, logins or history\n");
      return 2;
    }
  if (options.rooms < 0)
    options.rooms = g_str_equal (mode, "idle") || g_str_equal (mode, "logins") ? 0 : 1;
  /* History pages are read back, not checked: a seeded room's copies
   * carry signatures that do not match them (tests/bench/seed-history). */
  if (g_str_equal (mode, "history"))
    options.sessions = 1, options.rooms = 1, options.verify_sample = 0;
  if (options.sessions < 1 || options.endpoints < 1 || options.size < 1 || options.window < 1 ||
      options.senders < 1 || options.senders > options.sessions ||
      (g_str_equal (mode, "fanout") && options.rooms < 1))
    {
      g_printerr ("quipu-bench: fanout needs 1 <= senders <= sessions and at least one room; "
                  "sessions, endpoints, size and window must be positive\n");
      return 2;
    }
  if (options.user_prefix == NULL)
    options.user_prefix = g_strdup_printf ("b%08x-", g_random_int ());

  scratch = g_dir_make_tmp ("quipu-bench-XXXXXX", &error);
  if (scratch == NULL)
    {
      g_printerr ("quipu-bench: %s\n", error->message);
      return 1;
    }
  rooms = g_new0 (char *, options.rooms + 1);
  if (g_str_equal (mode, "history") && options.room != NULL)
    rooms[0] = g_strdup (options.room);
  for (int i = 0; i < options.rooms; i++)
    if (rooms[i] == NULL)
      rooms[i] = g_strdup_printf ("%s%d", options.room ? options.room : options.user_prefix, i);
  if (options.room == NULL)
    options.room = g_strdup (rooms[0]);

  fleet_options = (QuipuBenchFleetOptions) {
    .server = options.server,
    .fingerprint = options.fingerprint,
    .scratch_dir = scratch,
    .user_prefix = options.user_prefix,
    .n_endpoints = options.endpoints,
    .concurrency = options.concurrency,
    .verify_sample = options.verify_sample,
  };
  fleet = quipu_bench_fleet_new (&fleet_options, &error);
  if (fleet != NULL)
    {
      report = quipu_bench_report_new (mode);
      run.fleet = fleet;
      run.report = report;
      quipu_bench_fleet_add (fleet, options.sessions,
                             options.rooms > 0 ? (const char * const *) rooms : NULL);
      if (g_str_equal (mode, "fanout"))
        ok = run_fanout (&run, &error);
      else if (g_str_equal (mode, "idle"))
        ok = run_idle (&run, &error);
      else if (g_str_equal (mode, "logins"))
        ok = run_logins (&run, &error);
      else
        ok = run_history (&run, &error);
    }
  if (ok)
    {
      g_autofree char *text = options.json ? quipu_bench_report_to_json (report)
                                           : quipu_bench_report_to_table (report);

      fputs (text, stdout);
      ok = quipu_bench_fleet_counters (fleet)->errors == 0;
      if (!ok)
        g_printerr ("quipu-bench: %u errors\n", quipu_bench_fleet_counters (fleet)->errors);
    }
  else
    g_printerr ("quipu-bench: %s\n", error->message);

  g_clear_pointer (&fleet, quipu_bench_fleet_free);
  {
    g_autofree char *known_servers = g_build_filename (scratch, "known-servers", NULL);
    g_autofree char *known_users = g_build_filename (scratch, "known-users", NULL);

    g_unlink (known_servers);
    g_unlink (known_users);
    g_rmdir (scratch);
  }
  g_free (options.server);
  g_free (options.fingerprint);
  g_free (options.user_prefix);
  g_free (options.room);
  return ok ? 0 : 1;
}
