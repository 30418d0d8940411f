#define G_LOG_DOMAIN "quipu-waiters"

#include "config.h"

#include "quipu-waiters.h"

struct _QuipuWaiters {
  GPtrArray *waiting;    /* Waiter * */
};

typedef struct {
  QuipuWaiters *owner;
  GTask        *task;
  char         *key;
  gulong        cancel_id;
} Waiter;

static void
waiter_free (gpointer data)
{
  Waiter *waiter = data;

  g_object_unref (waiter->task);
  g_free (waiter->key);
  g_free (waiter);
}

QuipuWaiters *
quipu_waiters_new (void)
{
  QuipuWaiters *self = g_new0 (QuipuWaiters, 1);

  self->waiting = g_ptr_array_new_with_free_func (waiter_free);
  return self;
}

void
quipu_waiters_free (QuipuWaiters *self)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 "the session was closed");

  quipu_waiters_fail (self, NULL, error);
  g_ptr_array_unref (self->waiting);
  g_free (self);
}

/* Runs in the thread that cancels, which for a main-loop program is the
 * main loop: the waiter is answered now, not at the next state change. */
static void
cancelled_cb (GCancellable *cancellable,
              gpointer      data)
{
  Waiter *waiter = data;
  g_autoptr(GError) error = NULL;

  /* Disconnecting from inside the handler would deadlock: forget the id. */
  waiter->cancel_id = 0;
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_task_return_error (waiter->task, g_steal_pointer (&error));
  g_ptr_array_remove (waiter->owner->waiting, waiter);
}

void
quipu_waiters_add (QuipuWaiters *self,
                   const char   *key,
                   GTask        *task)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  Waiter *waiter;

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  waiter = g_new0 (Waiter, 1);
  waiter->owner = self;
  waiter->task = task;
  waiter->key = g_strdup (key);
  g_ptr_array_add (self->waiting, waiter);
  if (cancellable != NULL)
    waiter->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_cb), waiter, NULL);
}

/* Removes the matching waiters first, so a callback that adds a new one
 * (retrying at once) is not answered by this round. */
static GPtrArray *
steal_matching (QuipuWaiters *self,
                const char   *key)
{
  GPtrArray *matching = g_ptr_array_new_with_free_func (waiter_free);

  for (guint i = 0; i < self->waiting->len;)
    {
      Waiter *waiter = g_ptr_array_index (self->waiting, i);

      if (key == NULL || g_strcmp0 (key, waiter->key) == 0)
        {
          g_ptr_array_add (matching, g_ptr_array_steal_index (self->waiting, i));
          if (waiter->cancel_id != 0)
            g_cancellable_disconnect (g_task_get_cancellable (waiter->task), waiter->cancel_id);
          waiter->cancel_id = 0;
        }
      else
        i++;
    }
  return matching;
}

void
quipu_waiters_succeed (QuipuWaiters *self,
                       const char   *key)
{
  g_autoptr(GPtrArray) matching = steal_matching (self, key);

  for (guint i = 0; i < matching->len; i++)
    g_task_return_boolean (((Waiter *) g_ptr_array_index (matching, i))->task, TRUE);
}

void
quipu_waiters_fail (QuipuWaiters *self,
                    const char   *key,
                    const GError *error)
{
  g_autoptr(GPtrArray) matching = steal_matching (self, key);

  for (guint i = 0; i < matching->len; i++)
    g_task_return_error (((Waiter *) g_ptr_array_index (matching, i))->task, g_error_copy (error));
}
