#define G_LOG_DOMAIN "quipu-bench-measure"

#include "config.h"

#include <sys/resource.h>

#include "quipu-bench-measure.h"

static double
self_cpu (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (double) usage.ru_utime.tv_sec + (double) usage.ru_utime.tv_usec / 1e6 +
         (double) usage.ru_stime.tv_sec + (double) usage.ru_stime.tv_usec / 1e6;
}

gboolean
quipu_bench_measure_start (QuipuBenchMeasure  *self,
                           int                 server_pid,
                           GError            **error)
{
  self->server_pid = server_pid;
  self->self_cpu_start = self_cpu ();
  self->start_us = g_get_monotonic_time ();
  return server_pid <= 0 || quipu_bench_proc_read (server_pid, &self->server_start, error);
}

gboolean
quipu_bench_measure_end (QuipuBenchMeasure  *self,
                         QuipuBenchReport   *report,
                         gint64              end_us,
                         double              work,
                         const char         *work_name,
                         GError            **error)
{
  QuipuBenchProc server_end;
  double wall = (double) (end_us - self->start_us) / G_USEC_PER_SEC;
  double bench_cpu = self_cpu () - self->self_cpu_start;
  double server_cpu;

  quipu_bench_report_add (report, "wall_s", wall, "s");
  quipu_bench_report_add (report, "bench_cpu_s", bench_cpu, "s");
  quipu_bench_report_add (report, "bench_cpu_percent", wall > 0 ? 100 * bench_cpu / wall : 0, "% of a core");
  if (self->server_pid <= 0)
    return TRUE;
  if (!quipu_bench_proc_read (self->server_pid, &server_end, error))
    return FALSE;
  server_cpu = server_end.cpu_s - self->server_start.cpu_s;
  quipu_bench_report_add (report, "server_cpu_s", server_cpu, "s");
  quipu_bench_report_add (report, "server_cpu_percent", wall > 0 ? 100 * server_cpu / wall : 0,
                          "% of a core");
  quipu_bench_report_add (report, "server_rss_kib", server_end.rss_kib, "KiB");
  quipu_bench_report_add (report, "server_peak_rss_kib", server_end.hwm_kib, "KiB");
  if (work > 0)
    {
      g_autofree char *name = g_strdup_printf ("server_cpu_us_per_%s", work_name);

      quipu_bench_report_add (report, name, server_cpu * 1e6 / work, "µs");
    }
  return TRUE;
}

char *
quipu_bench_body_new (gsize size)
{
  GString *body = g_string_sized_new (size + 24);

  g_string_printf (body, "%" G_GINT64_FORMAT " ", g_get_monotonic_time ());
  while (body->len < size)
    g_string_append_c (body, 'x');
  return g_string_free (body, FALSE);
}

gboolean
quipu_bench_body_get_time (const char *body,
                           gsize       len,
                           gint64     *sent_us)
{
  char digits[24];
  gsize n = 0;

  /* Bodies from the wire are not NUL-terminated everywhere: copy the digits. */
  while (n < len && n < sizeof digits - 1 && g_ascii_isdigit (body[n]))
    {
      digits[n] = body[n];
      n++;
    }
  if (n == 0)
    return FALSE;
  digits[n] = '\0';
  *sent_us = g_ascii_strtoll (digits, NULL, 10);
  return TRUE;
}
