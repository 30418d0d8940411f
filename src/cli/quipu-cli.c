#define G_LOG_DOMAIN "quipu-cli"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>

#include "quipu.h"
#include "quipu-cli-output.h"
#include "quipu-key-store.h"

/* Both also spelled out in the --server and --room help, which xgettext
 * must see as whole literals. */
#define DEFAULT_SERVER     "localhost:7447"
#define DEFAULT_ROOM       "general"
#define SEND_TIMEOUT_S     20
#define CHAT_HISTORY       20

typedef enum {
  COMMAND_SEND,
  COMMAND_LISTEN,
  COMMAND_CHAT,
  COMMAND_HISTORY,
} Command;

typedef struct {
  GMainLoop        *loop;
  QuipuClient      *client;
  Command           command;
  gboolean          json;
  char             *room;        /* NULL with --to or --inbox */
  GStrv             to;
  gboolean          inbox;
  const char       *text;
  guint             count;
  guint             received;
  guint             timeout_s;
  guint64           before;
  guint             limit;
  int               exit_code;
  gboolean          logged_in;
  gboolean          history_asked;
  gboolean          stdin_done;
  GDataInputStream *input;
  GCancellable     *cancellable;
} Cli;

static void
finish (Cli *cli, int exit_code)
{
  if (cli->exit_code == 0)
    cli->exit_code = exit_code;
  g_cancellable_cancel (cli->cancellable);
  if (quipu_client_get_state (cli->client) == QUIPU_STATE_DISCONNECTED)
    g_main_loop_quit (cli->loop);
  else
    quipu_client_disconnect (cli->client);
}

/* One line on stderr; the "quipu-cli: " prefix stays out of translations. */
static void
say_va (const char *format, va_list args) G_GNUC_PRINTF (1, 0);

static void
say_va (const char *format, va_list args)
{
  g_autofree char *text = g_strdup_vprintf (format, args);

  g_printerr ("quipu-cli: %s\n", text);
}

static void
say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  say_va (format, args);
  va_end (args);
}

static void
fail (Cli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
fail (Cli *cli, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  say_va (format, args);
  va_end (args);
  finish (cli, 1);
}

static gboolean
send_text (Cli *cli, const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuMessage) msg = NULL;

  if (cli->room != NULL)
    msg = quipu_client_send_to_room (cli->client, cli->room, text, &error);
  else
    msg = quipu_client_send_direct (cli->client, (const char * const *) cli->to, text, &error);
  if (msg == NULL)
    {
      say (_("cannot send: %s"), error->message);
      return FALSE;
    }
  return TRUE;
}

static void read_next_line (Cli *cli);

static void
line_read_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Cli *cli = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result,
                                                                     NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL && !g_error_matches (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE))
    {
      fail (cli, _("cannot read standard input: %s"), error->message);
      return;
    }

  if (line == NULL && error == NULL)
    {
      /* End of input: leave once everything typed has been stored. */
      cli->stdin_done = TRUE;
      if (quipu_client_get_n_pending (cli->client) == 0)
        finish (cli, 0);
      return;
    }

  if (error != NULL)
    g_printerr ("quipu-cli: %s\n", _("skipped a line that is not valid UTF-8"));
  else if (g_str_equal (line, "/quit"))
    {
      finish (cli, 0);
      return;
    }
  else if (*line != '\0')
    send_text (cli, line);

  read_next_line (cli);
}

static void
read_next_line (Cli *cli)
{
  g_data_input_stream_read_line_async (cli->input, G_PRIORITY_DEFAULT, cli->cancellable, line_read_cb, cli);
}

static void
start_reading_stdin (Cli *cli)
{
  g_autoptr(GInputStream) stdin_stream = NULL;

  if (cli->input != NULL)
    return;
  stdin_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  cli->input = g_data_input_stream_new (stdin_stream);
  g_data_input_stream_set_newline_type (cli->input, G_DATA_STREAM_NEWLINE_TYPE_ANY);
  read_next_line (cli);
}

static void
on_logged_in (Cli *cli)
{
  QuipuTrustVia via = quipu_client_get_trust_via (cli->client);

  if (via == QUIPU_TRUST_VIA_NEW_PIN)
    /* Translators: %s is a certificate fingerprint such as SHA256:AbC… */
    say (_("first connection to this server; trusting its certificate %s from now on"),
         quipu_client_get_server_fingerprint (cli->client));

  quipu_cli_print_event ("state", "state", "connected", cli->json);
  if (cli->command == COMMAND_CHAT)
    start_reading_stdin (cli);
}

