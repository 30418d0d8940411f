#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <errno.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "quipu-config.h"
#include "quipu-tls.h"
#include "quipu-wire.h"

static void
replace_str (char       **slot,
             const char  *value)
{
  g_free (*slot);
  *slot = g_strdup (value);
}

#define LIMIT(key, field, value, help) \
  { key, G_STRUCT_OFFSET (QuipuLimitsConfig, field), value, help, 0 }
#define LIMIT_UP_TO(key, field, value, max, help) \
  { key, G_STRUCT_OFFSET (QuipuLimitsConfig, field), value, help, max }

/* The defaults are generous for a person and for `quipu-cli chat` piping a
 * file; they stop one peer from holding rooms, names, connections, the log
 * or the disk by the thousand. quipu-server.conf(5) explains each. */
const QuipuLimitKey quipu_config_limit_keys[] = {
  LIMIT ("max-rooms-per-connection", max_rooms_per_connection, 1000,
         N_("Most rooms one connection may be in (0: no limit; default 1000)")),
  LIMIT ("registrations-per-hour", registrations_per_hour, 60,
         N_("Most new names registered from one address per hour (0: no limit; default 60)")),
  LIMIT ("max-connections-per-address", max_connections_per_address, 500,
         N_("Most connections from one address, logged in or not (0: no limit; default 500)")),
  LIMIT ("login-timeout", login_timeout, 10,
         N_("Close a connection that has not logged in N seconds after its handshake (0: never; default 10)")),
  /* A handshake in progress holds ~60 KB for up to 10 s, and lasts a
   * round trip and a few ms of CPU when all is well. 64 at once from one
   * address is more than a campus NAT starts at the same instant; 1 000 in
   * total is ~60 MB and five times the 200 logins quipu-bench keeps in
   * flight, so Retry (one round trip more) starts only under a flood or
   * when every client of a restarted server comes back at once. */
  LIMIT ("max-handshakes-per-address", max_handshakes_per_address, 64,
         N_("Most handshakes in progress from one address; more are refused as busy (0: no limit; default 64)")),
  LIMIT ("retry-threshold", retry_threshold, 1000,
         N_("Ask new clients for a QUIC Retry while N handshakes are in progress (0: only with --retry; default 1000)")),
  LIMIT ("message-rate", message_rate, 200,
         N_("Messages a user may send per second, past the burst (0: no limit; default 200)")),
  LIMIT ("message-burst", message_burst, 20000,
         N_("Messages a user may send at once (default 20000)")),
  LIMIT ("join-rate", join_rate, 20,
         N_("Joins and leaves per second per user, past the burst (0: no limit; default 20)")),
  LIMIT ("join-burst", join_burst, 2000,
         N_("Joins and leaves a user may make at once (default 2000)")),
  LIMIT ("error-rate", error_rate, 10,
         N_("Refused requests and reported errors per second per user, past the burst (0: no limit; default 10)")),
  LIMIT ("error-burst", error_burst, 200,
         N_("Refused requests and reported errors a user may cause at once (default 200)")),
  LIMIT ("log-lines-per-minute", log_lines_per_minute, 60,
         N_("Log lines about one connection per minute, past a burst of as many (0: no limit; default 60)")),
  LIMIT ("name-retention-days", name_retention_days, 365,
         N_("Give back names not logged in for N days, once nothing they sent is kept (0: never; default 365)")),
  LIMIT ("inbox-max-per-user", inbox_max_per_user, 10000,
         N_("Keep at most the newest N direct messages in each inbox (0: no limit; default 10000)")),
  LIMIT ("empty-room-days", empty_room_days, 30,
         N_("Forget rooms that never had a message once not joined for N days (0: never; default 30)")),
  /* 512 MiB: 64 clients the full 8 MiB behind at once, or thousands of
   * readers with the few hundred KiB a live room keeps in flight, on a
   * small machine; past it the slowest readers go first. */
  LIMIT ("max-queued-kib", max_queued_kib, 512 * 1024,
         N_("Most KiB queued for all clients together; past it the slowest readers are closed (0: no limit; default 524288)")),
  LIMIT_UP_TO ("max-queued-per-connection-kib", max_queued_per_connection_kib,
               QUIPU_CONFIG_MAX_QUEUED_PER_CONNECTION_KIB, QUIPU_CONFIG_MAX_QUEUED_PER_CONNECTION_KIB,
               N_("Most KiB queued for one client before it counts as not reading and is closed (1 to 8192; default 8192)")),
};
const guint quipu_config_n_limit_keys = G_N_ELEMENTS (quipu_config_limit_keys);

