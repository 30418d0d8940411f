#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <stdarg.h>

#include "quipu-event.h"

void
quipu_log_event (GLogLevelFlags  level,
                 const char     *event,
                 const char     *peer,
                 const char     *user,
                 const char     *format,
                 ...)
{
  g_autofree char *message = NULL;
  /* syslog priorities, as GLib's own journald writer maps the levels. */
  const char *priority = level & G_LOG_LEVEL_ERROR ? "3"
                         : level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING) ? "4"
                         : level & G_LOG_LEVEL_MESSAGE ? "5"
                         : level & G_LOG_LEVEL_INFO ? "6" : "7";
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  /* Built after the message, so the array is never written to. */
  {
    const GLogField fields[] = {
      { "PRIORITY", priority, -1 },
      { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
      { "MESSAGE", message, -1 },
      { "QUIPU_EVENT", event, -1 },
      { "QUIPU_PEER", peer ? peer : "", -1 },
      { "QUIPU_USER", user ? user : "", -1 },
    };

    g_log_structured_array (level, fields, G_N_ELEMENTS (fields));
  }
}
