#pragma once

#include <gio/gio.h>

#include "quipu-config.h"

G_BEGIN_DECLS

typedef struct _QuipuServer QuipuServer;

/* Opens the store, loads or creates the certificate and starts listening in
 * the thread-default main context. Errors are one line, naming the file or
 * address at fault. */
QuipuServer *quipu_server_new             (const QuipuServerConfig *config,
                                           GError                 **error);
void         quipu_server_free            (QuipuServer *server);
const char  *quipu_server_get_fingerprint (QuipuServer *server);
/* "[::]:7447", with the real port if 0 was asked. */
char        *quipu_server_dup_address     (QuipuServer *server);
/* A configuration reload (SIGHUP): applies what can change while running
 * (retention, durability, log level) and logs one line saying what changed
 * and what would need a restart. */
void         quipu_server_reconfigure     (QuipuServer             *server,
                                           const QuipuServerConfig *config);
/* Logs one "stats: key=value ..." line (SIGUSR1, and hourly): what the
 * server holds now and how often each limit refused something. */
void         quipu_server_log_stats       (QuipuServer *server);
/* DISCONNECT and CONNECTION_CLOSE to every client, then `done`. */
void         quipu_server_shutdown        (QuipuServer *server,
                                           GSourceFunc  done,
                                           gpointer     data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuServer, quipu_server_free)

G_END_DECLS
