#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "quipu-server.h"

#define DEFAULT_HISTORY_DAYS     365
#define DEFAULT_HISTORY_PER_ROOM 100000

static GMainLoop *loop;
static QuipuServer *server;
static gboolean stopping;

/* Writes INFO and up, one line each, to the journal when stderr is connected
 * to it and to stderr otherwise; DEBUG only with G_MESSAGES_DEBUG. */
static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *message = NULL;

  if (g_log_writer_is_journald (fileno (stderr)))
    return g_log_writer_journald (level, fields, n_fields, user_data);

  if ((level & G_LOG_LEVEL_DEBUG) && g_getenv ("G_MESSAGES_DEBUG") == NULL)
    return G_LOG_WRITER_HANDLED;

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    fprintf (stderr, "quipu-server: warning: %s\n", message);
  else
    fprintf (stderr, "quipu-server: %s\n", message);
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}

static gboolean
shutdown_done (gpointer data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer data)
{
  if (stopping)
    {
      /* A second signal: do not wait for goodbyes. */
      g_main_loop_quit (loop);
      return G_SOURCE_CONTINUE;
    }
  stopping = TRUE;
  quipu_server_shutdown (server, shutdown_done, NULL);
  return G_SOURCE_CONTINUE;
}

static void
replace_str (char **slot, const char *value)
{
  g_free (*slot);
  *slot = g_strdup (value);
}

static gboolean
parse_uint (const char *text, const char *what, guint *out, GError **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   /* Translators: the first %s is an option or setting such as --history-days */
                   _("%s must be a whole number, not '%s'"), what, text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
parse_sync (const char *text, gboolean *sync_normal, GError **error)
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

/* The [server] group of the config file; the command line overrides it. */
static gboolean
load_config_file (const char *path, QuipuServerConfig *config, GError **error)
{
  static const char * const known[] = {
    "listen", "data-dir", "cert", "key", "retry", "history-days", "history-max-per-room", "sync", NULL
  };
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_auto(GStrv) keys = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, _("cannot read config file %s: "), path);
      return FALSE;
    }
  keys = g_key_file_get_keys (file, "server", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = g_key_file_get_value (file, "server", keys[i], NULL);
      g_autoptr(GError) local_error = NULL;

      if (!g_strv_contains (known, keys[i]))
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                       /* Translators: the first %s is the config file; [server] is a section name: keep it in English */
                       _("%s: unknown key '%s' in [server]"), path, keys[i]);
          return FALSE;
        }
      if (g_str_equal (keys[i], "listen"))
        replace_str (&config->listen, value);
      else if (g_str_equal (keys[i], "data-dir"))
        replace_str (&config->data_dir, value);
      else if (g_str_equal (keys[i], "cert"))
        replace_str (&config->cert_path, value);
      else if (g_str_equal (keys[i], "key"))
        replace_str (&config->key_path, value);
      else if (g_str_equal (keys[i], "retry"))
        {
          config->require_retry = g_key_file_get_boolean (file, "server", "retry", &local_error);
          if (local_error != NULL)
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           /* Translators: the first %s is the config file; retry, true and false are keywords: keep them in English */
                           _("%s: retry must be true or false, not '%s'"), path, value);
              return FALSE;
            }
        }
      else if (g_str_equal (keys[i], "history-days"))
        {
          if (!parse_uint (value, "history-days", &config->history_days, error))
            return FALSE;
        }
      else if (g_str_equal (keys[i], "history-max-per-room"))
        {
          if (!parse_uint (value, "history-max-per-room", &config->history_max_per_room, error))
            return FALSE;
        }
      else if (g_str_equal (keys[i], "sync") && !parse_sync (value, &config->sync_normal, error))
        return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = NULL, *data_dir = NULL, *cert = NULL, *key = NULL, *config_path = NULL;
  g_autofree char *history_days = NULL, *history_per_room = NULL, *sync = NULL, *address = NULL;
  gboolean retry = FALSE, version = FALSE;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, N_("Address and UDP port to listen on (default [::]:7447)"), N_("ADDR:PORT") },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, N_("Where the database and the generated certificate live"), N_("DIR") },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, N_("TLS certificate chain (PEM)"), "PEM" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key, N_("TLS private key (PEM)"), "PEM" },
    /* Translators: [server] is a section name in the file: keep it in English */
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, N_("Read settings from the [server] group of FILE"), N_("FILE") },
    { "retry", 0, 0, G_OPTION_ARG_NONE, &retry, N_("Validate client addresses with a QUIC Retry first"), NULL },
    { "history-days", 0, 0, G_OPTION_ARG_STRING, &history_days, N_("Delete messages older than N days (0: keep; default 365)"), N_("N") },
    { "history-max-per-room", 0, 0, G_OPTION_ARG_STRING, &history_per_room, N_("Keep at most N messages per room (0: no limit; default 100000)"), N_("N") },
    /* Translators: full and normal are the values the option takes: keep them in English */
    { "sync", 0, 0, G_OPTION_ARG_STRING, &sync, N_("Database durability: full (survives power loss; default) or normal"), "full|normal" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_log_set_writer_func (log_writer, NULL, NULL);

  context = g_option_context_new (N_("- Quipu chat server"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    N_("Serves Quipu clients over QUIC (ALPN quipu/1). Without --cert/--key it creates a\n"
       "self-signed certificate in the data directory and prints its fingerprint.\n"
       "SIGINT or SIGTERM says goodbye to every client and exits."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("quipu-server: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("quipu-server %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc > 1)
    {
      g_autofree char *text = g_strdup_printf (_("unexpected argument '%s'"), argv[1]);

      g_printerr ("quipu-server: %s\n", text);
      return 2;
    }

  config.history_days = DEFAULT_HISTORY_DAYS;
  config.history_max_per_room = DEFAULT_HISTORY_PER_ROOM;
  if ((config_path != NULL && !load_config_file (config_path, &config, &error)) ||
      (history_days != NULL && !parse_uint (history_days, "--history-days", &config.history_days, &error)) ||
      (history_per_room != NULL &&
       !parse_uint (history_per_room, "--history-max-per-room", &config.history_max_per_room, &error)) ||
      (sync != NULL && !parse_sync (sync, &config.sync_normal, &error)))
    {
      g_printerr ("quipu-server: %s\n", error->message);
      return 2;
    }
  if (listen != NULL)
    replace_str (&config.listen, listen);
  if (data_dir != NULL)
    replace_str (&config.data_dir, data_dir);
  if (cert != NULL)
    replace_str (&config.cert_path, cert);
  if (key != NULL)
    replace_str (&config.key_path, key);
  if (retry)
    config.require_retry = TRUE;
  if (config.data_dir == NULL)
    config.data_dir = g_build_filename (g_get_user_state_dir (), "quipu-server", NULL);

  server = quipu_server_new (&config, &error);
  if (server == NULL)
    {
      g_printerr ("quipu-server: %s\n", error->message);
      return 1;
    }

  /* Handlers first: a supervisor may signal as soon as it reads the address. */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);

  /* Not translated: supervisors, scripts and the tests parse these two lines. */
  address = quipu_server_dup_address (server);
  g_print ("quipu-server %s listening on %s\n", PACKAGE_VERSION, address);
  g_print ("certificate fingerprint %s\n", quipu_server_get_fingerprint (server));
  fflush (stdout);

  g_main_loop_run (loop);

  g_clear_pointer (&server, quipu_server_free);
  g_main_loop_unref (loop);
  return 0;
}
