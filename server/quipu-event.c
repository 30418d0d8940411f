#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "quipu-event.h"

/* Characters that would let a peer's text start a line of its own or hide
 * what follows: C0 and C1 controls, DEL, and the Unicode line and paragraph
 * separators some log viewers honour. */
static gboolean
needs_escape (gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

static char *
escape (const char *text,
        gsize       max_bytes,
        gboolean    backslash)
{
  g_autofree char *valid = NULL;
  GString *out;
  const char *p;

  if (text == NULL)
    return g_strdup ("");
  /* Invalid UTF-8 becomes U+FFFD, so a viewer cannot merge bytes with ours. */
  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (MIN (strlen (valid), max_bytes) + 8);
  for (p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      gsize before = out->len;

      if (c == '\\' && backslash)
        g_string_append (out, "\\\\");
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (needs_escape (c))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);

      if (out->len > max_bytes)
        {
          /* Cut at a whole character or escape, and say so. */
          g_string_truncate (out, before);
          g_string_append (out, "…");
          break;
        }
    }
  return g_string_free (out, FALSE);
}

char *
quipu_log_quote (const char *text)
{
  return escape (text, QUIPU_LOG_MAX_FIELD, TRUE);
}

void
quipu_log_event (GLogLevelFlags  level,
                 const char     *event,
                 const char     *peer,
                 const char     *user,
                 const char     *format,
                 ...)
{
  g_autofree char *raw = NULL;
  g_autofree char *message = NULL;
  g_autofree char *safe_peer = NULL;
  g_autofree char *safe_user = NULL;
  /* syslog priorities: CRITICAL is this server's "error" (disk full, a
   * store it cannot write), since GLib's ERROR level aborts. */
  const char *priority = level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL) ? "3"
                         : level & G_LOG_LEVEL_WARNING ? "4"
                         : level & G_LOG_LEVEL_MESSAGE ? "5"
                         : level & G_LOG_LEVEL_INFO ? "6" : "7";
  va_list args;

  va_start (args, format);
  raw = g_strdup_vprintf (format, args);
  va_end (args);

  /* Every record is one line however its parts were made: peers' strings
   * reach the format through many handlers, and this is the one place all
   * of them pass. Backslashes stay as they are here: handlers quote what
   * they know comes from a peer with quipu_log_quote(), which escapes them
   * too, so an escape in a quoted string is never the peer's own text. */
  message = escape (raw, QUIPU_LOG_MAX_MESSAGE, FALSE);
  safe_peer = escape (peer, QUIPU_LOG_MAX_FIELD, FALSE);
  safe_user = escape (user, QUIPU_LOG_MAX_FIELD, FALSE);

  /* Built after the message, so the array is never written to. */
  {
    const GLogField fields[] = {
      { "PRIORITY", priority, -1 },
      { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
      { "MESSAGE", message, -1 },
      { "QUIPU_EVENT", event, -1 },
      { "QUIPU_PEER", safe_peer, -1 },
      { "QUIPU_USER", safe_user, -1 },
    };

    g_log_structured_array (level, fields, G_N_ELEMENTS (fields));
  }
}

gboolean
quipu_log_limit_allow (QuipuLogLimit *limit,
                       guint          interval_s,
                       guint         *suppressed)
{
  gint64 now = g_get_monotonic_time ();

  if (now < limit->next_us)
    {
      limit->suppressed++;
      return FALSE;
    }
  *suppressed = limit->suppressed;
  limit->suppressed = 0;
  limit->next_us = now + (gint64) interval_s * G_USEC_PER_SEC;
  return TRUE;
}

void
quipu_log_store_error (guint64      *failures,
                       const char   *what,
                       const GError *error)
{
  /* One store per server: one limit. A full disk fails every write of
   * every batch; the admin needs to hear it, not thousands of times. */
  static QuipuLogLimit limit;
  guint suppressed = 0;

  (*failures)++;
  if (!quipu_log_limit_allow (&limit, QUIPU_STORE_LOG_INTERVAL_S, &suppressed))
    return;
  if (suppressed > 0)
    quipu_log_event (G_LOG_LEVEL_CRITICAL, "store-error", NULL, NULL,
                     "%s: %s (and %u more store failures since the last report)",
                     what, error->message, suppressed);
  else
    quipu_log_event (G_LOG_LEVEL_CRITICAL, "store-error", NULL, NULL, "%s: %s", what, error->message);
}