static void
on_state (QuipuClient *client, GParamSpec *pspec, Cli *cli)
{
  const GError *error = quipu_client_get_error (client);

  switch (quipu_client_get_state (client))
    {
    case QUIPU_STATE_CONNECTED:
      if (!cli->logged_in)
        {
          cli->logged_in = TRUE;
          on_logged_in (cli);
        }
      else
        quipu_cli_print_event ("state", "state", "connected", cli->json);
      break;
    case QUIPU_STATE_ERROR:
      quipu_cli_print_event ("state", "error", error ? error->message : NULL, cli->json);
      /* One-shot commands, and a first login that fails, end here; a
       * session that worked before reconnects on its own. */
      if (!cli->logged_in || cli->command == COMMAND_SEND || cli->command == COMMAND_HISTORY)
        fail (cli, "%s", error ? error->message : _("connection failed"));
      else if (!cli->json)
        /* Translators: %s says why, e.g. "the server is shutting down" */
        say (_("connection lost (%s); reconnecting"), error ? error->message : "?");
      break;
    case QUIPU_STATE_DISCONNECTED:
      g_main_loop_quit (cli->loop);
      break;
    case QUIPU_STATE_CONNECTING:
    case QUIPU_STATE_DISCONNECTING:
    default:
      break;
    }
}

static void
on_message (QuipuClient *client, QuipuMessage *msg, Cli *cli)
{
  quipu_cli_print_message (msg, cli->json);
  if (quipu_message_get_verification (msg) == QUIPU_VERIFICATION_INVALID && !cli->json)
    /* Translators: %s is the username the message claims as its sender */
    say (_("warning: a message claiming to be from %s has a signature that does not verify"),
         quipu_message_get_sender (msg));

  if (cli->command == COMMAND_LISTEN && !quipu_message_is_history (msg) && cli->count > 0 &&
      ++cli->received >= cli->count)
    finish (cli, 0);
}

static void
on_acked (QuipuClient *client, QuipuMessage *msg, Cli *cli)
{
  quipu_cli_print_ack (msg, cli->json);
  if (quipu_client_get_n_pending (client) > 0)
    return;
  if (cli->command == COMMAND_SEND || (cli->command == COMMAND_CHAT && cli->stdin_done))
    finish (cli, 0);
}

static void
on_failed (QuipuClient *client, QuipuMessage *msg, GError *error, Cli *cli)
{
  if (cli->json)
    quipu_cli_print_event ("failed", "error", error->message, TRUE);
  if (cli->command == COMMAND_SEND)
    fail (cli, _("the server refused the message: %s"), error->message);
  else
    say (_("the server refused a message: %s"), error->message);
}

static gboolean
same_conversation (const char *room, const char *other)
{
  g_autofree char *fold = room ? quipu_name_fold (room) : NULL;
  g_autofree char *other_fold = other ? quipu_name_fold (other) : NULL;

  return g_strcmp0 (fold, other_fold) == 0;
}

/* Login brings a page of the inbox and JOIN one of the room (empty here:
 * the history limit is 0), each closed by history-loaded. The page asked
 * for after that one is ours, and it closes with the next. */
static void
on_history_loaded (QuipuClient *client, const char *room, guint count, gboolean more, Cli *cli)
{
  if (cli->command != COMMAND_HISTORY || !same_conversation (room, cli->room))
    return;
  if (cli->history_asked)
    finish (cli, 0);
  else if (quipu_client_request_history (client, cli->room, cli->before, cli->limit))
    cli->history_asked = TRUE;
  else
    fail (cli, "%s", _("cannot ask for history now"));
}

static void
on_joined (QuipuClient *client, const char *room, Cli *cli)
{
  quipu_cli_print_event ("ready", "room", room, cli->json);
}

static gboolean
on_timeout (gpointer data)
{
  Cli *cli = data;

  if (cli->command == COMMAND_LISTEN && cli->count == 0)
    finish (cli, 0);
  else if (cli->command == COMMAND_LISTEN)
    /* Translators: the first %u counts seconds ("s"), then messages received of the number awaited */
    fail (cli, ngettext ("timed out after %u s: received %u of %u message",
                         "timed out after %u s: received %u of %u messages", cli->count),
          cli->timeout_s, cli->received, cli->count);
  else if (cli->command == COMMAND_SEND)
    /* Translators: %u counts seconds ("s") */
    fail (cli, _("timed out after %u s: the server did not acknowledge the message"), cli->timeout_s);
  else
    /* Translators: %u counts seconds ("s") */
    fail (cli, _("timed out after %u s"), cli->timeout_s);
  return G_SOURCE_REMOVE;
}

static gboolean
on_interrupt (gpointer data)
{
  finish (data, 130);
  return G_SOURCE_CONTINUE;
}

