#define G_LOG_DOMAIN "quipu-bench-report"

#include "config.h"

#include <math.h>
#include <string.h>

#include "quipu-bench-report.h"

typedef struct {
  char       *name;
  double      value;
  const char *unit;   /* static */
} Entry;

struct _QuipuBenchReport {
  char   *mode;
  GArray *entries;
};

static void
entry_clear (Entry *entry)
{
  g_free (entry->name);
}

QuipuBenchReport *
quipu_bench_report_new (const char *mode)
{
  QuipuBenchReport *self = g_new0 (QuipuBenchReport, 1);

  self->mode = g_strdup (mode);
  self->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_array_set_clear_func (self->entries, (GDestroyNotify) entry_clear);
  return self;
}

void
quipu_bench_report_free (QuipuBenchReport *self)
{
  g_array_unref (self->entries);
  g_free (self->mode);
  g_free (self);
}

void
quipu_bench_report_add (QuipuBenchReport *self,
                        const char       *name,
                        double            value,
                        const char       *unit)
{
  Entry entry = { g_strdup (name), value, unit };

  g_array_append_val (self->entries, entry);
}

void
quipu_bench_report_add_latency (QuipuBenchReport    *self,
                                const char          *prefix,
                                QuipuBenchHistogram *histogram)
{
  static const struct { const char *suffix; double fraction; } points[] = {
    { "p50", 0.5 }, { "p99", 0.99 }, { "p999", 0.999 }, { "max", 1.0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (points); i++)
    {
      g_autofree char *name = g_strdup_printf ("%s_%s_us", prefix, points[i].suffix);

      quipu_bench_report_add (self, name,
                              quipu_bench_histogram_percentile (histogram, points[i].fraction), "µs");
    }
}

/* Whole numbers print as such; others with three significant decimals. */
static void
append_value (GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    g_string_append (out, "null");
  else if (value == floor (value) && fabs (value) < 1e15)
    g_string_append_printf (out, "%.0f", value);
  else
    g_string_append (out, g_ascii_formatd (buffer, sizeof buffer, "%.3f", value));
}

char *
quipu_bench_report_to_table (QuipuBenchReport *self)
{
  GString *out = g_string_new (NULL);
  guint width = 4;

  for (guint i = 0; i < self->entries->len; i++)
    width = MAX (width, strlen (g_array_index (self->entries, Entry, i).name));
  g_string_append_printf (out, "%-*s  %s\n", (int) width, "mode", self->mode);
  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = &g_array_index (self->entries, Entry, i);

      g_string_append_printf (out, "%-*s  ", (int) width, entry->name);
      append_value (out, entry->value);
      if (entry->unit[0] != '\0')
        g_string_append_printf (out, " %s", entry->unit);
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

char *
quipu_bench_report_to_json (QuipuBenchReport *self)
{
  GString *out = g_string_new (NULL);

  /* Names are ours (lowercase, digits, underscores): nothing to escape. */
  g_string_append_printf (out, "{\"mode\": \"%s\"", self->mode);
  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = &g_array_index (self->entries, Entry, i);

      g_string_append_printf (out, ", \"%s\": ", entry->name);
      append_value (out, entry->value);
    }
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}
