#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "quipu-backup.h"
#include "quipu-event.h"
#include "quipu-server.h"

static GMainLoop *loop;
static QuipuServer *server;
static gboolean stopping;
static QuipuLogLevel log_level = QUIPU_LOG_LEVEL_INFO;

/* log-level: warning keeps warnings, errors and notices (such as the
 * reload line); info adds the INFO events; debug, or G_MESSAGES_DEBUG as
 * before, everything. */
static gboolean
wanted (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_DEBUG)
    return log_level >= QUIPU_LOG_LEVEL_DEBUG || g_getenv ("G_MESSAGES_DEBUG") != NULL;
  if (level & G_LOG_LEVEL_INFO)
    return log_level >= QUIPU_LOG_LEVEL_INFO;
  return TRUE;
}

/* Writes what log-level wants, one line each, to the journal when stderr is
 * connected to it and to stderr otherwise. */
static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *message = NULL;

  if (!wanted (level))
    return G_LOG_WRITER_HANDLED;
  if (g_log_writer_is_journald (fileno (stderr)))
    return g_log_writer_journald (level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    fprintf (stderr, "quipu-server: error: %s\n", message);
  else if (level & G_LOG_LEVEL_WARNING)
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

/* The command line as given: re-applied over the config file at every
 * reload, so it keeps winning over the file. */
typedef struct {
  char     *listen;
  char     *data_dir;
  char     *cert;
  char     *key;
  char     *config_path;
  char     *history_days;
  char     *history_per_room;
  char     *sync;
  char     *log_level;
  char     *store_max_pages;
  char     *limits[32];       /* by index of quipu_config_limit_keys */
  gboolean  retry;
} Options;

static Options options;

static void
options_clear (Options *opts)
{
  g_free (opts->listen);
  g_free (opts->data_dir);
  g_free (opts->cert);
  g_free (opts->key);
  g_free (opts->config_path);
  g_free (opts->history_days);
  g_free (opts->history_per_room);
  g_free (opts->sync);
  g_free (opts->log_level);
  g_free (opts->store_max_pages);
  for (guint i = 0; i < G_N_ELEMENTS (opts->limits); i++)
    g_free (opts->limits[i]);
}

static void
replace_str (char       **slot,
             const char  *value)
{
  if (value == NULL)
    return;
  g_free (*slot);
  *slot = g_strdup (value);
}

static void
add_error (GPtrArray *problems,
           GError    *error)
{
  g_ptr_array_add (problems, g_strdup (error->message));
  g_error_free (error);
}

/* The config file, then the command line on top. Every problem found is one
 * line in `problems`. */
static gboolean
build_config (QuipuServerConfig *config,
              GPtrArray         *problems)
{
  GError *error = NULL;

  quipu_server_config_init (config);
  if (options.config_path != NULL)
    quipu_server_config_load_file (config, options.config_path, problems);
  if (options.history_days != NULL &&
      !quipu_config_parse_uint (options.history_days, "--history-days", &config->history_days, &error))
    add_error (problems, error);
  if (options.history_per_room != NULL &&
      !quipu_config_parse_uint (options.history_per_room, "--history-max-per-room",
                                &config->history_max_per_room, &error))
    add_error (problems, error);
  if (options.sync != NULL && !quipu_config_parse_sync (options.sync, &config->sync_normal, &error))
    add_error (problems, error);
  if (options.log_level != NULL && !quipu_config_parse_log_level (options.log_level, &config->log_level, &error))
    add_error (problems, error);
  if (options.store_max_pages != NULL &&
      !quipu_config_parse_uint (options.store_max_pages, "--store-max-pages", &config->store_max_pages, &error))
    add_error (problems, error);
  for (guint i = 0; i < quipu_config_n_limit_keys; i++)
    {
      const QuipuLimitKey *key = &quipu_config_limit_keys[i];
      g_autofree char *name = g_strconcat ("--", key->key, NULL);

      if (options.limits[i] != NULL &&
          !quipu_config_parse_limit (key, options.limits[i], name, &config->limits, &error))
        add_error (problems, error);
    }
  replace_str (&config->listen, options.listen);
  replace_str (&config->data_dir, options.data_dir);
  replace_str (&config->cert_path, options.cert);
  replace_str (&config->key_path, options.key);
  if (options.retry)
    config->require_retry = TRUE;
  if (config->data_dir == NULL)
    config->data_dir = g_build_filename (g_get_user_state_dir (), "quipu-server", NULL);
  return problems->len == 0;
}

static gboolean
on_stats (gpointer data)
{
  quipu_server_log_stats (server);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reload (gpointer data)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  if (!build_config (&config, problems))
    {
      g_autofree char *text = NULL;

      g_ptr_array_add (problems, NULL);
      text = g_strjoinv ("; ", (char **) problems->pdata);

      quipu_log_event (G_LOG_LEVEL_WARNING, "reload", NULL, NULL,
                       "cannot reload the configuration, keeping the running one: %s", text);
      return G_SOURCE_CONTINUE;
    }
  quipu_server_reconfigure (server, &config);
  log_level = config.log_level;
  return G_SOURCE_CONTINUE;
}

/* One option per limit, named as its key, under --help-limits. */
static GOptionGroup *
limits_group (void)
{
  GOptionGroup *group = g_option_group_new ("limits", _("Limits (see quipu-server.conf(5)):"),
                                            _("Show the options of the limits"), NULL, NULL);
  g_autofree GOptionEntry *entries = g_new0 (GOptionEntry, quipu_config_n_limit_keys + 1);

  g_assert (quipu_config_n_limit_keys <= G_N_ELEMENTS (options.limits));
  for (guint i = 0; i < quipu_config_n_limit_keys; i++)
    entries[i] = (GOptionEntry) {
      quipu_config_limit_keys[i].key, 0, 0, G_OPTION_ARG_STRING, &options.limits[i],
      quipu_config_limit_keys[i].help, "N"
    };
  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  return group;
}

static int
check_config (void)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

  build_config (&config, problems);
  quipu_server_config_check (&config, problems);
  for (guint i = 0; i < problems->len; i++)
    g_printerr ("quipu-server: %s\n", (char *) g_ptr_array_index (problems, i));
  return problems->len == 0 ? 0 : 1;
}

