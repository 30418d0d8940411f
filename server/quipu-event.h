#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One structured log record per server event, for journald: MESSAGE for
 * people, QUIPU_EVENT/QUIPU_PEER/QUIPU_USER for `journalctl QUIPU_EVENT=…`.
 * `peer` and `user` may be NULL. Every log line of the server goes
 * through here. */
void quipu_log_event (GLogLevelFlags  level,
                      const char     *event,
                      const char     *peer,
                      const char     *user,
                      const char     *format,
                      ...) G_GNUC_PRINTF (5, 6);

G_END_DECLS
