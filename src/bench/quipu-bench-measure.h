#pragma once

#include <glib.h>

#include "quipu-bench-proc.h"
#include "quipu-bench-report.h"

G_BEGIN_DECLS

/* One measured interval of a load test, shared by quipu-bench and the load
 * clients for other servers (tests/bench/) so all report the same figures
 * the same way: wall time, the load client's own CPU (is it the
 * bottleneck?) and, given the server's pid, its CPU and memory. */
typedef struct {
  int            server_pid;   /* <= 0: no server figures */
  QuipuBenchProc server_start;
  double         self_cpu_start;
  gint64         start_us;
} QuipuBenchMeasure;

gboolean quipu_bench_measure_start (QuipuBenchMeasure  *self,
                                    int                 server_pid,
                                    GError            **error);
/* Adds wall_s, bench_cpu_s, bench_cpu_percent and the server_* figures to
 * `report`; with `work` > 0, server_cpu_us_per_WORK_NAME too. */
gboolean quipu_bench_measure_end   (QuipuBenchMeasure  *self,
                                    QuipuBenchReport   *report,
                                    gint64              end_us,
                                    double              work,
                                    const char         *work_name,
                                    GError            **error);

/* A message body of `size` bytes that starts with the monotonic time in µs
 * (one clock: senders and receivers are in the same process), and that
 * time read back; FALSE if the body has none. */
char    *quipu_bench_body_new      (gsize               size);
gboolean quipu_bench_body_get_time (const char         *body,
                                    gsize               len,
                                    gint64             *sent_us);

G_END_DECLS
