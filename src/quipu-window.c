/* quipu-window.c: the main window: login page, or sidebar + conversation */
#define G_LOG_DOMAIN "quipu-window"

#include "config.h"

#include <glib/gi18n.h>

#include "quipu-compose.h"
#include "quipu-conversation.h"
#include "quipu-conversation-row.h"
#include "quipu-login-page.h"
#include "quipu-timeline.h"
#include "quipu-window.h"

/* "Connecting…" only if it takes longer than this: a quick reconnect stays
 * invisible. */
#define CONNECTING_BANNER_DELAY_S 3

struct _QuipuWindow
{
  AdwApplicationWindow    parent_instance;

  AdwToastOverlay        *toast_overlay;
  GtkStack               *main_stack;
  QuipuLoginPage         *login_page;
  AdwNavigationSplitView *split_view;
  GtkListView            *sidebar_list;
  AdwNavigationPage      *content_page;
  AdwWindowTitle         *conversation_title;
  GtkWidget              *members_button;
  AdwBanner              *banner;
  GtkStack               *content_stack;
  QuipuTimeline          *timeline;
  QuipuCompose           *compose;

  QuipuApplication       *app;
  QuipuClient            *client;
  GtkSingleSelection     *sidebar_selection;
  char                   *pending_room;
  /* Opened as soon as it exists (a room being joined). */
  char                   *want_key;
  guint                   connecting_id;
  guint                   banner_clear_id;
  gboolean                had_problem;
};

G_DEFINE_FINAL_TYPE (QuipuWindow, quipu_window, ADW_TYPE_APPLICATION_WINDOW)

void
quipu_window_add_toast (QuipuWindow *self,
                        const char  *text)
{
  g_return_if_fail (QUIPU_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
}

static void
announce (QuipuWindow *self,
          const char  *text)
{
  gtk_accessible_announce (GTK_ACCESSIBLE (self), text, GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_HIGH);
}

const char *
quipu_window_get_visible_conversation (QuipuWindow *self)
{
  QuipuConversation *conversation;

  g_return_val_if_fail (QUIPU_IS_WINDOW (self), NULL);

  conversation = quipu_timeline_get_conversation (self->timeline);
  if (conversation == NULL
      || (adw_navigation_split_view_get_collapsed (self->split_view)
          && !adw_navigation_split_view_get_show_content (self->split_view)))
    return NULL;
  return quipu_conversation_get_key (conversation);
}

static void
remember_room (QuipuWindow       *self,
               QuipuConversation *conversation)
{
  GSettings *settings = quipu_application_get_settings (self->app);
  g_auto(GStrv) rooms = g_settings_get_strv (settings, "rooms");
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) updated = NULL;
  const char *room = quipu_conversation_get_room (conversation);

  if (room == NULL || g_strv_contains ((const char * const *) rooms, room))
    return;
  builder = g_strv_builder_new ();
  g_strv_builder_addv (builder, (const char **) rooms);
  g_strv_builder_add (builder, room);
  updated = g_strv_builder_end (builder);
  g_settings_set_strv (settings, "rooms", (const char * const *) updated);
}

static void
show_conversation (QuipuWindow       *self,
                   QuipuConversation *conversation)
{
  gboolean is_room;

  quipu_timeline_set_conversation (self->timeline, conversation);
  quipu_compose_set_conversation (self->compose, conversation);
  gtk_widget_set_visible (GTK_WIDGET (self->compose), conversation != NULL);

  if (conversation == NULL)
    {
      gtk_stack_set_visible_child_name (self->content_stack, "empty");
      adw_window_title_set_title (self->conversation_title, "");
      adw_window_title_set_subtitle (self->conversation_title, "");
      gtk_widget_set_visible (self->members_button, FALSE);
      return;
    }

  is_room = quipu_conversation_get_kind (conversation) == QUIPU_CONVERSATION_ROOM;
  gtk_stack_set_visible_child_name (self->content_stack, "timeline");
  adw_window_title_set_title (self->conversation_title, quipu_conversation_get_title (conversation));
  adw_window_title_set_subtitle (self->conversation_title,
                                 is_room ? _("Room") : _("Direct Conversation"));
  adw_navigation_page_set_title (self->content_page, quipu_conversation_get_title (conversation));
  gtk_widget_set_visible (self->members_button, is_room);
  if (is_room)
    remember_room (self, conversation);

  quipu_application_withdraw_notification (self->app, quipu_conversation_get_key (conversation));
  quipu_compose_grab_focus (self->compose);
}

static void
on_selected_changed (QuipuWindow *self)
{
  QuipuConversation *conversation = gtk_single_selection_get_selected_item (self->sidebar_selection);

  /* Re-sorting by activity moves the selection with the item; only a
   * different conversation needs a new timeline. */
  if (conversation != quipu_timeline_get_conversation (self->timeline))
    show_conversation (self, conversation);
}

