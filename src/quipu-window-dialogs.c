/* quipu-window-dialogs.c: the window's small dialogs (rooms, people, identity, preferences) */
#define G_LOG_DOMAIN "quipu-window"

#include "config.h"

#include <glib/gi18n.h>

#include "quipu-alert.h"
#include "quipu-identity-transfer.h"
#include "quipu-member.h"
#include "quipu-window.h"

static QuipuClient *
get_client (QuipuWindow *self)
{
  QuipuApplication *app = QUIPU_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

  return quipu_application_get_client (app);
}

static GtkWidget *
new_entry (const char *placeholder)
{
  GtkWidget *entry = gtk_entry_new ();

  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), placeholder);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  placeholder, -1);
  return entry;
}

static void
on_entry_changed_enable (GtkEditable    *entry,
                         AdwAlertDialog *dialog)
{
  const char *response = g_object_get_data (G_OBJECT (dialog), "quipu-response");

  adw_alert_dialog_set_response_enabled (dialog, response,
                                         *gtk_editable_get_text (entry) != '\0');
}

/* Join a room */

static void
on_join_response (AdwAlertDialog *dialog,
                  const char     *response,
                  QuipuWindow    *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "quipu-entry");
  g_autofree char *room = g_strdup (gtk_editable_get_text (entry));

  if (g_str_equal (response, "join") && *g_strstrip (room) != '\0')
    quipu_window_join_room (self, room);
}

static void
on_directory_row_activated (GtkListBox     *list,
                            GtkListBoxRow  *row,
                            AdwAlertDialog *dialog)
{
  QuipuWindow *self = g_object_get_data (G_OBJECT (dialog), "quipu-window");
  g_autofree char *room = g_strdup (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));

  adw_dialog_close (ADW_DIALOG (dialog));
  quipu_window_join_room (self, room);
}

void
quipu_window_show_join_room (QuipuWindow *self)
{
  QuipuClient *client = get_client (self);
  const char * const *directory;
  AdwDialog *dialog;
  GtkWidget *box, *entry;

  if (client == NULL)
    return;

  dialog = quipu_alert_new (_("Join a Room"), _("Rooms are made the first time someone joins them"),
                            _("_Cancel"), "join", _("_Join"), ADW_RESPONSE_SUGGESTED);
  adw_alert_dialog_set_response_enabled (ADW_ALERT_DIALOG (dialog), "join", FALSE);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  entry = new_entry (_("Room Name"));
  gtk_box_append (GTK_BOX (box), entry);
  g_object_set_data (G_OBJECT (dialog), "quipu-entry", entry);
  g_object_set_data (G_OBJECT (dialog), "quipu-response", (gpointer) "join");
  g_signal_connect (entry, "changed", G_CALLBACK (on_entry_changed_enable), dialog);

  directory = quipu_client_get_room_directory (client);
  if (directory != NULL && directory[0] != NULL)
    {
      GtkWidget *list = gtk_list_box_new ();
      GtkWidget *scroller = gtk_scrolled_window_new ();

      gtk_widget_add_css_class (list, "boxed-list");
      /* Not stretched to the dialog's height: that showed as an empty,
       * taller row under the last room. */
      gtk_widget_set_valign (list, GTK_ALIGN_START);
      gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
      gtk_accessible_update_property (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Rooms on This Server"), -1);
      for (guint i = 0; directory[i] != NULL; i++)
        {
          GtkWidget *row = adw_action_row_new ();

          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), directory[i]);
          adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
          gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
          gtk_list_box_append (GTK_LIST_BOX (list), row);
        }
      g_signal_connect (list, "row-activated", G_CALLBACK (on_directory_row_activated), dialog);
      gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), list);
      gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
      gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 240);
      gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
      gtk_box_append (GTK_BOX (box), scroller);
    }

  adw_alert_dialog_set_extra_child (ADW_ALERT_DIALOG (dialog), box);
  g_object_set_data (G_OBJECT (dialog), "quipu-window", self);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_join_response), self, 0);
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

/* A direct conversation */

