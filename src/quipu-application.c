/* quipu-application.c: the app object: session, actions, background, notifications */
#define G_LOG_DOMAIN "quipu-application"

#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>

#include "quipu-application.h"
#include "quipu-key-store.h"
#include "quipu-window.h"

#define RESOURCE_PATH "/io/github/quipuchat/Quipu"

struct _QuipuApplication
{
  AdwApplication     parent_instance;

  GSettings         *settings;
  QuipuClient       *client;
  QuipuDrafts       *drafts;
  QuipuHostedServer *hosted;

  /* From the command line: log in at once and open this room. */
  char              *option_server;
  char              *option_user;
  char              *option_room;
  char              *option_fingerprint;

  gboolean           held;
};

G_DEFINE_FINAL_TYPE (QuipuApplication, quipu_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_CLIENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GSettings *
quipu_application_get_settings (QuipuApplication *self)
{
  g_return_val_if_fail (QUIPU_IS_APPLICATION (self), NULL);

  return self->settings;
}

QuipuClient *
quipu_application_get_client (QuipuApplication *self)
{
  g_return_val_if_fail (QUIPU_IS_APPLICATION (self), NULL);

  return self->client;
}

QuipuDrafts *
quipu_application_get_drafts (QuipuApplication *self)
{
  g_return_val_if_fail (QUIPU_IS_APPLICATION (self), NULL);

  return self->drafts;
}

QuipuHostedServer *
quipu_application_get_hosted_server (QuipuApplication *self)
{
  g_return_val_if_fail (QUIPU_IS_APPLICATION (self), NULL);

  return self->hosted;
}

static QuipuWindow *
get_main_window (QuipuApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  return QUIPU_IS_WINDOW (window) ? QUIPU_WINDOW (window) : NULL;
}

static QuipuWindow *
ensure_window (QuipuApplication *self)
{
  QuipuWindow *window = get_main_window (self);

  if (window == NULL)
    window = quipu_window_new (self);
  return window;
}

/* Notifications: one per conversation, replaced by the newest message. */
static void
on_message_received (QuipuClient      *client,
                     QuipuMessage     *message,
                     QuipuApplication *self)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;
  g_autofree char *title = NULL;
  QuipuConversation *conversation;
  QuipuWindow *window;
  const char *key;

  if (quipu_message_is_history (message) || quipu_message_is_own (message))
    return;

  key = quipu_message_get_conversation (message);
  window = get_main_window (self);
  if (window != NULL
      && gtk_widget_get_visible (GTK_WIDGET (window))
      && gtk_window_is_active (GTK_WINDOW (window))
      && g_strcmp0 (quipu_window_get_visible_conversation (window), key) == 0)
    return;

  conversation = quipu_client_get_conversation (client, key);
  if (conversation != NULL
      && quipu_conversation_get_kind (conversation) == QUIPU_CONVERSATION_ROOM)
    /* Translators: the first %s is a person, the second a room such as #general */
    title = g_strdup_printf (_("%s in %s"), quipu_message_get_sender (message),
                             quipu_conversation_get_title (conversation));
  else
    title = g_strdup (quipu_message_get_sender (message));

  notification = g_notification_new (title);
  g_notification_set_body (notification, quipu_message_get_body (message));
  g_notification_set_category (notification, "im.received");
  g_notification_set_default_action_and_target (notification, "app.open-conversation",
                                                "s", key);
  id = g_strconcat ("conversation:", key, NULL);
  g_application_send_notification (G_APPLICATION (self), id, notification);
}

void
quipu_application_withdraw_notification (QuipuApplication *self,
                                         const char       *key)
{
  g_autofree char *id = NULL;

  g_return_if_fail (QUIPU_IS_APPLICATION (self));
  g_return_if_fail (key != NULL);

  id = g_strconcat ("conversation:", key, NULL);
  g_application_withdraw_notification (G_APPLICATION (self), id);
}

