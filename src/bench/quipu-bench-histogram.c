#define G_LOG_DOMAIN "quipu-bench-histogram"

#include "config.h"

#include "quipu-bench-histogram.h"

#define SUB_BITS 4
#define SUB_BUCKETS (1 << SUB_BITS)
#define N_BUCKETS (64 * SUB_BUCKETS)

struct _QuipuBenchHistogram {
  guint64 buckets[N_BUCKETS];
  guint64 count;
  gint64  max;
};

QuipuBenchHistogram *
quipu_bench_histogram_new (void)
{
  return g_new0 (QuipuBenchHistogram, 1);
}

void
quipu_bench_histogram_free (QuipuBenchHistogram *self)
{
  g_free (self);
}

/* Values below SUB_BUCKETS have a bucket each; above, the power of two
 * picks a group and the next SUB_BITS bits the bucket inside it. */
static guint
bucket_of (guint64 value)
{
  guint exponent;

  if (value < SUB_BUCKETS)
    return value;
  exponent = g_bit_nth_msf (value, -1);
  return (exponent - SUB_BITS + 1) * SUB_BUCKETS + ((value >> (exponent - SUB_BITS)) & (SUB_BUCKETS - 1));
}

/* The highest value that falls in `bucket`. */
static guint64
bucket_top (guint bucket)
{
  guint group = bucket / SUB_BUCKETS;
  guint64 sub = bucket % SUB_BUCKETS;
  guint shift;

  if (group == 0)
    return sub;
  shift = group - 1;
  return ((SUB_BUCKETS + sub + 1) << shift) - 1;
}

void
quipu_bench_histogram_add (QuipuBenchHistogram *self,
                           gint64               value)
{
  guint64 v = value < 0 ? 0 : (guint64) value;

  self->buckets[bucket_of (v)]++;
  self->count++;
  self->max = MAX (self->max, (gint64) v);
}

guint64
quipu_bench_histogram_count (QuipuBenchHistogram *self)
{
  return self->count;
}

gint64
quipu_bench_histogram_max (QuipuBenchHistogram *self)
{
  return self->max;
}

gint64
quipu_bench_histogram_percentile (QuipuBenchHistogram *self,
                                  double               fraction)
{
  guint64 rank, seen = 0;

  if (self->count == 0)
    return 0;
  rank = (guint64) (fraction * (double) self->count);
  rank = CLAMP (rank, 1, self->count);
  for (guint i = 0; i < N_BUCKETS; i++)
    {
      seen += self->buckets[i];
      if (seen >= rank)
        return MIN ((gint64) bucket_top (i), self->max);
    }
  return self->max;
}
