#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char     *listen;               /* "ADDR:PORT"; default [::]:7447 */
  char     *data_dir;             /* holds quipu.db and, if generated, the certificate */
  char     *cert_path;            /* with key_path, or both NULL for self-signed */
  char     *key_path;
  gboolean  require_retry;        /* address validation with QUIC Retry */
  guint     history_days;         /* 0: forever */
  guint     history_max_per_room; /* 0: no limit */
  gboolean  sync_normal;          /* SQLite synchronous=NORMAL instead of FULL */
} QuipuServerConfig;

void quipu_server_config_clear (QuipuServerConfig *config);

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
/* DISCONNECT and CONNECTION_CLOSE to every client, then `done`. */
void         quipu_server_shutdown        (QuipuServer *server,
                                           GSourceFunc  done,
                                           gpointer     data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuServer, quipu_server_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QuipuServerConfig, quipu_server_config_clear)

G_END_DECLS