static void
set_client (QuipuApplication *self,
            QuipuClient      *client)
{
  if (self->client == client)
    return;

  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->client, self);
      quipu_client_disconnect (self->client);
    }
  g_set_object (&self->client, client);
  g_clear_object (&self->drafts);

  if (client != NULL)
    {
      g_autofree char *server = NULL;
      g_autofree char *account = NULL;

      g_object_get (client, "server", &server, NULL);
      account = g_strdup_printf ("%s@%s", quipu_client_get_username (client), server);

      self->drafts = quipu_drafts_new (account);
      g_signal_connect (client, "message-received", G_CALLBACK (on_message_received), self);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
}

/* One log-in attempt: what was asked for, and the session once made. */
typedef struct {
  char        *server;
  char        *username;
  char        *fingerprint;
  QuipuClient *client;
} LogIn;

static void
log_in_free (gpointer data)
{
  LogIn *log_in = data;

  g_free (log_in->server);
  g_free (log_in->username);
  g_free (log_in->fingerprint);
  g_clear_object (&log_in->client);
  g_free (log_in);
}

static gboolean
log_in_propagate (GAsyncResult  *result,
                  QuipuClient  **attempt,
                  GError       **error)
{
  LogIn *log_in = g_task_get_task_data (G_TASK (result));

  if (attempt != NULL)
    *attempt = log_in->client != NULL ? g_object_ref (log_in->client) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_connected (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  QuipuApplication *self = g_task_get_source_object (task);
  QuipuClient *client = QUIPU_CLIENT (object);
  g_autoptr(GError) error = NULL;

  if (!quipu_client_connect_finish (client, result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* From now on the library reconnects by itself, with backoff. */
  quipu_client_set_auto_reconnect (client, TRUE);
  set_client (self, client);
  g_task_return_boolean (task, TRUE);
}

void
quipu_application_connect_async (QuipuApplication    *self,
                                 QuipuClient         *client,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;
  LogIn *log_in;

  g_return_if_fail (QUIPU_IS_APPLICATION (self));
  g_return_if_fail (QUIPU_IS_CLIENT (client));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_application_connect_async);
  log_in = g_new0 (LogIn, 1);
  log_in->client = g_object_ref (client);
  g_task_set_task_data (task, log_in, log_in_free);
  quipu_client_connect_async (client, cancellable, on_connected, task);
}

static void
on_identity_loaded (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LogIn *request = g_task_get_task_data (task);
  g_autofree char *outbox = NULL;
  g_autofree char *outbox_path = NULL;
  GCancellable *cancellable;
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autoptr(GError) error = NULL;
  QuipuClient *client;

  identity = quipu_key_store_load_or_create_finish (result, NULL, NULL, &error);
  if (identity == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  client = request->client = quipu_client_new (identity, request->username);
  quipu_client_set_client_name (client, "quipu " PACKAGE_VERSION);
  quipu_client_set_server (client, request->server);
  /* One screenful at join; older pages come as the timeline scrolls up. */
  quipu_client_set_history_limit (client, 50);
  /* The user decides about an unknown certificate, not the library; a
   * fingerprint given on the command line decides by itself. */
  quipu_client_set_trust_on_first_use (client, FALSE);
  if (request->fingerprint != NULL)
    quipu_client_set_pinned_fingerprint (client, request->fingerprint);
  /* What is written offline survives quitting the app. */
  outbox = g_strdup_printf ("%s@%s", request->username, request->server);
  g_strdelimit (outbox, "/", '_');
  outbox_path = g_build_filename (g_get_user_state_dir (), "quipu", "outbox", outbox, NULL);
  quipu_client_set_outbox_path (client, outbox_path);

  cancellable = g_task_get_cancellable (task);
  quipu_client_connect_async (client, cancellable, on_connected, g_steal_pointer (&task));
}

void
quipu_application_log_in_async (QuipuApplication    *self,
                                const char          *server,
                                const char          *username,
                                const char          *fingerprint,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;
  LogIn *request;

  g_return_if_fail (QUIPU_IS_APPLICATION (self));
  g_return_if_fail (server != NULL);
  g_return_if_fail (username != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_application_log_in_async);
  request = g_new0 (LogIn, 1);
  request->server = g_strdup (server);
  request->username = g_strdup (username);
  request->fingerprint = g_strdup (fingerprint);
  g_task_set_task_data (task, request, log_in_free);

  g_settings_set_string (self->settings, "server", server);
  g_settings_set_string (self->settings, "username", username);
  quipu_key_store_load_or_create_async (username, NULL, cancellable, on_identity_loaded, task);
}

gboolean
quipu_application_log_in_finish (QuipuApplication  *self,
                                 GAsyncResult      *result,
                                 QuipuClient      **attempt,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return log_in_propagate (result, attempt, error);
}

void
quipu_application_log_out (QuipuApplication *self)
{
  g_return_if_fail (QUIPU_IS_APPLICATION (self));

  if (self->drafts != NULL)
    quipu_drafts_flush (self->drafts);
  set_client (self, NULL);
}

static void
on_background_requested (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (reply == NULL)
    /* No portal (not sandboxed, or a desktop without one): the hold is enough. */
    g_debug ("Background portal unavailable: %s", error->message);
}

static void
request_background (QuipuApplication *self)
{
  GDBusConnection *bus = g_application_get_dbus_connection (G_APPLICATION (self));
  GVariantBuilder options;

  if (bus == NULL)
    return;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_("Quipu stays connected to receive messages")));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (FALSE));
  g_dbus_connection_call (bus,
                          "org.freedesktop.portal.Desktop",
                          "/org/freedesktop/portal/desktop",
                          "org.freedesktop.portal.Background",
                          "RequestBackground",
                          g_variant_new ("(sa{sv})", "", &options),
                          G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_background_requested, NULL);
}