static void
on_sidebar_activate (GtkListView *list,
                     guint        position,
                     QuipuWindow *self)
{
  gtk_single_selection_set_selected (self->sidebar_selection, position);
  on_selected_changed (self);
  adw_navigation_split_view_set_show_content (self->split_view, TRUE);
  quipu_compose_grab_focus (self->compose);
}

void
quipu_window_open_conversation (QuipuWindow *self,
                                const char  *key)
{
  GListModel *model;
  guint n;

  g_return_if_fail (QUIPU_IS_WINDOW (self));
  g_return_if_fail (key != NULL);

  if (self->sidebar_selection == NULL)
    return;
  model = G_LIST_MODEL (self->sidebar_selection);
  n = g_list_model_get_n_items (model);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(QuipuConversation) conversation = g_list_model_get_item (model, i);

      if (g_str_equal (quipu_conversation_get_key (conversation), key))
        {
          on_sidebar_activate (self->sidebar_list, i, self);
          gtk_list_view_scroll_to (self->sidebar_list, i, GTK_LIST_SCROLL_NONE, NULL);
          return;
        }
    }
}

static void
on_timeline_read (QuipuWindow *self)
{
  const char *key = quipu_window_get_visible_conversation (self);

  if (key != NULL)
    quipu_application_withdraw_notification (self->app, key);
}

static void
on_compose_failed (QuipuWindow  *self,
                   const GError *error)
{
  quipu_window_add_toast (self, error->message);
}

static void
on_compose_sent (QuipuWindow *self)
{
  quipu_timeline_scroll_to_bottom (self->timeline);
}

static gboolean
on_connecting_timeout (gpointer user_data)
{
  QuipuWindow *self = user_data;

  self->connecting_id = 0;
  /* An error banner already says what is wrong; keep it while retrying. */
  if (self->had_problem)
    return G_SOURCE_REMOVE;
  self->had_problem = TRUE;
  adw_banner_set_title (self->banner, _("Connecting…"));
  adw_banner_set_button_label (self->banner, NULL);
  adw_banner_set_revealed (self->banner, TRUE);
  announce (self, _("Connecting…"));
  return G_SOURCE_REMOVE;
}

/* Once the banner has slid away, its old text goes too, so a screen reader
 * browsing the window does not find a stale "Not connected". */
static gboolean
on_banner_hidden (gpointer user_data)
{
  QuipuWindow *self = user_data;

  self->banner_clear_id = 0;
  if (!adw_banner_get_revealed (self->banner))
    {
      adw_banner_set_title (self->banner, "");
      adw_banner_set_button_label (self->banner, NULL);
    }
  return G_SOURCE_REMOVE;
}

static void
update_banner (QuipuWindow *self)
{
  QuipuState state = quipu_client_get_state (self->client);
  const GError *error = quipu_client_get_error (self->client);

  g_debug ("Session %s%s%s", quipu_state_to_string (state),
           error != NULL ? ": " : "", error != NULL ? error->message : "");

  switch (state)
    {
    case QUIPU_STATE_CONNECTED:
      g_clear_handle_id (&self->connecting_id, g_source_remove);
      adw_banner_set_revealed (self->banner, FALSE);
      g_clear_handle_id (&self->banner_clear_id, g_source_remove);
      self->banner_clear_id = g_timeout_add (500, on_banner_hidden, self);
      if (self->had_problem)
        announce (self, _("Connected"));
      self->had_problem = FALSE;
      break;

    case QUIPU_STATE_CONNECTING:
      if (self->connecting_id == 0 && !adw_banner_get_revealed (self->banner))
        self->connecting_id = g_timeout_add_seconds (CONNECTING_BANNER_DELAY_S,
                                                     on_connecting_timeout, self);
      break;

    case QUIPU_STATE_ERROR:
    case QUIPU_STATE_DISCONNECTED:
      g_clear_handle_id (&self->connecting_id, g_source_remove);
      if (error != NULL)
        {
          /* Translators: %s is the precise reason, e.g. "no answer from localhost:7447" */
          g_autofree char *title = g_strdup_printf (_("Not connected: %s"), error->message);

          adw_banner_set_title (self->banner, title);
          adw_banner_set_button_label (self->banner, _("_Retry"));
          adw_banner_set_revealed (self->banner, TRUE);
          announce (self, title);
          self->had_problem = TRUE;
        }
      break;

    case QUIPU_STATE_DISCONNECTING:
    default:
      break;
    }
}

static void
on_banner_retry (QuipuWindow *self)
{
  if (self->client == NULL)
    return;
  adw_banner_set_button_label (self->banner, NULL);
  adw_banner_set_title (self->banner, _("Connecting…"));
  quipu_client_connect (self->client);
}