static void
on_direct_response (AdwAlertDialog *dialog,
                    const char     *response,
                    QuipuWindow    *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "quipu-entry");
  GPtrArray *checks = g_object_get_data (G_OBJECT (dialog), "quipu-checks");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) typed = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(GError) error = NULL;
  QuipuClient *client = get_client (self);
  QuipuConversation *conversation;

  if (!g_str_equal (response, "start") || client == NULL)
    return;

  typed = g_strsplit (gtk_editable_get_text (entry), ",", -1);
  for (guint i = 0; typed[i] != NULL; i++)
    if (*g_strstrip (typed[i]) != '\0')
      g_strv_builder_add (builder, typed[i]);
  for (guint i = 0; checks != NULL && i < checks->len; i++)
    if (gtk_check_button_get_active (g_ptr_array_index (checks, i)))
      g_strv_builder_add (builder, g_object_get_data (g_ptr_array_index (checks, i), "quipu-name"));
  names = g_strv_builder_end (builder);
  if (names[0] == NULL)
    return;

  conversation = quipu_client_open_direct (client, (const char * const *) names, &error);
  if (conversation == NULL)
    {
      quipu_window_add_toast (self, error->message);
      return;
    }
  quipu_window_open_conversation (self, quipu_conversation_get_key (conversation));
}

/* Start only once someone is named or picked. */
static void
update_direct_response (AdwAlertDialog *dialog)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "quipu-entry");
  GPtrArray *checks = g_object_get_data (G_OBJECT (dialog), "quipu-checks");
  g_autofree char *typed = g_strdup (gtk_editable_get_text (entry));
  gboolean chosen = *g_strstrip (g_strdelimit (typed, ",", ' ')) != '\0';

  for (guint i = 0; checks != NULL && i < checks->len && !chosen; i++)
    chosen = gtk_check_button_get_active (g_ptr_array_index (checks, i));
  adw_alert_dialog_set_response_enabled (dialog, "start", chosen);
}

void
quipu_window_show_new_direct (QuipuWindow *self)
{
  QuipuClient *client = get_client (self);
  const char *visible;
  QuipuConversation *room = NULL;
  GPtrArray *checks = g_ptr_array_new ();
  AdwDialog *dialog;
  GtkWidget *box, *entry;

  if (client == NULL)
    return;

  dialog = quipu_alert_new (_("New Direct Conversation"),
                            _("Write to one or more people; only they and you see it"),
                            _("_Cancel"), "start", _("_Start"), ADW_RESPONSE_SUGGESTED);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  entry = new_entry (_("Names, separated by commas"));
  gtk_box_append (GTK_BOX (box), entry);
  g_object_set_data (G_OBJECT (dialog), "quipu-entry", entry);

  /* People of the room on screen, to pick from. */
  visible = quipu_window_get_visible_conversation (self);
  if (visible != NULL)
    room = quipu_client_get_conversation (client, visible);
  if (room != NULL && quipu_conversation_get_kind (room) == QUIPU_CONVERSATION_ROOM)
    {
      GListModel *members = quipu_conversation_get_members (room);
      GtkWidget *list = gtk_list_box_new ();
      GtkWidget *scroller = gtk_scrolled_window_new ();
      guint n = g_list_model_get_n_items (members);

      gtk_widget_add_css_class (list, "boxed-list");
      gtk_widget_set_valign (list, GTK_ALIGN_START);
      gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
      gtk_accessible_update_property (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Members"), -1);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(QuipuMember) member = g_list_model_get_item (members, i);
          GtkWidget *row = adw_action_row_new ();
          GtkWidget *check = gtk_check_button_new ();
          const char *name = quipu_member_get_name (member);

          if (g_strcmp0 (name, quipu_client_get_username (client)) == 0)
            continue;
          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
          adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
          adw_action_row_set_subtitle (ADW_ACTION_ROW (row), quipu_member_get_short_id (member));
          adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
          adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
          gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
          g_object_set_data_full (G_OBJECT (check), "quipu-name", g_strdup (name), g_free);
          g_signal_connect_swapped (check, "toggled", G_CALLBACK (update_direct_response), dialog);
          g_ptr_array_add (checks, check);
          gtk_list_box_append (GTK_LIST_BOX (list), row);
        }
      gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), list);
      gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
      gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 280);
      gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
      gtk_widget_set_visible (scroller, checks->len > 0);
      gtk_box_append (GTK_BOX (box), scroller);
    }

  g_object_set_data_full (G_OBJECT (dialog), "quipu-checks", checks, (GDestroyNotify) g_ptr_array_unref);
  g_signal_connect_swapped (entry, "changed", G_CALLBACK (update_direct_response), dialog);
  update_direct_response (ADW_ALERT_DIALOG (dialog));
  adw_alert_dialog_set_extra_child (ADW_ALERT_DIALOG (dialog), box);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_direct_response), self, 0);
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

