#define G_LOG_DOMAIN "quipu-cli"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "quipu-cli-identity.h"
#include "quipu-key-store.h"

#define PASSPHRASE_ENV  "QUIPU_PASSPHRASE"
#define PASSPHRASE_MAX  1024
#define EXIT_INTERRUPT  130

typedef struct {
  QuipuCliIdentityAction  action;
  const char             *username;
  const char             *identity_path;
  const char             *file;
  const char             *passphrase_file;
  GMainLoop              *loop;
  GCancellable           *cancellable;
  QuipuIdentity          *identity;
  int                     exit_code;
} Run;

static void
wipe_string (char *text)
{
  if (text != NULL)
    explicit_bzero (text, strlen (text));
  g_free (text);
}

/* A passphrase: zeroed before it is freed. */
typedef char WipedString;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WipedString, wipe_string)

static void
done (Run        *run,
      int         exit_code,
      const char *message)
{
  if (message != NULL)
    g_printerr ("quipu-cli: %s\n", message);
  run->exit_code = exit_code;
  g_main_loop_quit (run->loop);
}

/* The first line of @path, without its line end. */
static char *
passphrase_from_file (const char  *path,
                      GError     **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  char *passphrase;

  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  passphrase = g_strndup (contents, strcspn (contents, "\r\n"));
  explicit_bzero (contents, len);
  return passphrase;
}

/* Reads one line from the terminal with echo off. Ctrl+C arrives as a
 * character (ISIG is off too), so the terminal is always restored. */
static char *
ask_terminal (int          tty,
              const char  *prompt,
              gboolean    *interrupted,
              GError     **error)
{
  struct termios saved, quiet;
  char buffer[PASSPHRASE_MAX + 1];
  gsize len = 0;
  char *line = NULL;

  if (tcgetattr (tty, &saved) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s", g_strerror (errno));
      return NULL;
    }
  quiet = saved;
  quiet.c_lflag &= ~(ECHO | ISIG);
  quiet.c_lflag |= ICANON;
  tcsetattr (tty, TCSAFLUSH, &quiet);
  if (write (tty, prompt, strlen (prompt)) < 0)
    g_debug ("cannot write the prompt: %s", g_strerror (errno));

  for (;;)
    {
      char c;
      gssize n = read (tty, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       _("cannot read the passphrase: %s"), g_strerror (errno));
          break;
        }
      if (n == 0 || c == '\n' || c == '\r')
        {
          buffer[len] = '\0';
          line = g_strdup (buffer);
          break;
        }
      if (c == quiet.c_cc[VINTR])
        {
          *interrupted = TRUE;
          break;
        }
      if (len < PASSPHRASE_MAX)
        buffer[len++] = c;
    }

  tcsetattr (tty, TCSAFLUSH, &saved);
  if (write (tty, "\n", 1) < 0)
    g_debug ("cannot end the prompt: %s", g_strerror (errno));
  explicit_bzero (buffer, sizeof buffer);
  return line;
}

static char *
passphrase_from_terminal (gboolean     confirm,
                          gboolean    *interrupted,
                          GError     **error)
{
  g_autoptr(WipedString) first = NULL;
  g_autoptr(WipedString) second = NULL;
  int tty;

  tty = g_open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (tty < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   /* Translators: QUIPU_PASSPHRASE is an environment variable: keep it */
                   _("no terminal to ask for the passphrase: give --passphrase-file FILE or set QUIPU_PASSPHRASE"));
      return NULL;
    }

  first = ask_terminal (tty, _("Passphrase: "), interrupted, error);
  if (first != NULL && confirm)
    {
      second = ask_terminal (tty, _("Passphrase again: "), interrupted, error);
      if (second != NULL && !g_str_equal (first, second))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               _("the two passphrases differ"));
          g_clear_pointer (&first, wipe_string);
        }
      else if (second == NULL)
        g_clear_pointer (&first, wipe_string);
    }
  close (tty);

  return g_steal_pointer (&first);
}