/* A second process next to the running server, on the same data directory. */
static int
backup (const char *dest)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *db_path = NULL;
  guint64 n_messages = 0;

  if (!build_config (&config, problems))
    {
      g_printerr ("quipu-server: %s\n", (char *) g_ptr_array_index (problems, 0));
      return 2;
    }
  db_path = g_build_filename (config.data_dir, "quipu.db", NULL);
  if (!quipu_backup_database (db_path, dest, &n_messages, &error))
    {
      g_printerr ("quipu-server: %s\n", error->message);
      return 1;
    }
  /* Not translated: scripts read it. */
  g_print ("backup of %s written to %s: %" G_GUINT64_FORMAT " messages\n", db_path, dest, n_messages);
  return 0;
}

int
main (int argc, char **argv)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL, *backup_path = NULL;
  gboolean version = FALSE, check = FALSE;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &options.listen, N_("Address and UDP port to listen on (default [::]:7447)"), N_("ADDR:PORT") },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &options.data_dir, N_("Where the database and the generated certificate live"), N_("DIR") },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &options.cert, N_("TLS certificate chain (PEM)"), "PEM" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &options.key, N_("TLS private key (PEM)"), "PEM" },
    /* Translators: [server] is a section name in the file: keep it in English */
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options.config_path, N_("Read settings from the [server] group of FILE"), N_("FILE") },
    { "retry", 0, 0, G_OPTION_ARG_NONE, &options.retry, N_("Validate client addresses with a QUIC Retry first"), NULL },
    { "history-days", 0, 0, G_OPTION_ARG_STRING, &options.history_days, N_("Delete messages older than N days (0: keep; default 365)"), N_("N") },
    { "history-max-per-room", 0, 0, G_OPTION_ARG_STRING, &options.history_per_room, N_("Keep at most N messages per room (0: no limit; default 100000)"), N_("N") },
    /* Translators: full and normal are the values the option takes: keep them in English */
    { "sync", 0, 0, G_OPTION_ARG_STRING, &options.sync, N_("Database durability: full (survives power loss; default) or normal"), "full|normal" },
    /* Translators: warning, info and debug are the values the option takes: keep them in English */
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &options.log_level, N_("What to log: warning, info (default) or debug"), "warning|info|debug" },
    /* Hidden: for tests that need a full disk without filling one. */
    { "store-max-pages", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &options.store_max_pages, "Limit the database to N pages of 4 KiB (tests only)", "N" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check, N_("Check the configuration and exit: one line per problem, exit status 1 if any"), NULL },
    { "backup", 0, 0, G_OPTION_ARG_FILENAME, &backup_path, N_("Copy the database of the data directory to the new FILE, even while a server runs, and exit"), N_("FILE") },
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
  g_option_context_add_group (context, limits_group ());
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    N_("Serves Quipu clients over QUIC (ALPN quipu/1). Without --cert/--key it creates a\n"
       "self-signed certificate in the data directory and prints its fingerprint.\n"
       "SIGINT or SIGTERM says goodbye to every client and exits; SIGHUP reloads\n"
       "the configuration. See quipu-server(1) and quipu-server.conf(5)."));
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
  if (check)
    return check_config ();
  if (backup_path != NULL)
    return backup (backup_path);

  if (!build_config (&config, problems))
    {
      g_printerr ("quipu-server: %s\n", (char *) g_ptr_array_index (problems, 0));
      return 2;
    }
  log_level = config.log_level;

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
  g_unix_signal_add (SIGHUP, on_reload, NULL);
  g_unix_signal_add (SIGUSR1, on_stats, NULL);

  /* Not translated: supervisors, scripts and the tests parse these two lines. */
  address = quipu_server_dup_address (server);
  g_print ("quipu-server %s listening on %s\n", PACKAGE_VERSION, address);
  g_print ("certificate fingerprint %s\n", quipu_server_get_fingerprint (server));
  fflush (stdout);

  g_main_loop_run (loop);

  g_clear_pointer (&server, quipu_server_free);
  g_main_loop_unref (loop);
  options_clear (&options);
  return 0;
}
