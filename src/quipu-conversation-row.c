/* quipu-conversation-row.c: a conversation in the sidebar */
#define G_LOG_DOMAIN "quipu-conversation-row"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "quipu-conversation-row.h"

struct _QuipuConversationRow
{
  GtkWidget          parent_instance;

  AdwAvatar         *avatar;
  GtkLabel          *title_label;
  GtkLabel          *badge;

  QuipuConversation *conversation;
};

G_DEFINE_FINAL_TYPE (QuipuConversationRow, quipu_conversation_row, GTK_TYPE_WIDGET)

static void
update (QuipuConversationRow *self)
{
  const char *title = quipu_conversation_get_title (self->conversation);
  guint unread = quipu_conversation_get_unread_count (self->conversation);
  gboolean mention = quipu_conversation_get_has_mention (self->conversation);
  g_autofree char *count = NULL;
  g_autofree char *description = NULL;

  gtk_label_set_text (self->title_label, title);
  adw_avatar_set_text (self->avatar, title);
  adw_avatar_set_icon_name (self->avatar,
                            quipu_conversation_get_kind (self->conversation) == QUIPU_CONVERSATION_ROOM
                            ? "chat-message-new-symbolic" : NULL);

  gtk_widget_set_visible (GTK_WIDGET (self->badge), unread > 0);
  /* A mention gets an "@" as well as a colour, not colour alone. */
  count = unread > 99 ? g_strdup_printf ("%s99+", mention ? "@ " : "")
                      : g_strdup_printf ("%s%u", mention ? "@ " : "", unread);
  gtk_label_set_text (self->badge, count);
  if (mention)
    gtk_widget_add_css_class (GTK_WIDGET (self->badge), "mention");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->badge), "mention");
  if (unread > 0)
    gtk_widget_add_css_class (GTK_WIDGET (self->title_label), "heading");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->title_label), "heading");

  if (mention)
    /* Translators: a sidebar entry read by a screen reader; %s is the conversation */
    description = g_strdup_printf (ngettext ("%s, %u unread message, mentions you",
                                             "%s, %u unread messages, mentions you", unread),
                                   title, unread);
  else if (unread > 0)
    description = g_strdup_printf (ngettext ("%s, %u unread message", "%s, %u unread messages", unread),
                                   title, unread);
  else
    description = g_strdup (title);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  description, -1);
}

void
quipu_conversation_row_set_conversation (QuipuConversationRow *self,
                                         QuipuConversation    *conversation)
{
  g_return_if_fail (QUIPU_IS_CONVERSATION_ROW (self));

  if (self->conversation != NULL)
    g_signal_handlers_disconnect_by_data (self->conversation, self);
  if (!g_set_object (&self->conversation, conversation) || conversation == NULL)
    return;

  g_signal_connect_object (conversation, "notify::title", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (conversation, "notify::unread-count", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (conversation, "notify::has-mention", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  update (self);
}

static void
quipu_conversation_row_dispose (GObject *object)
{
  QuipuConversationRow *self = QUIPU_CONVERSATION_ROW (object);
  GtkWidget *child;

  quipu_conversation_row_set_conversation (self, NULL);
  g_clear_object (&self->conversation);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (quipu_conversation_row_parent_class)->dispose (object);
}

static void
quipu_conversation_row_class_init (QuipuConversationRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = quipu_conversation_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "conversationrow");
  /* A named group, so screen readers read the title and the unread count. */
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
quipu_conversation_row_init (QuipuConversationRow *self)
{
  GtkBoxLayout *layout = GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (GTK_WIDGET (self)));

  gtk_box_layout_set_spacing (layout, 12);

  self->avatar = ADW_AVATAR (adw_avatar_new (32, NULL, TRUE));
  gtk_widget_set_parent (GTK_WIDGET (self->avatar), GTK_WIDGET (self));

  self->title_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->title_label, 0);
  gtk_label_set_ellipsize (self->title_label, PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (GTK_WIDGET (self->title_label), TRUE);
  gtk_widget_set_parent (GTK_WIDGET (self->title_label), GTK_WIDGET (self));

  self->badge = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_set_valign (GTK_WIDGET (self->badge), GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (GTK_WIDGET (self->badge), "unread-badge");
  gtk_widget_add_css_class (GTK_WIDGET (self->badge), "numeric");
  gtk_widget_set_visible (GTK_WIDGET (self->badge), FALSE);
  gtk_widget_set_parent (GTK_WIDGET (self->badge), GTK_WIDGET (self));
}

GtkWidget *
quipu_conversation_row_new (void)
{
  return g_object_new (QUIPU_TYPE_CONVERSATION_ROW, NULL);
}