gboolean
quipu_application_keep_in_background (QuipuApplication *self)
{
  g_return_val_if_fail (QUIPU_IS_APPLICATION (self), FALSE);

  if (!g_settings_get_boolean (self->settings, "run-in-background"))
    return FALSE;
  if (self->client == NULL && !quipu_hosted_server_get_running (self->hosted))
    return FALSE;

  if (!self->held)
    {
      self->held = TRUE;
      g_application_hold (G_APPLICATION (self));
      request_background (self);
    }
  return TRUE;
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  QuipuApplication *self = user_data;

  if (self->held)
    {
      self->held = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  if (self->drafts != NULL)
    quipu_drafts_flush (self->drafts);
  quipu_hosted_server_stop (self->hosted);
  g_application_quit (G_APPLICATION (self));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  QuipuApplication *self = user_data;
  AdwDialog *about;

  /* Name, developer, licence, URLs and releases all come from the metainfo. */
  about = adw_about_dialog_new_from_appdata (RESOURCE_PATH "/quipu.metainfo.xml", NULL);
  adw_about_dialog_set_version (ADW_ABOUT_DIALOG (about), PACKAGE_VERSION);
  adw_about_dialog_set_application_icon (ADW_ABOUT_DIALOG (about), APP_ID);
  /* Translators: put your names here, one per line */
  adw_about_dialog_set_translator_credits (ADW_ABOUT_DIALOG (about), _("translator-credits"));
  adw_dialog_present (about, GTK_WIDGET (get_main_window (self)));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  QuipuApplication *self = user_data;
  QuipuWindow *window = ensure_window (self);

  gtk_window_present (GTK_WINDOW (window));
  quipu_window_show_preferences (window);
}

static void
open_conversation_activated (GSimpleAction *action,
                             GVariant      *parameter,
                             gpointer       user_data)
{
  QuipuApplication *self = user_data;
  QuipuWindow *window = ensure_window (self);

  gtk_window_present (GTK_WINDOW (window));
  quipu_window_open_conversation (window, g_variant_get_string (parameter, NULL));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated },
  { "about", about_activated },
  { "preferences", preferences_activated },
  { "open-conversation", open_conversation_activated, "s" },
};

/* SIGTERM or SIGINT: quit as Ctrl+Q does (drafts saved, hosted server
 * stopped), not die on the spot. */
static gboolean
on_terminate (gpointer user_data)
{
  g_action_group_activate_action (G_ACTION_GROUP (user_data), "quit", NULL);
  return G_SOURCE_CONTINUE;
}

