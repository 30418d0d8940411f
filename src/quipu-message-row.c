/* quipu-message-row.c: a message in the timeline */
#define G_LOG_DOMAIN "quipu-message-row"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "quipu-message-body.h"
#include "quipu-message-markup.h"
#include "quipu-message-row.h"

/* Messages of one sender closer together than this share one header. */
#define GROUP_SPAN_MS (5 * 60 * 1000)
/* Pixels above a message with its sender's header, and above one grouped
 * under the previous one's. */
#define MESSAGE_GAP 8
#define GROUPED_GAP 1
/* The avatar's size (as in the .ui): a grouped message, without one,
 * keeps its column by a margin as wide as the avatar and the spacing. */
#define AVATAR_SIZE 36

struct _QuipuMessageRow
{
  GtkWidget     parent_instance;

  GtkLabel     *day_label;   /* made on first use, like the divider */
  GtkWidget    *divider;
  GtkWidget    *message_box;
  AdwAvatar    *avatar;
  GtkWidget    *content;
  GtkWidget    *header;
  GtkLabel     *sender_label;
  GtkLabel     *short_id_label;
  GtkLabel     *verification_label;   /* made on first use */
  GtkLabel     *time_label;
  QuipuMessageBody *body_box;
  GtkLabel     *body_label;
  GtkImage     *status_icon;

  QuipuMessage *message;
  char         *self_name;   /* whose mentions to highlight, or NULL */
  gulong        status_handler;
  /* What the row shows now, so that a rebind only touches what differs:
   * every setter queues a resize or restyle, and a tooltip set makes GTK
   * ask the display where the pointer is (a round trip on X11). */
  int           shown_status;
  int           shown_verification;
};

G_DEFINE_FINAL_TYPE (QuipuMessageRow, quipu_message_row, GTK_TYPE_WIDGET)

/* The accent colour as text on the view, for the mention spans: markup
 * cannot name a CSS colour, so it is looked up, for light or dark. */
static char *
mention_color (void)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  GdkRGBA rgba;

  adw_accent_color_to_standalone_rgba (adw_style_manager_get_accent_color (style),
                                       adw_style_manager_get_dark (style), &rgba);
  return g_strdup_printf ("#%02x%02x%02x", (guint) (rgba.red * 255 + 0.5),
                          (guint) (rgba.green * 255 + 0.5), (guint) (rgba.blue * 255 + 0.5));
}

static void
update_body (QuipuMessageRow *self)
{
  g_autofree char *color = mention_color ();
  g_autofree char *markup = NULL;
  gboolean mentioned;

  if (self->message == NULL)
    return;
  markup = quipu_message_markup (quipu_message_get_body (self->message), self->self_name, color,
                                 &mentioned);
  if (g_strcmp0 (gtk_label_get_label (self->body_label), markup) != 0)
    gtk_label_set_markup (self->body_label, markup);
  if (mentioned)
    gtk_widget_add_css_class (self->message_box, "mention");
  else
    gtk_widget_remove_css_class (self->message_box, "mention");
}

static void
set_text (GtkLabel   *label,
          const char *text)
{
  if (g_strcmp0 (gtk_label_get_label (label), text) != 0)
    gtk_label_set_text (label, text);
}

/* The full date and time on hover, made when asked rather than on every
 * bind. */
static gboolean
on_time_query_tooltip (QuipuMessageRow *self,
                       int              x,
                       int              y,
                       gboolean         keyboard,
                       GtkTooltip      *tooltip)
{
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *full_time = NULL;

  if (self->message == NULL)
    return FALSE;
  when = g_date_time_new_from_unix_local_usec (quipu_message_get_timestamp (self->message) * 1000);
  full_time = g_date_time_format (when, "%c");
  gtk_tooltip_set_text (tooltip, full_time);
  return TRUE;
}

static char *
format_day (GDateTime *when)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  int days = g_date_time_get_day_of_year (now) - g_date_time_get_day_of_year (when);

  if (g_date_time_get_year (now) == g_date_time_get_year (when))
    {
      if (days == 0)
        return g_strdup (_("Today"));
      if (days == 1)
        return g_strdup (_("Yesterday"));
      /* Translators: a day separator in the timeline, see strftime(3): "Monday, 30 November" */
      return g_date_time_format (when, _("%A, %e %B"));
    }
  /* Translators: a day separator in the timeline, see strftime(3): "30 November 2025" */
  return g_date_time_format (when, _("%e %B %Y"));
}

