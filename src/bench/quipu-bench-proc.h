#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What /proc says of a process (the server under test, or the bench
 * itself): CPU time so far, resident memory now and at its peak. */
typedef struct {
  double  cpu_s;     /* user + system */
  guint64 rss_kib;   /* VmRSS */
  guint64 hwm_kib;   /* VmHWM: the peak resident size since it started */
} QuipuBenchProc;

/* FALSE with error if the process is gone or /proc cannot be read. */
gboolean quipu_bench_proc_read (int              pid,
                                QuipuBenchProc  *out,
                                GError         **error);

G_END_DECLS
