/* quipu-connect.c: waiting for a session's log-in outcome */
#define G_LOG_DOMAIN "quipu-connect"

#include "config.h"

#include <glib/gi18n.h>

#include "quipu-connect.h"

typedef struct {
  gulong state_handler;
  gulong cancel_handler;
} Waiter;

static void
finish (GTask *task)
{
  QuipuClient *client = g_task_get_source_object (task);
  Waiter *waiter = g_task_get_task_data (task);

  g_clear_signal_handler (&waiter->state_handler, client);
  g_cancellable_disconnect (g_task_get_cancellable (task), waiter->cancel_handler);
  waiter->cancel_handler = 0;
}

static void
on_state (QuipuClient *client,
          GParamSpec  *pspec,
          GTask       *task)
{
  const GError *error;

  switch (quipu_client_get_state (client))
    {
    case QUIPU_STATE_CONNECTED:
      finish (task);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      break;

    case QUIPU_STATE_ERROR:
    case QUIPU_STATE_DISCONNECTED:
      error = quipu_client_get_error (client);
      finish (task);
      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_new_error (task, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                                 _("The connection was closed"));
      g_object_unref (task);
      break;

    case QUIPU_STATE_CONNECTING:
    case QUIPU_STATE_DISCONNECTING:
    default:
      break;
    }
}

static void
on_cancelled (GCancellable *cancellable,
              GTask        *task)
{
  /* Runs in the main loop (GTask's own context): the state handler sees
   * Disconnected and completes the task with the cancellation. */
  quipu_client_disconnect (g_task_get_source_object (task));
}

void
quipu_connect_async (QuipuClient         *client,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task;
  Waiter *waiter;

  g_return_if_fail (QUIPU_IS_CLIENT (client));

  task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_connect_async);
  g_task_set_check_cancellable (task, TRUE);
  waiter = g_new0 (Waiter, 1);
  g_task_set_task_data (task, waiter, g_free);

  waiter->state_handler = g_signal_connect (client, "notify::state", G_CALLBACK (on_state), task);
  if (cancellable != NULL)
    waiter->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), task, NULL);
  quipu_client_connect (client);
}

gboolean
quipu_connect_finish (QuipuClient   *client,
                      GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
