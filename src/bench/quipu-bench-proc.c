#define G_LOG_DOMAIN "quipu-bench-proc"

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quipu-bench-proc.h"

static guint64
status_kib (const char *status, const char *field)
{
  const char *line = strstr (status, field);

  return line != NULL ? g_ascii_strtoull (line + strlen (field), NULL, 10) : 0;
}

gboolean
quipu_bench_proc_read (int              pid,
                       QuipuBenchProc  *out,
                       GError         **error)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *stat = NULL;
  g_autofree char *status = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_name;

  if (!g_file_get_contents (stat_path, &stat, NULL, error) ||
      !g_file_get_contents (status_path, &status, NULL, error))
    return FALSE;

  /* The command name may hold spaces and parentheses: fields start after
   * its last ')'. utime and stime are fields 14 and 15 (1-based), the 12th
   * and 13th after the name. */
  after_name = strrchr (stat, ')');
  if (after_name == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: unexpected format", stat_path);
      return FALSE;
    }
  fields = g_strsplit (after_name + 2, " ", 16);
  if (g_strv_length (fields) < 14)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: too few fields", stat_path);
      return FALSE;
    }
  out->cpu_s = (double) (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10)) /
               (double) sysconf (_SC_CLK_TCK);
  out->rss_kib = status_kib (status, "\nVmRSS:");
  out->hwm_kib = status_kib (status, "\nVmHWM:");
  return TRUE;
}