void
quipu_server_config_init (QuipuServerConfig *config)
{
  *config = (QuipuServerConfig) {
    .history_days = QUIPU_CONFIG_DEFAULT_HISTORY_DAYS,
    .history_max_per_room = QUIPU_CONFIG_DEFAULT_HISTORY_PER_ROOM,
    .log_level = QUIPU_LOG_LEVEL_INFO,
  };
  for (guint i = 0; i < quipu_config_n_limit_keys; i++)
    *quipu_limits_config_slot (&config->limits, &quipu_config_limit_keys[i]) =
      quipu_config_limit_keys[i].default_value;
}

const QuipuLimitKey *
quipu_config_find_limit (const char *key)
{
  for (guint i = 0; i < quipu_config_n_limit_keys; i++)
    if (g_str_equal (quipu_config_limit_keys[i].key, key))
      return &quipu_config_limit_keys[i];
  return NULL;
}

gboolean
quipu_config_parse_limit (const QuipuLimitKey  *key,
                          const char           *text,
                          const char           *name,
                          QuipuLimitsConfig    *limits,
                          GError              **error)
{
  guint value;

  if (!quipu_config_parse_uint (text, name, &value, error))
    return FALSE;
  if (key->max_value > 0 && (value == 0 || value > key->max_value))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* Translators: the first %s is an option or setting such as --max-queued-per-connection-kib */
                   _("%s must be from 1 to %u, not '%s'"), name, key->max_value, text);
      return FALSE;
    }
  *quipu_limits_config_slot (limits, key) = value;
  return TRUE;
}

void
quipu_server_config_clear (QuipuServerConfig *config)
{
  g_clear_pointer (&config->listen, g_free);
  g_clear_pointer (&config->data_dir, g_free);
  g_clear_pointer (&config->cert_path, g_free);
  g_clear_pointer (&config->key_path, g_free);
}

void
quipu_server_config_copy (QuipuServerConfig       *dest,
                          const QuipuServerConfig *src)
{
  *dest = *src;
  dest->listen = g_strdup (src->listen);
  dest->data_dir = g_strdup (src->data_dir);
  dest->cert_path = g_strdup (src->cert_path);
  dest->key_path = g_strdup (src->key_path);
}

gboolean
quipu_config_parse_uint (const char  *text,
                         const char  *key,
                         guint       *out,
                         GError     **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* Translators: the first %s is an option or setting such as --history-days */
                   _("%s must be a whole number, not '%s'"), key, text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

gboolean
quipu_config_parse_sync (const char  *text,
                         gboolean    *sync_normal,
                         GError     **error)
{
  if (g_strcmp0 (text, "full") == 0 || g_strcmp0 (text, "normal") == 0)
    {
      *sync_normal = g_strcmp0 (text, "normal") == 0;
      return TRUE;
    }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               /* Translators: sync is a setting and full and normal its values: keep them in English */
               _("sync must be 'full' or 'normal', not '%s'"), text);
  return FALSE;
}

static const char * const log_level_names[] = { "warning", "info", "debug", NULL };

gboolean
quipu_config_parse_log_level (const char     *text,
                              QuipuLogLevel  *level,
                              GError        **error)
{
  for (guint i = 0; log_level_names[i] != NULL; i++)
    if (g_strcmp0 (text, log_level_names[i]) == 0)
      {
        *level = i;
        return TRUE;
      }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               /* Translators: log-level is a setting and warning, info and debug its values: keep them in English */
               _("log-level must be 'warning', 'info' or 'debug', not '%s'"), text);
  return FALSE;
}

const char *
quipu_log_level_to_string (QuipuLogLevel level)
{
  g_return_val_if_fail (level <= QUIPU_LOG_LEVEL_DEBUG, NULL);
  return log_level_names[level];
}

GInetSocketAddress *
quipu_config_parse_listen (const char  *text,
                           GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_parse (text, QUIPU_DEFAULT_PORT, NULL);
  g_autoptr(GInetAddress) address = NULL;
  const char *host;

  if (connectable != NULL)
    {
      host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
      address = g_inet_address_new_from_string (host);
      if (address != NULL)
        return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address,
                                                                 g_network_address_get_port (G_NETWORK_ADDRESS (connectable))));
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("cannot listen on '%s': expected an IP address and port such as [::]:7447 or 127.0.0.1:7447"), text);
  return NULL;
}

