/* quipu-hosted-server.c: a quipu-server child process of the app */
#define G_LOG_DOMAIN "quipu-hosted-server"

#include "config.h"

#include <glib/gi18n.h>
#include <signal.h>
#include <sys/prctl.h>

#include "quipu-hosted-server.h"

struct _QuipuHostedServer
{
  GObject           parent_instance;

  GSubprocess      *process;
  GDataInputStream *output;
  char             *fingerprint;
  guint             port;
};

G_DEFINE_FINAL_TYPE (QuipuHostedServer, quipu_hosted_server, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PORT,
  PROP_FINGERPRINT,
  PROP_RUNNING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

char *
quipu_hosted_server_find_binary (void)
{
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);

  if (self_exe != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self_exe);
      g_autofree char *beside = g_build_filename (dir, "quipu-server", NULL);

      if (g_file_test (beside, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&beside);

      /* Running from the build tree: src/quipu next to server/quipu-server. */
      g_autofree char *build_tree = g_build_filename (dir, "..", "server", "quipu-server", NULL);
      if (g_file_test (build_tree, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&build_tree);
    }

  return g_build_filename (QUIPU_BINDIR, "quipu-server", NULL);
}

static void
read_next_line (GTask *task);

/* Runs in the child before exec: should the app die without cleaning up,
 * the kernel stops the server too, so it never outlives the app. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* quipu-server prints "quipu-server VERSION listening on ADDR:PORT" and then
 * "certificate fingerprint SHA256:..." once it serves. */
static void
on_line_read (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  QuipuHostedServer *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char *found;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (object), result, NULL, &error);
  if (line == NULL)
    {
      if (error == NULL)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED,
                                     _("The server stopped before it was ready"));
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if ((found = strstr (line, " listening on ")) != NULL)
    {
      const char *colon = strrchr (found, ':');

      if (colon != NULL)
        self->port = (guint) g_ascii_strtoull (colon + 1, NULL, 10);
    }
  else if (g_str_has_prefix (line, "certificate fingerprint "))
    {
      g_free (self->fingerprint);
      self->fingerprint = g_strdup (line + strlen ("certificate fingerprint "));
    }

  if (self->port != 0 && self->fingerprint != NULL)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FINGERPRINT]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
      g_task_return_boolean (task, TRUE);
      return;
    }

  read_next_line (g_steal_pointer (&task));
}

static void
read_next_line (GTask *task)
{
  QuipuHostedServer *self = g_task_get_source_object (task);

  g_data_input_stream_read_line_async (self->output, G_PRIORITY_DEFAULT,
                                       g_task_get_cancellable (task),
                                       on_line_read, task);
}

static void
on_process_exited (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(QuipuHostedServer) self = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  if (self->process != G_SUBPROCESS (object))
    return;
  g_debug ("quipu-server exited");
  g_clear_object (&self->process);
  g_clear_object (&self->output);
  self->port = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

void
quipu_hosted_server_start_async (QuipuHostedServer   *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *binary = NULL;
  g_autofree char *data_dir = NULL;

  g_return_if_fail (QUIPU_IS_HOSTED_SERVER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_hosted_server_start_async);

  if (self->process != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               _("A server is already running"));
      return;
    }

  binary = quipu_hosted_server_find_binary ();
  data_dir = g_build_filename (g_get_user_state_dir (), "quipu-server", NULL);
  /* Port 0: the kernel picks a free one, which the server prints. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  self->process = g_subprocess_launcher_spawn (launcher, &error, binary, "--listen", "[::]:0",
                                               "--data-dir", data_dir, NULL);
  if (self->process == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->process));
  g_subprocess_wait_async (self->process, NULL, on_process_exited, g_object_ref (self));
  read_next_line (g_steal_pointer (&task));
}

gboolean
quipu_hosted_server_start_finish (QuipuHostedServer  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
quipu_hosted_server_stop (QuipuHostedServer *self)
{
  g_return_if_fail (QUIPU_IS_HOSTED_SERVER (self));

  if (self->process != NULL)
    g_subprocess_send_signal (self->process, SIGTERM);
}

guint
quipu_hosted_server_get_port (QuipuHostedServer *self)
{
  g_return_val_if_fail (QUIPU_IS_HOSTED_SERVER (self), 0);

  return self->port;
}

const char *
quipu_hosted_server_get_fingerprint (QuipuHostedServer *self)
{
  g_return_val_if_fail (QUIPU_IS_HOSTED_SERVER (self), NULL);

  return self->fingerprint;
}

gboolean
quipu_hosted_server_get_running (QuipuHostedServer *self)
{
  g_return_val_if_fail (QUIPU_IS_HOSTED_SERVER (self), FALSE);

  return self->process != NULL && self->port != 0;
}

static void
quipu_hosted_server_dispose (GObject *object)
{
  QuipuHostedServer *self = QUIPU_HOSTED_SERVER (object);

  quipu_hosted_server_stop (self);
  g_clear_object (&self->output);
  g_clear_object (&self->process);

  G_OBJECT_CLASS (quipu_hosted_server_parent_class)->dispose (object);
}

static void
quipu_hosted_server_finalize (GObject *object)
{
  QuipuHostedServer *self = QUIPU_HOSTED_SERVER (object);

  g_free (self->fingerprint);

  G_OBJECT_CLASS (quipu_hosted_server_parent_class)->finalize (object);
}

static void
quipu_hosted_server_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  QuipuHostedServer *self = QUIPU_HOSTED_SERVER (object);

  switch (prop_id)
    {
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_FINGERPRINT:
      g_value_set_string (value, self->fingerprint);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, quipu_hosted_server_get_running (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_hosted_server_class_init (QuipuHostedServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = quipu_hosted_server_dispose;
  object_class->finalize = quipu_hosted_server_finalize;
  object_class->get_property = quipu_hosted_server_get_property;

  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FINGERPRINT] =
    g_param_spec_string ("fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
quipu_hosted_server_init (QuipuHostedServer *self)
{
}

QuipuHostedServer *
quipu_hosted_server_new (void)
{
  return g_object_new (QUIPU_TYPE_HOSTED_SERVER, NULL);
}
