#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Tells a session when its connection deserves a look at once rather than
 * after the next timeout: the network came back, or the machine resumed
 * from suspend (logind's PrepareForSleep on the system bus, where there is
 * one). Internal to QuipuClient.
 *
 * Signals: wake ()  */
#define QUIPU_TYPE_WAKEUP (quipu_wakeup_get_type ())
G_DECLARE_FINAL_TYPE (QuipuWakeup, quipu_wakeup, QUIPU, WAKEUP, GObject)

/* The system bus is looked up asynchronously on the thread-default context. */
QuipuWakeup *quipu_wakeup_new (void);

G_END_DECLS
