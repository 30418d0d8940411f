#define G_LOG_DOMAIN "quipu-wakeup"

#include "config.h"

#include "quipu-wakeup.h"

struct _QuipuWakeup {
  GObject          parent_instance;

  GNetworkMonitor *network_monitor;
  GDBusConnection *system_bus;
  guint            sleep_signal_id;
};

G_DEFINE_FINAL_TYPE (QuipuWakeup, quipu_wakeup, G_TYPE_OBJECT)

enum {
  WAKE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
network_changed_cb (GNetworkMonitor *monitor,
                    gboolean         available,
                    gpointer         user_data)
{
  if (available)
    g_signal_emit (user_data, signals[WAKE], 0);
}

static void
prepare_for_sleep_cb (GDBusConnection *bus,
                      const char      *sender,
                      const char      *path,
                      const char      *interface,
                      const char      *signal,
                      GVariant        *parameters,
                      gpointer         user_data)
{
  gboolean going_to_sleep;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(b)")))
    return;
  g_variant_get (parameters, "(b)", &going_to_sleep);
  if (!going_to_sleep)
    g_signal_emit (user_data, signals[WAKE], 0);
}

static void
system_bus_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(QuipuWakeup) self = g_weak_ref_get (weak);
  GDBusConnection *bus = g_bus_get_finish (result, NULL);

  g_weak_ref_clear (weak);
  g_free (weak);
  /* No system bus (containers, CI), or the owner is gone already. */
  if (bus == NULL || self == NULL)
    {
      g_clear_object (&bus);
      return;
    }
  self->system_bus = bus;
  self->sleep_signal_id =
    g_dbus_connection_signal_subscribe (bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager",
                                        "PrepareForSleep", "/org/freedesktop/login1", NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, prepare_for_sleep_cb, self, NULL);
}

static void
quipu_wakeup_dispose (GObject *object)
{
  QuipuWakeup *self = QUIPU_WAKEUP (object);

  if (self->network_monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->network_monitor, self);
  g_clear_object (&self->network_monitor);
  if (self->system_bus != NULL && self->sleep_signal_id != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->sleep_signal_id);
  self->sleep_signal_id = 0;
  g_clear_object (&self->system_bus);

  G_OBJECT_CLASS (quipu_wakeup_parent_class)->dispose (object);
}

static void
quipu_wakeup_class_init (QuipuWakeupClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = quipu_wakeup_dispose;

  signals[WAKE] =
    g_signal_new ("wake", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
quipu_wakeup_init (QuipuWakeup *self)
{
  /* Weak, so that an object dropped before the lookup ends is freed then. */
  GWeakRef *weak = g_new0 (GWeakRef, 1);

  self->network_monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect (self->network_monitor, "network-changed", G_CALLBACK (network_changed_cb), self);
  g_weak_ref_init (weak, self);
  g_bus_get (G_BUS_TYPE_SYSTEM, NULL, system_bus_cb, weak);
}

QuipuWakeup *
quipu_wakeup_new (void)
{
  return g_object_new (QUIPU_TYPE_WAKEUP, NULL);
}
