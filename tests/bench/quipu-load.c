#define G_LOG_DOMAIN "quipu-load"

#include "config.h"

#include <stdio.h>

#include "quipu-bench-measure.h"
#include "quipu-bench-report.h"
#include "quipu-load.h"

struct _QuipuLoad {
  QuipuLoadOptions      *options;
  const QuipuLoadDriver *driver;
  gpointer               data;
  guint                  ready;
  guint                  errors;
  guint64                sent;
  guint64                acked;
  guint64                delivered;
  guint64                expected;
  gint64                 last_delivery_us;
  gboolean               sending;
  QuipuBenchHistogram   *latency;
};

GOptionGroup *
quipu_load_option_group (QuipuLoadOptions *options)
{
  const GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &options->host, "Server address (default 127.0.0.1)", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &options->port, "Server port", "PORT" },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &options->server_pid,
      "Report its CPU and memory from /proc", "PID" },
    { "receivers", 'n', 0, G_OPTION_ARG_INT, &options->receivers, "Receiving clients (default 10)", "N" },
    { "size", 'b', 0, G_OPTION_ARG_INT, &options->size, "Message body bytes (default 100)", "B" },
    { "duration", 't', 0, G_OPTION_ARG_DOUBLE, &options->duration, "Seconds of sending (default 5)", "T" },
    { "window", 0, 0, G_OPTION_ARG_INT, &options->window, "Unacknowledged messages (default 32)", "W" },
    { "drain-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &options->drain_timeout,
      "Seconds to wait for the last deliveries (default 30)", "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options->json, "Print the results as JSON", NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("load", "Load options", "Show the load options", NULL, NULL);

  options->host = g_strdup ("127.0.0.1");
  options->receivers = 10;
  options->size = 100;
  options->duration = 5;
  options->window = 32;
  options->drain_timeout = 30;
  g_option_group_add_entries (group, entries);
  return group;
}

void
quipu_load_ready (QuipuLoad *load)
{
  load->ready++;
}

void
quipu_load_error (QuipuLoad  *load,
                  const char *what)
{
  if (load->errors++ < 5)
    g_printerr ("load: %s\n", what);
}

void
quipu_load_sent (QuipuLoad *load)
{
  load->sent++;
}

void
quipu_load_acked (QuipuLoad *load,
                  guint      n)
{
  load->acked += n;
  load->expected += (guint64) n * load->options->receivers;
  for (guint i = 0; load->sending && i < n; i++)
    load->driver->send (load, load->data);
}

void
quipu_load_delivered (QuipuLoad  *load,
                      const char *body,
                      gsize       len)
{
  gint64 sent_us, now = g_get_monotonic_time ();

  if (!quipu_bench_body_get_time (body, len, &sent_us))
    {
      quipu_load_error (load, "a message without a send time");
      return;
    }
  quipu_bench_histogram_add (load->latency, now - sent_us);
  load->delivered++;
  load->last_delivery_us = now;
}

typedef gboolean (*Predicate) (QuipuLoad *load);

static gboolean
progress_cb (gpointer data)
{
  QuipuLoad *load = data;

  g_printerr ("load: ready %u/%d, sent %" G_GUINT64_FORMAT ", acked %" G_GUINT64_FORMAT
              ", delivered %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ", errors %u\n",
              load->ready, load->options->receivers + 1, load->sent, load->acked,
              load->delivered, load->expected, load->errors);
  return G_SOURCE_CONTINUE;
}

static gboolean
run_until (QuipuLoad *load, Predicate done, gint64 deadline_us, const char *phase)
{
  guint progress = g_timeout_add_seconds (1, progress_cb, load);
  gboolean reached;

  g_printerr ("load: %s\n", phase);
  while (!(reached = done (load)) && g_get_monotonic_time () < deadline_us)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (progress);
  return reached;
}

static gboolean
all_ready (QuipuLoad *load)
{
  return load->ready == (guint) load->options->receivers + 1 || load->errors > 0;
}

static gboolean
never (QuipuLoad *load)
{
  return FALSE;
}

static gboolean
drained (QuipuLoad *load)
{
  return load->acked >= load->sent && load->delivered >= load->expected;
}

int
quipu_load_run (const char            *name,
                QuipuLoadOptions      *options,
                const QuipuLoadDriver *driver,
                gpointer               data)
{
  g_autoptr(QuipuBenchHistogram) latency = quipu_bench_histogram_new ();
  g_autoptr(QuipuBenchReport) report = quipu_bench_report_new ("fanout");
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  QuipuLoad load = { options, driver, data, .latency = latency };
  QuipuBenchMeasure measure;
  gint64 end_us;
  double wall;

  if (!driver->connect_all (&load, data, &error))
    {
      g_printerr ("load: %s\n", error->message);
      return 1;
    }
  if (!run_until (&load, all_ready, g_get_monotonic_time () + (60 + options->receivers / 50) * G_USEC_PER_SEC,
                  "connecting") || load.errors > 0)
    {
      g_printerr ("load: only %u of %d clients got ready\n", load.ready, options->receivers + 1);
      return 1;
    }
  if (!quipu_bench_measure_start (&measure, options->server_pid, &error))
    {
      g_printerr ("load: %s\n", error->message);
      return 1;
    }
  load.sending = TRUE;
  for (int i = 0; i < options->window; i++)
    driver->send (&load, data);
  run_until (&load, never, measure.start_us + (gint64) (options->duration * G_USEC_PER_SEC), "sending");
  load.sending = FALSE;
  if (driver->flush != NULL)
    driver->flush (&load, data);
  end_us = g_get_monotonic_time () + (gint64) (options->drain_timeout * G_USEC_PER_SEC);
  if (!run_until (&load, drained, end_us, "draining"))
    g_printerr ("load: not every delivery arrived within %.0f s\n", options->drain_timeout);

  end_us = MAX (load.last_delivery_us, measure.start_us + 1);
  wall = (double) (end_us - measure.start_us) / G_USEC_PER_SEC;
  quipu_bench_report_add (report, "sessions", options->receivers + 1, "");
  quipu_bench_report_add (report, "errors", load.errors, "");
  quipu_bench_report_add (report, "senders", 1, "");
  quipu_bench_report_add (report, "receivers_per_room", options->receivers, "");
  quipu_bench_report_add (report, "size", options->size, "bytes");
  quipu_bench_report_add (report, "sent", load.sent, "");
  quipu_bench_report_add (report, "acked", load.acked, "");
  quipu_bench_report_add (report, "deliveries", load.delivered, "");
  quipu_bench_report_add (report, "expected_deliveries", load.expected, "");
  quipu_bench_report_add (report, "messages_per_s", load.acked / wall, "/s");
  quipu_bench_report_add (report, "deliveries_per_s", load.delivered / wall, "/s");
  quipu_bench_report_add_latency (report, "latency", latency);
  if (!quipu_bench_measure_end (&measure, report, end_us, load.delivered, "delivery", &error))
    {
      g_printerr ("load: %s\n", error->message);
      return 1;
    }
  if (load.delivered != load.expected)
    quipu_bench_report_add (report, "missing_deliveries", (double) load.expected - load.delivered, "");
  text = options->json ? quipu_bench_report_to_json (report) : quipu_bench_report_to_table (report);
  fputs (text, stdout);
  g_printerr ("load: %s done\n", name);
  return load.errors == 0 && load.delivered == load.expected ? 0 : 1;
}
