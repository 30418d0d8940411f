#define G_LOG_DOMAIN "quipu-timer"

#include "config.h"

#include "quipu-timer.h"

static gboolean
timer_fired (gpointer user_data)
{
  QuipuTimer *timer = user_data;
  GSource *source = g_steal_pointer (&timer->source);

  /* Stopped first, so `func` may restart the timer. */
  timer->func (timer->data);
  g_source_unref (source);
  return G_SOURCE_REMOVE;
}

void
quipu_timer_start (QuipuTimer   *timer,
                   GMainContext *context,
                   guint         ms,
                   GSourceFunc   func,
                   gpointer      data)
{
  quipu_timer_stop (timer);
  timer->func = func;
  timer->data = data;
  timer->source = g_timeout_source_new (ms);
  g_source_set_static_name (timer->source, "[quipu] timer");
  g_source_set_callback (timer->source, timer_fired, timer, NULL);
  g_source_attach (timer->source, context);
}

void
quipu_timer_stop (QuipuTimer *timer)
{
  if (timer->source == NULL)
    return;
  g_source_destroy (timer->source);
  g_clear_pointer (&timer->source, g_source_unref);
}

gboolean
quipu_timer_is_active (QuipuTimer *timer)
{
  return timer->source != NULL;
}

GSource *
quipu_idle_source_attach (GMainContext *context,
                          const char   *name,
                          GSourceFunc   func,
                          gpointer      data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_static_name (source, name);
  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, context);
  return source;
}

guint
quipu_backoff_next (QuipuBackoff *backoff,
                    guint         min_ms,
                    guint         max_ms)
{
  backoff->step_ms = backoff->step_ms ? MIN (backoff->step_ms * 2, max_ms) : min_ms;
  return backoff->step_ms / 2 + g_random_int_range (0, backoff->step_ms / 2 + 1);
}

void
quipu_backoff_reset (QuipuBackoff *backoff)
{
  backoff->step_ms = 0;
}