static void
open_wanted (QuipuWindow *self)
{
  g_autofree char *key = NULL;

  if (self->want_key == NULL || self->client == NULL
      || quipu_client_get_conversation (self->client, self->want_key) == NULL)
    return;
  key = g_steal_pointer (&self->want_key);
  quipu_window_open_conversation (self, key);
}

static void
join_room (QuipuWindow *self,
           const char  *room,
           gboolean     open)
{
  g_autofree char *key = NULL;
  g_autoptr(GError) error = NULL;

  if (self->client == NULL)
    return;

  if (room[0] == '#')
    room++;
  key = quipu_conversation_key_for_room (room);
  if (open)
    {
      g_free (self->want_key);
      self->want_key = g_strdup (key);
    }
  /* Joining only queues a frame; the conversation appears in the list. */
  if (quipu_client_get_conversation (self->client, key) == NULL
      && !quipu_client_join (self->client, room, &error))
    {
      /* Translators: %s says why, e.g. "bad name" */
      g_autofree char *text = g_strdup_printf (_("Could not join the room: %s"), error->message);

      quipu_window_add_toast (self, text);
      return;
    }
  open_wanted (self);
}

void
quipu_window_join_room (QuipuWindow *self,
                        const char  *room)
{
  g_return_if_fail (QUIPU_IS_WINDOW (self));
  g_return_if_fail (room != NULL);

  join_room (self, room, TRUE);
}

static void
on_client_changed (QuipuWindow *self)
{
  QuipuClient *client = quipu_application_get_client (self->app);
  GSettings *settings = quipu_application_get_settings (self->app);

  if (client == self->client)
    return;

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_handle_id (&self->connecting_id, g_source_remove);
  adw_banner_set_revealed (self->banner, FALSE);
  self->had_problem = FALSE;
  show_conversation (self, NULL);
  gtk_list_view_set_model (self->sidebar_list, NULL);
  g_clear_object (&self->sidebar_selection);
  g_set_object (&self->client, client);
  quipu_compose_set_drafts (self->compose, client != NULL ? quipu_application_get_drafts (self->app) : NULL);

  if (client == NULL)
    {
      gtk_stack_set_visible_child_name (self->main_stack, "login");
      return;
    }

  self->sidebar_selection = gtk_single_selection_new (g_object_ref (quipu_client_get_conversations (client)));
  gtk_single_selection_set_autoselect (self->sidebar_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->sidebar_selection, TRUE);
  gtk_single_selection_set_selected (self->sidebar_selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_object (self->sidebar_selection, "notify::selected-item",
                           G_CALLBACK (on_selected_changed), self, G_CONNECT_SWAPPED);
  gtk_list_view_set_model (self->sidebar_list, GTK_SELECTION_MODEL (self->sidebar_selection));

  g_signal_connect_object (client, "notify::state", G_CALLBACK (update_banner), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (quipu_client_get_conversations (client), "items-changed",
                           G_CALLBACK (open_wanted), self, G_CONNECT_SWAPPED);
  gtk_stack_set_visible_child_name (self->main_stack, "chat");

  /* Rooms joined in earlier runs come back; the one asked for opens. */
  {
    g_auto(GStrv) rooms = g_settings_get_strv (settings, "rooms");
    g_autofree char *pending = g_steal_pointer (&self->pending_room);

    for (guint i = 0; rooms[i] != NULL; i++)
      join_room (self, rooms[i], pending == NULL && i == 0);
    if (pending != NULL)
      join_room (self, pending, TRUE);
    else if (rooms[0] == NULL)
      join_room (self, "general", TRUE);
  }
  update_banner (self);
}

void
quipu_window_log_in (QuipuWindow *self,
                     const char  *server,
                     const char  *username,
                     const char  *fingerprint,
                     const char  *room)
{
  g_return_if_fail (QUIPU_IS_WINDOW (self));

  g_free (self->pending_room);
  self->pending_room = g_strdup (room);
  quipu_login_page_log_in (self->login_page, server, username, fingerprint);
}

static void
on_logged_in (QuipuWindow *self)
{
  quipu_compose_grab_focus (self->compose);
}

static void
setup_sidebar_row (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   gpointer                  user_data)
{
  gtk_list_item_set_child (item, quipu_conversation_row_new ());
}

static void
bind_sidebar_row (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  gpointer                  user_data)
{
  quipu_conversation_row_set_conversation (QUIPU_CONVERSATION_ROW (gtk_list_item_get_child (item)),
                                           gtk_list_item_get_item (item));
}

static void
unbind_sidebar_row (GtkSignalListItemFactory *factory,
                    GtkListItem              *item,
                    gpointer                  user_data)
{
  quipu_conversation_row_set_conversation (QUIPU_CONVERSATION_ROW (gtk_list_item_get_child (item)), NULL);
}

/* The window's dialogs, one action each. */
static const struct {
  const char *action;
  void      (*show) (QuipuWindow *self);
} dialog_actions[] = {
  { "win.jump-to", quipu_window_show_jump_to },
  { "win.new-direct", quipu_window_show_new_direct },
  { "win.join-room", quipu_window_show_join_room },
  { "win.members", quipu_window_show_members },
  { "win.identity", quipu_window_show_identity },
};

static void
dialog_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  for (guint i = 0; i < G_N_ELEMENTS (dialog_actions); i++)
    if (g_str_equal (dialog_actions[i].action, action_name))
      dialog_actions[i].show (QUIPU_WINDOW (widget));
}

static void
log_out_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  QuipuWindow *self = QUIPU_WINDOW (widget);

  quipu_application_log_out (self->app);
}