/* Jump to a conversation */

static GtkWidget *
create_jump_row (gpointer item,
                 gpointer user_data)
{
  QuipuConversation *conversation = item;
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), quipu_conversation_get_title (conversation));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data_full (G_OBJECT (row), "quipu-key",
                          g_strdup (quipu_conversation_get_key (conversation)), g_free);
  return row;
}

static void
on_jump_row_activated (GtkListBox    *list,
                       GtkListBoxRow *row,
                       QuipuWindow   *self)
{
  g_autofree char *key = g_strdup (g_object_get_data (G_OBJECT (row), "quipu-key"));
  AdwDialog *dialog = ADW_DIALOG (gtk_widget_get_ancestor (GTK_WIDGET (list), ADW_TYPE_DIALOG));

  adw_dialog_close (dialog);
  quipu_window_open_conversation (self, key);
}

static void
on_jump_search_activate (GtkSearchEntry *entry,
                         GtkListBox     *list)
{
  GtkListBoxRow *first = gtk_list_box_get_row_at_index (list, 0);

  if (first != NULL)
    g_signal_emit_by_name (list, "row-activated", first);
}

void
quipu_window_show_jump_to (QuipuWindow *self)
{
  QuipuClient *client = get_client (self);
  GtkExpression *expression;
  GtkStringFilter *filter;
  GtkFilterListModel *filtered;
  AdwDialog *dialog;
  GtkWidget *view, *header, *search, *list, *scroller;

  if (client == NULL)
    return;

  expression = gtk_property_expression_new (QUIPU_TYPE_CONVERSATION, NULL, "title");
  filter = gtk_string_filter_new (expression);
  filtered = gtk_filter_list_model_new (g_object_ref (quipu_client_get_conversations (client)),
                                        GTK_FILTER (filter));

  dialog = adw_dialog_new ();
  adw_dialog_set_title (dialog, _("Jump to Conversation"));
  adw_dialog_set_content_width (dialog, 360);
  adw_dialog_set_content_height (dialog, 420);

  search = gtk_search_entry_new ();
  gtk_search_entry_set_placeholder_text (GTK_SEARCH_ENTRY (search), _("Search Conversations"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (search), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Search Conversations"), -1);
  g_object_bind_property (search, "text", filter, "search", G_BINDING_DEFAULT);
  header = adw_header_bar_new ();
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), search);

  list = gtk_list_box_new ();
  gtk_widget_add_css_class (list, "navigation-sidebar");
  {
    GtkWidget *empty = adw_status_page_new ();

    adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "edit-find-symbolic");
    adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("No Conversations Found"));
    gtk_widget_add_css_class (empty, "compact");
    gtk_list_box_set_placeholder (GTK_LIST_BOX (list), empty);
  }
  gtk_list_box_bind_model (GTK_LIST_BOX (list), G_LIST_MODEL (filtered), create_jump_row, NULL, NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Conversations"), -1);
  g_signal_connect_object (list, "row-activated", G_CALLBACK (on_jump_row_activated), self, 0);
  g_signal_connect (search, "activate", G_CALLBACK (on_jump_search_activate), list);
  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), list);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);

  view = adw_toolbar_view_new ();
  adw_toolbar_view_add_top_bar (ADW_TOOLBAR_VIEW (view), header);
  adw_toolbar_view_set_content (ADW_TOOLBAR_VIEW (view), scroller);
  adw_dialog_set_child (dialog, view);
  adw_dialog_set_focus (dialog, search);
  g_object_unref (filtered);
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

/* Members of the room on screen */