static QuipuIdentity *
load_identity (const char *username, const char *path, GError **error)
{
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autofree char *file = NULL;
  gboolean created = FALSE;

  if (path == NULL && quipu_key_store_secret_service_available ())
    {
      identity = quipu_key_store_load_secret (username, TRUE, &created, error);
      if (identity != NULL && created)
        say (_("created a new identity for %s in the keyring"), username);
      return g_steal_pointer (&identity);
    }

  file = path ? g_strdup (path) : quipu_key_store_default_file (username);
  identity = quipu_key_store_load_file (file, TRUE, &created, error);
  if (identity != NULL && created)
    /* Translators: the first %s is a username, the second a file name */
    say (_("created a new identity for %s in %s"), username, file);
  return g_steal_pointer (&identity);
}

static gboolean
parse_command (Cli *cli, int argc, char **argv, GError **error)
{
  if (argc < 2)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           /* Translators: send, listen, chat and history are commands: keep them in English */
                           _("a command is needed: send, listen, chat or history"));
      return FALSE;
    }
  if (g_str_equal (argv[1], "send"))
    {
      if (argc != 3)
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               /* Translators: send is a command: keep it in English */
                               _("send takes exactly one TEXT argument (quote it)"));
          return FALSE;
        }
      cli->command = COMMAND_SEND;
      cli->text = argv[2];
      return TRUE;
    }
  if (argc > 2)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _("unexpected argument '%s'"), argv[2]);
      return FALSE;
    }
  if (g_str_equal (argv[1], "listen"))
    cli->command = COMMAND_LISTEN;
  else if (g_str_equal (argv[1], "chat"))
    cli->command = COMMAND_CHAT;
  else if (g_str_equal (argv[1], "history"))
    cli->command = COMMAND_HISTORY;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   /* Translators: send, listen, chat and history are commands: keep them in English */
                   _("unknown command '%s' (send, listen, chat or history)"), argv[1]);
      return FALSE;
    }
  return TRUE;
}

/* Normalises and checks every name in a comma-separated list. */
static GStrv
parse_recipients (const char *list, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (list, ",", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint n = 0;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autofree char *name = quipu_name_normalize (g_strstrip (parts[i]), error);

      if (name == NULL)
        {
          g_prefix_error (error, "--to '%s': ", parts[i]);
          return NULL;
        }
      g_strv_builder_add (builder, name);
      n++;
    }
  if (n > QUIPU_MAX_RECIPIENTS)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   ngettext ("--to names %u user; at most %d are allowed",
                             "--to names %u users; at most %d are allowed", n),
                   n, QUIPU_MAX_RECIPIENTS);
      return NULL;
    }
  return g_strv_builder_end (builder);
}