static gboolean
same_day (GDateTime *a,
          GDateTime *b)
{
  return g_date_time_get_year (a) == g_date_time_get_year (b)
         && g_date_time_get_day_of_year (a) == g_date_time_get_day_of_year (b);
}

/* The day separator and the new-messages divider are rare, so they are
 * made when first needed rather than hidden in every row: each widget is
 * a CSS node, and GTK restyles every row after the place where
 * GtkListView puts a row it rebinds, which it does many times a frame
 * while scrolling. */
static void
show_day (QuipuMessageRow *self,
          const char      *day)
{
  if (day == NULL)
    {
      if (self->day_label != NULL)
        gtk_widget_set_visible (GTK_WIDGET (self->day_label), FALSE);
      return;
    }
  if (self->day_label == NULL)
    {
      GtkWidget *label = gtk_label_new (NULL);

      gtk_widget_set_margin_top (label, 12);
      gtk_widget_set_margin_bottom (label, 6);
      gtk_widget_add_css_class (label, "day-separator");
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_add_css_class (label, "caption-heading");
      gtk_widget_insert_after (label, GTK_WIDGET (self), NULL);
      self->day_label = GTK_LABEL (label);
    }
  set_text (self->day_label, day);
  gtk_widget_set_visible (GTK_WIDGET (self->day_label), TRUE);
}

static void
show_divider (QuipuMessageRow *self,
              gboolean         show)
{
  GtkWidget *label;

  if (self->divider == NULL && !show)
    return;
  if (self->divider == NULL)
    {
      self->divider = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
      gtk_widget_set_margin_top (self->divider, 6);
      gtk_widget_set_margin_bottom (self->divider, 6);
      gtk_widget_add_css_class (self->divider, "new-messages-divider");
      label = gtk_label_new (_("New Messages"));
      gtk_widget_add_css_class (label, "caption-heading");
      gtk_widget_add_css_class (label, "accent");
      for (guint i = 0; i < 2; i++)
        {
          GtkWidget *line = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);

          gtk_widget_set_hexpand (line, TRUE);
          gtk_widget_set_valign (line, GTK_ALIGN_CENTER);
          gtk_box_append (GTK_BOX (self->divider), line);
          if (i == 0)
            gtk_box_append (GTK_BOX (self->divider), label);
        }
      gtk_widget_insert_before (self->divider, GTK_WIDGET (self), self->message_box);
    }
  gtk_widget_set_visible (self->divider, show);
}

static gboolean
is_trustworthy (QuipuMessage *message)
{
  QuipuVerification verification = quipu_message_get_verification (message);

  return verification == QUIPU_VERIFICATION_VALID || verification == QUIPU_VERIFICATION_SKIPPED;
}

static void
update_status (QuipuMessageRow *self)
{
  QuipuMessageStatus status = quipu_message_get_status (self->message);
  const char *icon = NULL;
  g_autofree char *tooltip = NULL;

  /* A failure's reason is per message: always redo that one. */
  if ((int) status == self->shown_status && status != QUIPU_MESSAGE_FAILED)
    return;
  self->shown_status = status;

  switch (status)
    {
    case QUIPU_MESSAGE_PENDING:
      icon = "document-open-recent-symbolic";
      tooltip = g_strdup (_("Sending…"));
      break;
    case QUIPU_MESSAGE_ACKED:
      icon = "object-select-symbolic";
      tooltip = g_strdup (_("Stored on the server"));
      break;
    case QUIPU_MESSAGE_FAILED:
      icon = "dialog-error-symbolic";
      /* Translators: %s is the server's reason, e.g. "message too large" */
      tooltip = g_strdup_printf (_("Not sent: %s"),
                                 quipu_message_get_failure_reason (self->message) != NULL
                                 ? quipu_message_get_failure_reason (self->message)
                                 : _("refused by the server"));
      break;
    case QUIPU_MESSAGE_RECEIVED:
    default:
      break;
    }

  gtk_widget_set_visible (GTK_WIDGET (self->status_icon), icon != NULL);
  if (icon == NULL)
    return;
  gtk_image_set_from_icon_name (self->status_icon, icon);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_icon), tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip, -1);
  if (status == QUIPU_MESSAGE_FAILED)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_icon), "error");
}

