#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest MESSAGE of a record, and longest peer-supplied string quoted in
 * one (a CLIENT field, an ERROR text), in bytes after escaping. */
#define QUIPU_LOG_MAX_MESSAGE 2048
#define QUIPU_LOG_MAX_FIELD   200

/* One structured log record per server event, for journald: MESSAGE for
 * people, QUIPU_EVENT/QUIPU_PEER/QUIPU_USER for `journalctl QUIPU_EVENT=…`.
 * `peer` and `user` may be NULL. Every log line of the server goes
 * through here, and leaves as one line: control characters in the message
 * and the fields are escaped, and the message bounded. */
void quipu_log_event (GLogLevelFlags  level,
                      const char     *event,
                      const char     *peer,
                      const char     *user,
                      const char     *format,
                      ...) G_GNUC_PRINTF (5, 6);

/* What a peer sent (NULL gives ""), for a log message: one printable line
 * of at most QUIPU_LOG_MAX_FIELD bytes plus an ellipsis, with \\, \n, \r,
 * \t and \uXXXX escapes for backslashes, controls and line separators,
 * and invalid UTF-8 replaced. */
char *quipu_log_quote (const char *text);

/* At most one record per interval for one kind of trouble: the first
 * passes at once, the rest of the interval are counted. */
typedef struct {
  gint64 next_us;     /* monotonic time from which the next one passes */
  guint  suppressed;  /* held back since the last that passed */
} QuipuLogLimit;

/* TRUE if a record may be written now; then *suppressed says how many were
 * held back since the one before. */
gboolean quipu_log_limit_allow (QuipuLogLimit *limit,
                                guint          interval_s,
                                guint         *suppressed);

#define QUIPU_STORE_LOG_INTERVAL_S 60

/* The store cannot write (disk full, I/O error): one record at error
 * priority per QUIPU_STORE_LOG_INTERVAL_S, however many writes failed;
 * every failure adds one to *failures. */
void quipu_log_store_error (guint64      *failures,
                            const char   *what,
                            const GError *error);

G_END_DECLS