static char *
get_passphrase (Run         *run,
                gboolean    *interrupted,
                GError     **error)
{
  const char *from_env = g_getenv (PASSPHRASE_ENV);
  g_autoptr(WipedString) passphrase = NULL;

  if (run->passphrase_file != NULL)
    passphrase = passphrase_from_file (run->passphrase_file, error);
  else if (from_env != NULL)
    passphrase = g_strdup (from_env);
  else
    passphrase = passphrase_from_terminal (run->action == QUIPU_CLI_IDENTITY_EXPORT, interrupted, error);

  if (passphrase != NULL && *passphrase == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("the passphrase is empty"));
      return NULL;
    }
  return g_steal_pointer (&passphrase);
}

static void
print_user_id (QuipuIdentity *identity)
{
  g_print ("%s\n", quipu_identity_get_user_id (identity));
}

/* export: the stored identity → FILE */

static void
looked_up_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autoptr(WipedString) passphrase = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gboolean interrupted = FALSE;

  identity = quipu_key_store_lookup_finish (result, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (identity == NULL)
    {
      done (run, 1, error->message);
      return;
    }

  passphrase = get_passphrase (run, &interrupted, &error);
  if (interrupted)
    {
      done (run, EXIT_INTERRUPT, NULL);
      return;
    }
  if (passphrase == NULL || !quipu_key_store_export (identity, run->file, passphrase, &error))
    {
      done (run, 1, error->message);
      return;
    }

  /* Translators: the first %s is a username, the second a file name */
  text = g_strdup_printf (_("exported the identity of %s to %s"), run->username, run->file);
  g_printerr ("quipu-cli: %s\n", text);
  print_user_id (identity);
  done (run, 0, NULL);
}

/* import: FILE → the key store */

static void
stored_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *text = NULL;

  if (!quipu_key_store_store_finish (result, &file, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        done (run, 1, error->message);
      return;
    }

  if (file != NULL)
    /* Translators: the first %s is a username, the second a file name */
    text = g_strdup_printf (_("imported the identity of %s into %s"), run->username, file);
  else
    /* Translators: %s is a username */
    text = g_strdup_printf (_("imported the identity of %s into the keyring"), run->username);
  g_printerr ("quipu-cli: %s\n", text);
  print_user_id (run->identity);
  done (run, 0, NULL);
}

static gboolean
start_import (gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(WipedString) passphrase = NULL;
  g_autoptr(GError) error = NULL;
  gboolean interrupted = FALSE;

  passphrase = get_passphrase (run, &interrupted, &error);
  if (interrupted)
    {
      done (run, EXIT_INTERRUPT, NULL);
      return G_SOURCE_REMOVE;
    }
  if (passphrase != NULL)
    run->identity = quipu_key_store_import (run->file, passphrase, &error);
  if (run->identity == NULL)
    {
      /* Nothing is stored: the key store is not even asked. */
      done (run, 1, error->message);
      return G_SOURCE_REMOVE;
    }

  quipu_key_store_store_async (run->identity, run->username, run->identity_path, run->cancellable,
                               stored_cb, run);
  return G_SOURCE_REMOVE;
}

static gboolean
on_interrupt (gpointer user_data)
{
  Run *run = user_data;

  g_cancellable_cancel (run->cancellable);
  done (run, EXIT_INTERRUPT, NULL);
  return G_SOURCE_CONTINUE;
}

int
quipu_cli_identity_run (QuipuCliIdentityAction  action,
                        const char             *username,
                        const char             *identity_path,
                        const char             *file,
                        const char             *passphrase_file)
{
  Run run = {
    .action = action,
    .username = username,
    .identity_path = identity_path,
    .file = file,
    .passphrase_file = passphrase_file,
  };
  guint sigint, sigterm;

  run.loop = g_main_loop_new (NULL, FALSE);
  run.cancellable = g_cancellable_new ();
  sigint = g_unix_signal_add (SIGINT, on_interrupt, &run);
  sigterm = g_unix_signal_add (SIGTERM, on_interrupt, &run);

  if (action == QUIPU_CLI_IDENTITY_EXPORT)
    quipu_key_store_lookup_async (username, identity_path, run.cancellable, looked_up_cb, &run);
  else
    g_idle_add (start_import, &run);
  /* After an interrupt a cancelled call may still be on its way back; the
   * process exits before anything iterates this context again. */
  g_main_loop_run (run.loop);

  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_clear_object (&run.identity);
  g_object_unref (run.cancellable);
  g_main_loop_unref (run.loop);
  return run.exit_code;
}