static void
on_status_changed (QuipuMessageRow *self)
{
  update_status (self);
}

static void
update_verification (QuipuMessageRow *self)
{
  QuipuVerification verification = quipu_message_get_verification (self->message);
  const char *label = NULL;
  const char *explanation = NULL;

  if ((int) verification == self->shown_verification)
    return;
  self->shown_verification = verification;

  switch (verification)
    {
    case QUIPU_VERIFICATION_INVALID:
      label = _("Forged");
      explanation = _("The signature does not match: this message was not written by this person, "
                      "or was changed on the way");
      break;
    case QUIPU_VERIFICATION_KEY_CHANGED:
      label = _("Key Changed");
      explanation = _("This person’s key differs from the one seen before: it may be someone else "
                      "using the same name");
      break;
    case QUIPU_VERIFICATION_VALID:
    case QUIPU_VERIFICATION_SKIPPED:
    default:
      break;
    }

  /* Rare, like the day separator: made when first needed. */
  if (self->verification_label == NULL && label != NULL)
    {
      GtkWidget *warning = gtk_label_new (NULL);

      gtk_widget_add_css_class (warning, "verification-warning");
      gtk_widget_add_css_class (warning, "caption-heading");
      gtk_widget_insert_after (warning, self->header, GTK_WIDGET (self->short_id_label));
      self->verification_label = GTK_LABEL (warning);
    }
  if (self->verification_label != NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->verification_label), label != NULL);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->verification_label), explanation);
    }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->body_label), explanation);
  if (label != NULL)
    {
      gtk_label_set_text (self->verification_label, label);
      gtk_widget_add_css_class (GTK_WIDGET (self->body_label), "error");
      gtk_widget_add_css_class (self->message_box, "unverified");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->body_label), "error");
      gtk_widget_remove_css_class (self->message_box, "unverified");
    }
}

void
quipu_message_row_unbind (QuipuMessageRow *self)
{
  g_return_if_fail (QUIPU_IS_MESSAGE_ROW (self));

  if (self->message != NULL)
    g_clear_signal_handler (&self->status_handler, self->message);
  if (self->body_box != NULL)
    quipu_message_body_set_owner (self->body_box, NULL);
  g_clear_object (&self->message);
}

void
quipu_message_row_bind (QuipuMessageRow *self,
                        QuipuMessage    *message,
                        QuipuMessage    *previous,
                        gboolean         first_unread,
                        const char      *self_name)
{
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) previous_when = NULL;
  g_autofree char *time = NULL;
  g_autofree char *description = NULL;
  gboolean new_day, grouped;

  g_return_if_fail (QUIPU_IS_MESSAGE_ROW (self));
  g_return_if_fail (QUIPU_IS_MESSAGE (message));

  quipu_message_row_unbind (self);
  self->message = g_object_ref (message);
  quipu_message_body_set_owner (self->body_box, G_OBJECT (message));

  when = g_date_time_new_from_unix_local_usec (quipu_message_get_timestamp (message) * 1000);
  if (previous != NULL)
    previous_when = g_date_time_new_from_unix_local_usec (quipu_message_get_timestamp (previous) * 1000);

  new_day = previous_when == NULL || !same_day (previous_when, when);
  grouped = !new_day && !first_unread
            && g_strcmp0 (quipu_message_get_sender_id (previous), quipu_message_get_sender_id (message)) == 0
            && quipu_message_get_timestamp (message) - quipu_message_get_timestamp (previous) < GROUP_SPAN_MS
            && is_trustworthy (previous) && is_trustworthy (message);

  if (new_day)
    {
      g_autofree char *day = format_day (when);
      show_day (self, day);
    }
  else
    show_day (self, NULL);
  show_divider (self, first_unread);

  /* A grouped message keeps the avatar's column, so bodies line up. */
  gtk_widget_set_visible (GTK_WIDGET (self->avatar), !grouped);
  gtk_widget_set_margin_start (self->content,
                               grouped ? AVATAR_SIZE + gtk_box_get_spacing (GTK_BOX (self->message_box)) : 0);
  gtk_widget_set_visible (self->header, !grouped);
  /* Set here, not by a style class: a class changed on a bind restyles
   * the whole message, and GtkListView rebinds many rows per frame. */
  gtk_widget_set_margin_top (self->message_box, grouped ? GROUPED_GAP : MESSAGE_GAP);

  if (g_strcmp0 (adw_avatar_get_text (self->avatar), quipu_message_get_sender (message)) != 0)
    adw_avatar_set_text (self->avatar, quipu_message_get_sender (message));
  set_text (self->sender_label, quipu_message_get_sender (message));
  set_text (self->short_id_label, quipu_message_get_sender_short_id (message));
  time = g_date_time_format (when, "%H:%M");
  set_text (self->time_label, time);

  if (g_strcmp0 (self->self_name, self_name) != 0)
    {
      g_free (self->self_name);
      self->self_name = g_strdup (self_name);
    }
  update_body (self);

  update_verification (self);
  update_status (self);
  self->status_handler = g_signal_connect_object (message, "notify::status",
                                                  G_CALLBACK (on_status_changed), self,
                                                  G_CONNECT_SWAPPED);

  /* Translators: how a screen reader reads one message: sender, time, text */
  description = g_strdup_printf (_("%s at %s: %s"), quipu_message_get_sender (message), time,
                                 quipu_message_get_body (message));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  description, -1);
}