static gboolean
quipu_window_close_request (GtkWindow *window)
{
  QuipuWindow *self = QUIPU_WINDOW (window);

  /* With run-in-background the app holds itself and lives on without a
   * window; the window closes either way. */
  quipu_application_keep_in_background (self->app);
  return GTK_WINDOW_CLASS (quipu_window_parent_class)->close_request (window);
}

static void
quipu_window_dispose (GObject *object)
{
  QuipuWindow *self = QUIPU_WINDOW (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_handle_id (&self->connecting_id, g_source_remove);
  g_clear_handle_id (&self->banner_clear_id, g_source_remove);
  if (self->sidebar_list != NULL)
    gtk_list_view_set_model (self->sidebar_list, NULL);
  g_clear_object (&self->sidebar_selection);
  gtk_widget_dispose_template (GTK_WIDGET (self), QUIPU_TYPE_WINDOW);

  G_OBJECT_CLASS (quipu_window_parent_class)->dispose (object);
}

static void
quipu_window_finalize (GObject *object)
{
  QuipuWindow *self = QUIPU_WINDOW (object);

  g_free (self->pending_room);
  g_free (self->want_key);

  G_OBJECT_CLASS (quipu_window_parent_class)->finalize (object);
}

/* After construction: "application" is not a construct property. */
static void
setup (QuipuWindow      *self,
       QuipuApplication *app)
{
  GSettings *settings;

  self->app = app;
  settings = quipu_application_get_settings (self->app);

  g_settings_bind (settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "enter-sends", self->compose, "enter-sends", G_SETTINGS_BIND_GET);

  g_signal_connect_object (self->app, "notify::client", G_CALLBACK (on_client_changed),
                           self, G_CONNECT_SWAPPED);
  on_client_changed (self);
}

static void
quipu_window_class_init (QuipuWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = quipu_window_dispose;
  object_class->finalize = quipu_window_finalize;
  window_class->close_request = quipu_window_close_request;

  g_type_ensure (QUIPU_TYPE_LOGIN_PAGE);
  g_type_ensure (QUIPU_TYPE_TIMELINE);
  g_type_ensure (QUIPU_TYPE_COMPOSE);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/quipuchat/Quipu/quipu-window.ui");
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, login_page);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, split_view);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, content_page);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, conversation_title);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, members_button);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, banner);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, timeline);
  gtk_widget_class_bind_template_child (widget_class, QuipuWindow, compose);
  gtk_widget_class_bind_template_callback (widget_class, on_sidebar_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_banner_retry);
  gtk_widget_class_bind_template_callback (widget_class, on_timeline_read);
  gtk_widget_class_bind_template_callback (widget_class, on_compose_failed);
  gtk_widget_class_bind_template_callback (widget_class, on_compose_sent);

  for (guint i = 0; i < G_N_ELEMENTS (dialog_actions); i++)
    gtk_widget_class_install_action (widget_class, dialog_actions[i].action, NULL, dialog_action);
  gtk_widget_class_install_action (widget_class, "win.log-out", NULL, log_out_action);
}

static void
quipu_window_init (QuipuWindow *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  if (g_str_has_suffix (APP_ID, ".Devel"))
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");

  g_signal_connect (factory, "setup", G_CALLBACK (setup_sidebar_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_sidebar_row), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_sidebar_row), NULL);
  gtk_list_view_set_factory (self->sidebar_list, factory);

  g_signal_connect_object (self->login_page, "logged-in", G_CALLBACK (on_logged_in),
                           self, G_CONNECT_SWAPPED);
  gtk_widget_set_visible (GTK_WIDGET (self->compose), FALSE);
}

QuipuWindow *
quipu_window_new (QuipuApplication *app)
{
  QuipuWindow *self = g_object_new (QUIPU_TYPE_WINDOW, "application", app, NULL);

  setup (self, app);
  return self;
}