static GtkWidget *
create_member_row (gpointer item,
                   gpointer user_data)
{
  QuipuMember *member = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *avatar = adw_avatar_new (32, quipu_member_get_name (member), TRUE);
  GtkWidget *state = gtk_label_new (NULL);
  gboolean online = quipu_member_get_online (member);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), quipu_member_get_name (member));
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), quipu_member_get_short_id (member));
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), avatar);
  gtk_label_set_text (GTK_LABEL (state), online ? _("Online") : _("Offline"));
  gtk_widget_add_css_class (state, online ? "success" : "dim-label");
  gtk_widget_add_css_class (state, "caption");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), state);
  return row;
}

void
quipu_window_show_members (QuipuWindow *self)
{
  QuipuClient *client = get_client (self);
  const char *key = quipu_window_get_visible_conversation (self);
  QuipuConversation *conversation;
  AdwDialog *dialog;
  GtkWidget *view, *list, *scroller, *clamp;

  if (client == NULL || key == NULL)
    return;
  conversation = quipu_client_get_conversation (client, key);
  if (conversation == NULL || quipu_conversation_get_kind (conversation) != QUIPU_CONVERSATION_ROOM)
    return;

  dialog = adw_dialog_new ();
  /* Translators: %s is a room such as #general */
  {
    g_autofree char *title = g_strdup_printf (_("Members of %s"), quipu_conversation_get_title (conversation));
    adw_dialog_set_title (dialog, title);
  }
  adw_dialog_set_content_width (dialog, 400);

  list = gtk_list_box_new ();
  gtk_widget_add_css_class (list, "boxed-list");
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_list_box_bind_model (GTK_LIST_BOX (list), quipu_conversation_get_members (conversation),
                           create_member_row, NULL, NULL);
  gtk_widget_set_valign (list, GTK_ALIGN_START);
  gtk_accessible_update_property (GTK_ACCESSIBLE (list), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Members"), -1);
  clamp = adw_clamp_new ();
  gtk_widget_set_margin_top (clamp, 12);
  gtk_widget_set_margin_bottom (clamp, 12);
  gtk_widget_set_margin_start (clamp, 12);
  gtk_widget_set_margin_end (clamp, 12);
  adw_clamp_set_child (ADW_CLAMP (clamp), list);
  scroller = gtk_scrolled_window_new ();
  /* As tall as the list, up to a screenful. */
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 480);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), clamp);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);

  view = adw_toolbar_view_new ();
  adw_toolbar_view_add_top_bar (ADW_TOOLBAR_VIEW (view), adw_header_bar_new ());
  adw_toolbar_view_set_content (ADW_TOOLBAR_VIEW (view), scroller);
  adw_dialog_set_child (dialog, view);
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

/* Your identity */

static char *
format_fingerprint (const char *user_id)
{
  GString *out = g_string_new (NULL);

  /* Groups of four, easy to read out to each other. */
  for (gsize i = 0; user_id[i] != '\0'; i++)
    {
      if (i > 0 && i % 4 == 0)
        g_string_append_c (out, ' ');
      g_string_append_c (out, user_id[i]);
    }
  return g_string_free (out, FALSE);
}

static void
on_copy_clicked (GtkButton   *button,
                 QuipuWindow *self)
{
  const char *text = g_object_get_data (G_OBJECT (button), "quipu-text");

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (button)), text);
  quipu_window_add_toast (self, _("Copied to clipboard"));
}

static void
on_export_activated (AdwButtonRow *row,
                     QuipuWindow  *self)
{
  QuipuClient *client = get_client (self);
  g_autoptr(QuipuIdentity) identity = NULL;

  if (client == NULL)
    return;
  g_object_get (client, "identity", &identity, NULL);
  /* From the row: the outcome is told over the identity dialog, still open. */
  quipu_identity_transfer_export (GTK_WIDGET (row), identity, quipu_client_get_username (client));
}