int
quipu_message_row_get_body_width (QuipuMessageRow *self)
{
  g_return_val_if_fail (QUIPU_IS_MESSAGE_ROW (self), 0);

  return gtk_widget_get_width (GTK_WIDGET (self->body_box));
}

gboolean
quipu_message_row_measure_ahead (QuipuMessageRow *self,
                                 QuipuMessage    *message,
                                 const char      *self_name,
                                 int              body_width)
{
  g_return_val_if_fail (QUIPU_IS_MESSAGE_ROW (self), FALSE);
  g_return_val_if_fail (QUIPU_IS_MESSAGE (message), FALSE);

  if (body_width <= 0 || quipu_message_body_is_measured (G_OBJECT (message)))
    return FALSE;
  /* Bound as the row the list would show (the same markup, status icon
   * and font); the header and separators do not touch the text's width. */
  quipu_message_row_bind (self, message, NULL, FALSE, self_name);
  gtk_widget_measure (GTK_WIDGET (self->body_box), GTK_ORIENTATION_VERTICAL, body_width,
                      NULL, NULL, NULL, NULL);
  quipu_message_row_unbind (self);
  return TRUE;
}

static void
quipu_message_row_dispose (GObject *object)
{
  QuipuMessageRow *self = QUIPU_MESSAGE_ROW (object);

  quipu_message_row_unbind (self);
  g_clear_pointer (&self->self_name, g_free);
  if (self->day_label != NULL)
    gtk_widget_unparent (GTK_WIDGET (g_steal_pointer (&self->day_label)));
  g_clear_pointer (&self->divider, gtk_widget_unparent);
  gtk_widget_dispose_template (GTK_WIDGET (self), QUIPU_TYPE_MESSAGE_ROW);
  self->verification_label = NULL;   /* went with the header */

  G_OBJECT_CLASS (quipu_message_row_parent_class)->dispose (object);
}

static void
quipu_message_row_class_init (QuipuMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = quipu_message_row_dispose;

  g_type_ensure (QUIPU_TYPE_MESSAGE_BODY);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/quipuchat/Quipu/quipu-message-row.ui");
  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_ARTICLE);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, message_box);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, avatar);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, content);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, header);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, sender_label);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, short_id_label);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, time_label);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, body_box);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, body_label);
  gtk_widget_class_bind_template_child (widget_class, QuipuMessageRow, status_icon);
  gtk_widget_class_bind_template_callback (widget_class, on_time_query_tooltip);
}

static void
quipu_message_row_init (QuipuMessageRow *self)
{
  AdwStyleManager *style = adw_style_manager_get_default ();

  gtk_widget_init_template (GTK_WIDGET (self));
  self->shown_status = -1;
  self->shown_verification = -1;
  /* The mention colour follows the light or dark style and the accent. */
  g_signal_connect_object (style, "notify::dark", G_CALLBACK (update_body), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (style, "notify::accent-color", G_CALLBACK (update_body), self,
                           G_CONNECT_SWAPPED);
}

GtkWidget *
quipu_message_row_new (void)
{
  return g_object_new (QUIPU_TYPE_MESSAGE_ROW, NULL);
}
