#pragma once

#include <glib.h>

#include "quipu-bench-histogram.h"

G_BEGIN_DECLS

/* The results of one run, in the order they were added, printed either as
 * an aligned table for people or as one flat JSON object for scripts (the
 * same names and values). */
typedef struct _QuipuBenchReport QuipuBenchReport;

QuipuBenchReport *quipu_bench_report_new     (const char       *mode);
void              quipu_bench_report_free    (QuipuBenchReport *self);
void              quipu_bench_report_add     (QuipuBenchReport *self,
                                              const char       *name,
                                              double            value,
                                              const char       *unit);
/* PREFIX_p50_us, _p99_us, _p999_us and _max_us. */
void              quipu_bench_report_add_latency (QuipuBenchReport    *self,
                                                  const char          *prefix,
                                                  QuipuBenchHistogram *histogram);
char             *quipu_bench_report_to_table (QuipuBenchReport *self);
char             *quipu_bench_report_to_json  (QuipuBenchReport *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuBenchReport, quipu_bench_report_free)

G_END_DECLS