void
quipu_window_show_identity (QuipuWindow *self)
{
  QuipuClient *client = get_client (self);
  g_autofree char *fingerprint = NULL;
  g_autofree char *server = NULL;
  AdwDialog *dialog;
  GtkWidget *page, *group, *name_row, *server_row, *id_row, *copy, *trust, *export_row;

  if (client == NULL)
    return;

  fingerprint = format_fingerprint (quipu_client_get_user_id (client));
  g_object_get (client, "server", &server, NULL);

  dialog = adw_preferences_dialog_new ();
  adw_dialog_set_title (dialog, _("Your Identity"));
  page = adw_preferences_page_new ();

  group = adw_preferences_group_new ();
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group),
    _("Compare your fingerprint with a friend’s copy of it, in person or on a call: "
      "if both read the same, their messages from you are really yours."));
  name_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (name_row), _("Name"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (name_row), quipu_client_get_username (client));
  gtk_widget_add_css_class (name_row, "property");
  server_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (server_row), _("Server"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (server_row), server);
  gtk_widget_add_css_class (server_row, "property");
  id_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (id_row), _("Fingerprint"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (id_row), fingerprint);
  adw_action_row_set_subtitle_selectable (ADW_ACTION_ROW (id_row), TRUE);
  gtk_widget_add_css_class (id_row, "property");
  gtk_widget_add_css_class (id_row, "monospace");
  copy = gtk_button_new_from_icon_name ("edit-copy-symbolic");
  gtk_widget_set_valign (copy, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (copy, "flat");
  gtk_widget_set_tooltip_text (copy, _("Copy Fingerprint"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (copy), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Copy Fingerprint"), -1);
  g_object_set_data_full (G_OBJECT (copy), "quipu-text", g_strdup (fingerprint), g_free);
  g_signal_connect_object (copy, "clicked", G_CALLBACK (on_copy_clicked), self, 0);
  adw_action_row_add_suffix (ADW_ACTION_ROW (id_row), copy);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), name_row);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), server_row);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), id_row);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));

  group = adw_preferences_group_new ();
  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), _("Use It Elsewhere"));
  export_row = adw_button_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (export_row), _("_Export Identity…"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (export_row), TRUE);
  adw_button_row_set_start_icon_name (ADW_BUTTON_ROW (export_row), "document-save-symbolic");
  g_signal_connect_object (export_row, "activated", G_CALLBACK (on_export_activated), self, 0);
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group),
    _("A passphrase-protected file with your key, to log in with the same name on another "
      "computer or with quipu-cli"));
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), export_row);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));

  group = adw_preferences_group_new ();
  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), _("What Quipu Protects"));
  trust = gtk_label_new (_("Every message is signed with your key, so nobody can forge a message "
                           "in your name or change one on the way. Messages are not end-to-end "
                           "encrypted: the operator of the server can read them."));
  gtk_label_set_wrap (GTK_LABEL (trust), TRUE);
  gtk_label_set_xalign (GTK_LABEL (trust), 0);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), trust);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));

  adw_preferences_dialog_add (ADW_PREFERENCES_DIALOG (dialog), ADW_PREFERENCES_PAGE (page));
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

/* Preferences */

void
quipu_window_show_preferences (QuipuWindow *self)
{
  QuipuApplication *app = QUIPU_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  GSettings *settings = quipu_application_get_settings (app);
  AdwDialog *dialog;
  GtkWidget *page, *group, *enter_row, *background_row;

  g_return_if_fail (QUIPU_IS_WINDOW (self));

  dialog = adw_preferences_dialog_new ();
  page = adw_preferences_page_new ();
  adw_preferences_page_set_title (ADW_PREFERENCES_PAGE (page), _("General"));
  adw_preferences_page_set_icon_name (ADW_PREFERENCES_PAGE (page), "preferences-system-symbolic");

  group = adw_preferences_group_new ();
  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), _("Writing"));
  enter_row = adw_switch_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (enter_row), _("_Enter Sends Messages"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (enter_row), TRUE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (enter_row),
                               _("Otherwise Ctrl+Enter sends and Enter starts a new line"));
  g_settings_bind (settings, "enter-sends", enter_row, "active", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), enter_row);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));

  group = adw_preferences_group_new ();
  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), _("Background"));
  background_row = adw_switch_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (background_row), _("_Run in Background"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (background_row), TRUE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (background_row),
                               _("Stay connected, notify about messages and keep a hosted server "
                                 "running when the window is closed"));
  g_settings_bind (settings, "run-in-background", background_row, "active", G_SETTINGS_BIND_DEFAULT);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), background_row);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));

  adw_preferences_dialog_add (ADW_PREFERENCES_DIALOG (dialog), ADW_PREFERENCES_PAGE (page));
  adw_dialog_present (dialog, GTK_WIDGET (self));
}
