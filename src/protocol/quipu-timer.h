#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A one-shot timer attached to a given main context: a session runs all its
 * sources on the context that was thread-default when it was made, where its
 * endpoint runs too (g_timeout_add would use the global default context).
 * Embed it in the owner; zero-initialised means stopped. */
typedef struct {
  /*< private >*/
  GSource     *source;
  GSourceFunc  func;
  gpointer     data;
} QuipuTimer;

/* (Re)starts the timer: `func` runs once after `ms` milliseconds. */
void     quipu_timer_start     (QuipuTimer   *timer,
                                GMainContext *context,
                                guint         ms,
                                GSourceFunc   func,
                                gpointer      data);
void     quipu_timer_stop      (QuipuTimer   *timer);
gboolean quipu_timer_is_active (QuipuTimer   *timer);

/* A low-priority idle source on `context` that runs `func` once: work that
 * must not run inside the handler that asked for it (writing a file). The
 * caller owns the returned source. */
GSource *quipu_idle_source_attach (GMainContext *context,
                                   const char   *name,
                                   GSourceFunc   func,
                                   gpointer      data);

/* Reconnection delays: exponential from min_ms to max_ms, each drawn
 * between half and all of the current step, so a restarted server is not
 * hit by every client at the same instant. */
typedef struct {
  guint step_ms;   /* 0: the next delay is the first */
} QuipuBackoff;

guint    quipu_backoff_next    (QuipuBackoff *backoff,
                                guint         min_ms,
                                guint         max_ms);
void     quipu_backoff_reset   (QuipuBackoff *backoff);

G_END_DECLS
