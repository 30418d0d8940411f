#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  QUIPU_LOG_LEVEL_WARNING,  /* warnings and errors only */
  QUIPU_LOG_LEVEL_INFO,     /* and connections, logins, pruning (default) */
  QUIPU_LOG_LEVEL_DEBUG,    /* and everything the code says at debug level */
} QuipuLogLevel;

/* The limits that keep one peer from taking the server for itself; 0 turns
 * one off. Each is a key of [server] and an option of the same name
 * (quipu_config_limit_keys), reloadable. Rates are per second and per user
 * (all of a user's connections together), with a burst. */
typedef struct {
  guint max_rooms_per_connection;
  guint registrations_per_hour;        /* new names per client address */
  guint max_connections_per_address;   /* logged in and not yet */
  guint login_timeout;                 /* seconds from handshake to CONNECT */
  guint max_handshakes_per_address;    /* handshakes in progress from one address */
  guint retry_threshold;               /* handshakes in progress that switch Retry on */
  guint message_rate;
  guint message_burst;
  guint join_rate;                     /* JOINs and LEAVEs */
  guint join_burst;
  guint error_rate;                    /* requests refused, ERRORs the client sends */
  guint error_burst;
  guint log_lines_per_minute;          /* per connection, past a burst of as many */
  guint name_retention_days;           /* names unused this long are given back */
  guint inbox_max_per_user;
  guint empty_room_days;
  guint max_queued_kib;                /* unacknowledged and held, all sessions together */
  guint max_queued_per_connection_kib; /* at most QUIPU_CONFIG_MAX_QUEUED_PER_CONNECTION_KIB */
} QuipuLimitsConfig;

/* The transport's own ceiling on what one connection may leave queued
 * (MAX_BACKLOG in quipu-connection.c): the per-connection limit can only
 * be set below it, so that the session, not the transport, decides. */
#define QUIPU_CONFIG_MAX_QUEUED_PER_CONNECTION_KIB 8192

typedef struct {
  const char *key;
  gsize       offset;          /* into QuipuLimitsConfig */
  guint       default_value;
  const char *help;            /* marked for translation */
  guint       max_value;       /* 0: any guint */
} QuipuLimitKey;

extern const QuipuLimitKey quipu_config_limit_keys[];
extern const guint quipu_config_n_limit_keys;
const QuipuLimitKey *quipu_config_find_limit (const char *key);
/* `text` as the value of `key` (`name` in messages: "--key" or "key"),
 * within the key's range. */
gboolean quipu_config_parse_limit (const QuipuLimitKey  *key,
                                   const char           *text,
                                   const char           *name,
                                   QuipuLimitsConfig    *limits,
                                   GError              **error);

static inline guint *
quipu_limits_config_slot (QuipuLimitsConfig   *limits,
                          const QuipuLimitKey *key)
{
  return G_STRUCT_MEMBER_P (limits, key->offset);
}

static inline guint
quipu_limits_config_get (const QuipuLimitsConfig *limits,
                         const QuipuLimitKey     *key)
{
  return G_STRUCT_MEMBER (guint, limits, key->offset);
}

/* What quipu-server runs with: the [server] group of the config file, then
 * the command line on top (quipu-server.conf(5) documents every key). */
typedef struct {
  char          *listen;               /* "ADDR:PORT"; default [::]:7447 */
  char          *data_dir;             /* holds quipu.db and, if generated, the certificate */
  char          *cert_path;            /* with key_path, or both NULL for self-signed */
  char          *key_path;
  gboolean       require_retry;        /* address validation with QUIC Retry */
  guint          history_days;         /* 0: forever */
  guint          history_max_per_room; /* 0: no limit */
  gboolean       sync_normal;          /* SQLite synchronous=NORMAL instead of FULL */
  QuipuLogLevel  log_level;
  guint          store_max_pages;      /* 0: none; for tests, a store that fills up */
  QuipuLimitsConfig limits;
} QuipuServerConfig;

#define QUIPU_CONFIG_DEFAULT_HISTORY_DAYS     365
#define QUIPU_CONFIG_DEFAULT_HISTORY_PER_ROOM 100000

/* The defaults, and the data directory under the user's state directory. */
void     quipu_server_config_init      (QuipuServerConfig *config);
void     quipu_server_config_clear     (QuipuServerConfig *config);
void     quipu_server_config_copy      (QuipuServerConfig       *dest,
                                        const QuipuServerConfig *src);

/* Reads the [server] group of `path` into `config`. Every problem found is
 * appended to `problems` as one line naming the file, and the other keys are
 * still read; FALSE if there was any. */
gboolean quipu_server_config_load_file (QuipuServerConfig *config,
                                        const char        *path,
                                        GPtrArray         *problems);

/* One setting given as text, as in the file or on the command line (`key` is
 * the name used in messages, e.g. "history-days" or "--history-days"). */
gboolean quipu_config_parse_uint       (const char  *text,
                                        const char  *key,
                                        guint       *out,
                                        GError     **error);
gboolean quipu_config_parse_sync       (const char  *text,
                                        gboolean    *sync_normal,
                                        GError     **error);
gboolean quipu_config_parse_log_level  (const char     *text,
                                        QuipuLogLevel  *level,
                                        GError        **error);
const char *quipu_log_level_to_string  (QuipuLogLevel level);
GInetSocketAddress *quipu_config_parse_listen (const char  *text,
                                               GError     **error);

/* What a start would trip over that parsing cannot see: the listen address,
 * the certificate and key (read and matched), the data directory. Appends
 * one line per problem; FALSE if there was any. Binds nothing, writes
 * nothing, so it is safe next to a running server. */
gboolean quipu_server_config_check     (const QuipuServerConfig *config,
                                        GPtrArray               *problems);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QuipuServerConfig, quipu_server_config_clear)

G_END_DECLS
