#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Latencies in microseconds, kept in log-linear buckets (16 per power of
 * two: any percentile is within 1/16 of the true value) so millions of
 * samples cost a fixed few KiB and one increment each. */
typedef struct _QuipuBenchHistogram QuipuBenchHistogram;

QuipuBenchHistogram *quipu_bench_histogram_new        (void);
void                 quipu_bench_histogram_free       (QuipuBenchHistogram *self);
void                 quipu_bench_histogram_add        (QuipuBenchHistogram *self,
                                                       gint64               value);
guint64              quipu_bench_histogram_count      (QuipuBenchHistogram *self);
gint64               quipu_bench_histogram_max        (QuipuBenchHistogram *self);
/* The value below which `fraction` (0..1) of the samples lie; 0 if empty. */
gint64               quipu_bench_histogram_percentile (QuipuBenchHistogram *self,
                                                       double               fraction);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuBenchHistogram, quipu_bench_histogram_free)

G_END_DECLS