static void
quipu_application_startup (GApplication *application)
{
  QuipuApplication *self = QUIPU_APPLICATION (application);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *jump_accels[] = { "<Control>k", NULL };
  static const char *direct_accels[] = { "<Control>n", NULL };

  G_APPLICATION_CLASS (quipu_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.jump-to", jump_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.new-direct", direct_accels);

  g_unix_signal_add (SIGTERM, on_terminate, self);
  g_unix_signal_add (SIGINT, on_terminate, self);
}

static void
quipu_application_activate (GApplication *application)
{
  QuipuApplication *self = QUIPU_APPLICATION (application);
  QuipuWindow *window = ensure_window (self);

  gtk_window_present (GTK_WINDOW (window));

  if (self->option_server != NULL || self->option_user != NULL)
    {
      g_autofree char *server = g_steal_pointer (&self->option_server);
      g_autofree char *user = g_steal_pointer (&self->option_user);
      g_autofree char *room = g_steal_pointer (&self->option_room);
      g_autofree char *fingerprint = g_steal_pointer (&self->option_fingerprint);

      if (server == NULL)
        server = g_settings_get_string (self->settings, "server");
      if (user == NULL)
        user = g_settings_get_string (self->settings, "username");
      quipu_window_log_in (window, server, user, fingerprint, room != NULL ? room : "general");
    }
}

static int
quipu_application_handle_local_options (GApplication *application,
                                        GVariantDict *options)
{
  QuipuApplication *self = QUIPU_APPLICATION (application);

  g_variant_dict_lookup (options, "server", "s", &self->option_server);
  g_variant_dict_lookup (options, "user", "s", &self->option_user);
  g_variant_dict_lookup (options, "room", "s", &self->option_room);
  g_variant_dict_lookup (options, "server-fingerprint", "s", &self->option_fingerprint);

  return -1;
}

static void
quipu_application_shutdown (GApplication *application)
{
  QuipuApplication *self = QUIPU_APPLICATION (application);

  quipu_application_log_out (self);
  quipu_hosted_server_stop (self->hosted);

  G_APPLICATION_CLASS (quipu_application_parent_class)->shutdown (application);
}

static void
quipu_application_dispose (GObject *object)
{
  QuipuApplication *self = QUIPU_APPLICATION (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->drafts);
  g_clear_object (&self->hosted);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (quipu_application_parent_class)->dispose (object);
}

static void
quipu_application_finalize (GObject *object)
{
  QuipuApplication *self = QUIPU_APPLICATION (object);

  g_free (self->option_server);
  g_free (self->option_user);
  g_free (self->option_room);
  g_free (self->option_fingerprint);

  G_OBJECT_CLASS (quipu_application_parent_class)->finalize (object);
}

static void
quipu_application_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  QuipuApplication *self = QUIPU_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_CLIENT:
      g_value_set_object (value, self->client);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_application_class_init (QuipuApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = quipu_application_dispose;
  object_class->finalize = quipu_application_finalize;
  object_class->get_property = quipu_application_get_property;

  app_class->startup = quipu_application_startup;
  app_class->activate = quipu_application_activate;
  app_class->handle_local_options = quipu_application_handle_local_options;
  app_class->shutdown = quipu_application_shutdown;

  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, QUIPU_TYPE_CLIENT,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
quipu_application_init (QuipuApplication *self)
{
  static const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, NULL, N_("Log in to this server at once"), N_("HOST:PORT") },
    { "user", 'u', 0, G_OPTION_ARG_STRING, NULL, N_("Log in with this name"), N_("NAME") },
    { "room", 'r', 0, G_OPTION_ARG_STRING, NULL, N_("Open this room (default: general)"), N_("ROOM") },
    { "server-fingerprint", 0, 0, G_OPTION_ARG_STRING, NULL,
      N_("Trust only the server certificate with this fingerprint"), N_("SHA256:…") },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  self->settings = g_settings_new ("io.github.quipuchat.Quipu");
  self->hosted = quipu_hosted_server_new ();
}

QuipuApplication *
quipu_application_new (void)
{
  return g_object_new (QUIPU_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       /* The .Devel profile shares the resources of the stable one. */
                       "resource-base-path", RESOURCE_PATH,
                       NULL);
}