static void
cli_clear (Cli *cli)
{
  if (cli->cancellable != NULL)
    g_cancellable_cancel (cli->cancellable);
  g_clear_object (&cli->input);
  g_clear_object (&cli->client);
  g_clear_object (&cli->cancellable);
  g_clear_pointer (&cli->to, g_strfreev);
  g_clear_pointer (&cli->room, g_free);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Cli, cli_clear)

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autofree char *server = NULL, *user = NULL, *room = NULL, *to = NULL, *identity_path = NULL;
  g_autofree char *fingerprint = NULL, *username = NULL;
  gint count = 0, timeout = 0, history = -1, limit = 50;
  gint64 before = 0;
  gboolean json = FALSE, inbox = FALSE, version = FALSE;
  g_auto(Cli) cli = { 0 };
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &server, N_("Server to use (default localhost:7447)"), N_("HOST:PORT") },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, N_("Your username on that server"), N_("NAME") },
    { "room", 'r', 0, G_OPTION_ARG_STRING, &room, N_("Room to use (default general)"), N_("ROOM") },
    { "to", 't', 0, G_OPTION_ARG_STRING, &to, N_("Send directly to these users instead of a room"), N_("USER[,USER]") },
    /* Translators: "history:" names the command the option is for: keep it in English */
    { "inbox", 0, 0, G_OPTION_ARG_NONE, &inbox, N_("history: read your direct messages"), NULL },
    { "identity", 'i', 0, G_OPTION_ARG_FILENAME, &identity_path, N_("Identity key file (default: the keyring, else a 0600 file)"), N_("FILE") },
    { "server-fingerprint", 0, 0, G_OPTION_ARG_STRING, &fingerprint, N_("Only accept a server certificate with this fingerprint"), "SHA256:..." },
    /* Translators: "listen:" names a command: keep it in English; N is the placeholder translated as "N" */
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, N_("listen: exit after N live messages"), N_("N") },
    /* Translators: S is the placeholder translated as "S" */
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, N_("Give up after S seconds"), N_("S") },
    /* Translators: "listen/chat:" names commands: keep them in English */
    { "history", 0, 0, G_OPTION_ARG_INT, &history, N_("listen/chat: show the last N messages first"), N_("N") },
    /* Translators: "history:" names a command: keep it in English */
    { "before", 0, 0, G_OPTION_ARG_INT64, &before, N_("history: messages before sequence N (default: the latest)"), N_("N") },
    /* Translators: "history:" names a command: keep it in English; M is the placeholder translated as "M" */
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, N_("history: at most M messages (default 50)"), N_("M") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("One JSON object per line on stdout"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Translators: send, listen, chat and history are commands: keep them in English */
  context = g_option_context_new (N_("send TEXT | listen | chat | history"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, N_("Terminal client for Quipu chat servers."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("quipu-cli: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("quipu-cli %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (!parse_command (&cli, argc, argv, &error))
    {
      g_printerr ("quipu-cli: %s\n", error->message);
      return 2;
    }
  if (user == NULL)
    {
      g_printerr ("quipu-cli: %s\n", _("--user NAME is required"));
      return 2;
    }
  username = quipu_name_normalize (user, &error);
  if (username == NULL)
    {
      g_printerr ("quipu-cli: --user: %s\n", error->message);
      return 2;
    }
  if (count < 0 || timeout < 0 || limit <= 0 || limit > 1000 || before < 0 || history > 1000)
    {
      g_printerr ("quipu-cli: %s\n", _("--count, --timeout and --before must not be negative; --limit is 1 to 1000 and --history at most 1000"));
      return 2;
    }
  if (to != NULL && room != NULL)
    {
      g_printerr ("quipu-cli: %s\n", _("give --room or --to, not both"));
      return 2;
    }
  if (to != NULL)
    {
      cli.to = parse_recipients (to, &error);
      if (cli.to == NULL)
        {
          g_printerr ("quipu-cli: %s\n", error->message);
          return 2;
        }
    }
  else if (!(inbox && cli.command == COMMAND_HISTORY))
    {
      cli.room = quipu_name_normalize (room ? room : DEFAULT_ROOM, &error);
      if (cli.room == NULL)
        {
          g_printerr ("quipu-cli: --room: %s\n", error->message);
          return 2;
        }
    }

  identity = load_identity (username, identity_path, &error);
  if (identity == NULL)
    {
      g_printerr ("quipu-cli: %s\n", error->message);
      return 1;
    }

  cli.json = json;
  cli.inbox = inbox;
  cli.count = count;
  cli.timeout_s = timeout ? timeout : (cli.command == COMMAND_SEND ? SEND_TIMEOUT_S : 0);
  cli.before = before > 0 ? (guint64) before : QUIPU_SEQ_MAX;
  cli.limit = limit;
  cli.loop = g_main_loop_new (NULL, FALSE);
  cli.cancellable = g_cancellable_new ();
  cli.client = quipu_client_new (identity, username);
  quipu_client_set_server (cli.client, server ? server : DEFAULT_SERVER);
  quipu_client_set_client_name (cli.client, "quipu-cli/" PACKAGE_VERSION);
  quipu_client_set_pinned_fingerprint (cli.client, fingerprint);
  quipu_client_set_auto_reconnect (cli.client, cli.command == COMMAND_LISTEN || cli.command == COMMAND_CHAT);
  quipu_client_set_history_limit (cli.client, history >= 0 ? (guint) history
                                              : cli.command == COMMAND_CHAT ? CHAT_HISTORY : 0);

  g_signal_connect (cli.client, "notify::state", G_CALLBACK (on_state), &cli);
  g_signal_connect (cli.client, "message-received", G_CALLBACK (on_message), &cli);
  g_signal_connect (cli.client, "message-acked", G_CALLBACK (on_acked), &cli);
  g_signal_connect (cli.client, "message-failed", G_CALLBACK (on_failed), &cli);
  g_signal_connect (cli.client, "history-loaded", G_CALLBACK (on_history_loaded), &cli);
  g_signal_connect (cli.client, "joined", G_CALLBACK (on_joined), &cli);

  if (cli.room != NULL && !quipu_client_join (cli.client, cli.room, &error))
    {
      g_printerr ("quipu-cli: %s\n", error->message);
      return 2;
    }
  if (cli.command == COMMAND_SEND && !send_text (&cli, cli.text))
    return 2;

  if (cli.timeout_s > 0)
    g_timeout_add_seconds (cli.timeout_s, on_timeout, &cli);
  g_unix_signal_add (SIGINT, on_interrupt, &cli);
  g_unix_signal_add (SIGTERM, on_interrupt, &cli);

  quipu_client_connect (cli.client);
  if (quipu_client_get_state (cli.client) != QUIPU_STATE_DISCONNECTED)
    g_main_loop_run (cli.loop);

  return cli.exit_code;
}