static void
add_problem (GPtrArray   *problems,
             const char  *path,
             GError      *error)
{
  g_ptr_array_add (problems, g_strdup_printf ("%s: %s", path, error->message));
}

/* One key of [server]; FALSE with `error` set when its value is bad. */
static gboolean
load_key (QuipuServerConfig  *config,
          GKeyFile           *file,
          const char         *key,
          const char         *value,
          GError            **error)
{
  g_autoptr(GError) local_error = NULL;

  if (g_str_equal (key, "listen"))
    replace_str (&config->listen, value);
  else if (g_str_equal (key, "data-dir"))
    replace_str (&config->data_dir, value);
  else if (g_str_equal (key, "cert"))
    replace_str (&config->cert_path, value);
  else if (g_str_equal (key, "key"))
    replace_str (&config->key_path, value);
  else if (g_str_equal (key, "retry"))
    {
      gboolean retry = g_key_file_get_boolean (file, "server", "retry", &local_error);

      if (local_error != NULL)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       /* Translators: retry, true and false are keywords: keep them in English */
                       _("retry must be true or false, not '%s'"), value);
          return FALSE;
        }
      config->require_retry = retry;
    }
  else if (g_str_equal (key, "history-days"))
    return quipu_config_parse_uint (value, "history-days", &config->history_days, error);
  else if (g_str_equal (key, "history-max-per-room"))
    return quipu_config_parse_uint (value, "history-max-per-room", &config->history_max_per_room, error);
  else if (g_str_equal (key, "sync"))
    return quipu_config_parse_sync (value, &config->sync_normal, error);
  else if (g_str_equal (key, "log-level"))
    return quipu_config_parse_log_level (value, &config->log_level, error);
  else if (g_str_equal (key, "store-max-pages"))
    return quipu_config_parse_uint (value, "store-max-pages", &config->store_max_pages, error);
  else if (quipu_config_find_limit (key) != NULL)
    return quipu_config_parse_limit (quipu_config_find_limit (key), value, key, &config->limits, error);
  else
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                   /* Translators: [server] is a section name: keep it in English */
                   _("unknown key '%s' in [server]"), key);
      return FALSE;
    }
  return TRUE;
}

gboolean
quipu_server_config_load_file (QuipuServerConfig *config,
                               const char        *path,
                               GPtrArray         *problems)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) keys = NULL;
  guint before = problems->len;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &error))
    {
      g_ptr_array_add (problems, g_strdup_printf (_("cannot read config file %s: %s"), path, error->message));
      return FALSE;
    }
  keys = g_key_file_get_keys (file, "server", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = g_key_file_get_value (file, "server", keys[i], NULL);

      if (!load_key (config, file, keys[i], value, &error))
        {
          add_problem (problems, path, error);
          g_clear_error (&error);
        }
    }
  return problems->len == before;
}

/* The data directory must exist and be writable, or be creatable. */
static void
check_data_dir (const char *dir,
                GPtrArray  *problems)
{
  g_autofree char *existing = g_strdup (dir);

  while (!g_file_test (existing, G_FILE_TEST_EXISTS))
    {
      g_autofree char *parent = g_path_get_dirname (existing);

      if (g_str_equal (parent, existing))
        break;
      g_free (existing);
      existing = g_steal_pointer (&parent);
    }
  if (!g_file_test (existing, G_FILE_TEST_IS_DIR))
    g_ptr_array_add (problems, g_strdup_printf (_("data directory %s: %s is not a directory"), dir, existing));
  else if (g_access (existing, W_OK | X_OK) != 0)
    g_ptr_array_add (problems, g_strdup_printf (_("data directory %s: %s is not writable: %s"),
                                                dir, existing, g_strerror (errno)));
}

gboolean
quipu_server_config_check (const QuipuServerConfig *config,
                           GPtrArray               *problems)
{
  guint before = problems->len;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;

  address = quipu_config_parse_listen (config->listen ? config->listen : "[::]:7447", &error);
  if (address == NULL)
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      g_clear_error (&error);
    }

  if ((config->cert_path == NULL) != (config->key_path == NULL))
    g_ptr_array_add (problems, g_strdup (_("--cert and --key go together: give both or neither")));
  else if (config->cert_path != NULL)
    {
      g_autoptr(QuipuServerCredentials) credentials =
        quipu_server_credentials_load (config->cert_path, config->key_path, &error);

      if (credentials == NULL)
        g_ptr_array_add (problems, g_strdup (error->message));
    }

  if (config->data_dir != NULL)
    check_data_dir (config->data_dir, problems);

  return problems->len == before;
}
