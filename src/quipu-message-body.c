/* quipu-message-body.c: a message's text and status icon, heights remembered */
#define G_LOG_DOMAIN "quipu-message-body"

#include "config.h"

#include <pango/pangocairo.h>

#include "quipu-message-body.h"

/* Between the text and the status icon. */
#define SPACING 6

typedef struct {
  guint text;   /* g_str_hash of the label's text (or markup) */
  guint font;   /* the text's font, resolution and scale (font_of) */
  int   width;
  int   minimum;
  int   natural;
} TextHeight;

struct _QuipuMessageBody
{
  GtkWidget  parent_instance;

  GObject   *owner;   /* weak: the row holds the message */
};

G_DEFINE_FINAL_TYPE (QuipuMessageBody, quipu_message_body, GTK_TYPE_WIDGET)

static GQuark
text_height_quark (void)
{
  static GQuark quark;

  if (quark == 0)
    quark = g_quark_from_static_string ("quipu-message-body-text-height");
  return quark;
}

/* What else the height depends on: the font, the screen's resolution
 * (text scaling) and the scale factor (hinting). */
static guint
font_of (GtkWidget *text)
{
  PangoContext *context = gtk_widget_get_pango_context (text);
  guint hash = pango_font_description_hash (pango_context_get_font_description (context));

  hash = hash * 31 + (guint) (pango_cairo_context_get_resolution (context) * 64);
  return hash * 31 + (guint) gtk_widget_get_scale_factor (text);
}

/* The width left to the text when the whole is `width` wide. */
static int
text_width (GtkWidget *widget,
            int        width)
{
  GtkWidget *icon = gtk_widget_get_last_child (widget);
  GtkWidget *text = gtk_widget_get_first_child (widget);
  int icon_width = 0;

  if (icon != text && gtk_widget_should_layout (icon))
    {
      gtk_widget_measure (icon, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &icon_width, NULL, NULL);
      icon_width += SPACING;
    }
  return MAX (width - icon_width, 0);
}

static void
measure_text (QuipuMessageBody *self,
              GtkWidget        *text,
              int               width,
              int              *minimum,
              int              *natural)
{
  TextHeight *known = self->owner ? g_object_get_qdata (self->owner, text_height_quark ()) : NULL;
  guint font = font_of (text);
  guint hash = g_str_hash (gtk_label_get_label (GTK_LABEL (text)));

  if (known != NULL && known->width == width && known->font == font && known->text == hash)
    {
      *minimum = known->minimum;
      *natural = known->natural;
      return;
    }

  gtk_widget_measure (text, GTK_ORIENTATION_VERTICAL, width, minimum, natural, NULL, NULL);
  if (self->owner == NULL)
    return;
  if (known == NULL)
    {
      known = g_new (TextHeight, 1);
      g_object_set_qdata_full (self->owner, text_height_quark (), known, g_free);
    }
  *known = (TextHeight) { hash, font, width, *minimum, *natural };
}

static void
quipu_message_body_measure (GtkWidget      *widget,
                            GtkOrientation  orientation,
                            int             for_size,
                            int            *minimum,
                            int            *natural,
                            int            *minimum_baseline,
                            int            *natural_baseline)
{
  QuipuMessageBody *self = QUIPU_MESSAGE_BODY (widget);
  GtkWidget *text = gtk_widget_get_first_child (widget);
  GtkWidget *icon = gtk_widget_get_last_child (widget);
  int icon_min = 0, icon_nat = 0;

  *minimum = *natural = 0;
  if (text == NULL)
    return;
  if (icon != text && gtk_widget_should_layout (icon))
    gtk_widget_measure (icon, orientation, -1, &icon_min, &icon_nat, NULL, NULL);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      /* Wrapping text fits any width: what it needs is the icon's. */
      *minimum = *natural = icon_min > 0 ? icon_min + SPACING : 0;
      return;
    }

  if (for_size < 0)
    {
      /* No width given: the text's own natural one, not remembered. */
      gtk_widget_measure (text, GTK_ORIENTATION_VERTICAL, -1, minimum, natural, NULL, NULL);
    }
  else
    measure_text (self, text, text_width (widget, for_size), minimum, natural);
  *minimum = MAX (*minimum, icon_min);
  *natural = MAX (*natural, icon_nat);
}

static void
quipu_message_body_size_allocate (GtkWidget *widget,
                                  int        width,
                                  int        height,
                                  int        baseline)
{
  GtkWidget *text = gtk_widget_get_first_child (widget);
  GtkWidget *icon = gtk_widget_get_last_child (widget);
  int width_for_text;

  if (text == NULL)
    return;
  width_for_text = text_width (widget, width);
  if (icon != text && gtk_widget_should_layout (icon))
    {
      int icon_width, icon_height;

      gtk_widget_measure (icon, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &icon_width, NULL, NULL);
      gtk_widget_measure (icon, GTK_ORIENTATION_VERTICAL, -1, NULL, &icon_height, NULL, NULL);
      gtk_widget_size_allocate (icon,
                                &(GtkAllocation) { width - icon_width, height - icon_height,
                                                   icon_width, icon_height }, -1);
    }
  /* The height was measured (or remembered) for this width: the label
   * lays its text out for it when drawn. */
  gtk_widget_size_allocate (text, &(GtkAllocation) { 0, 0, width_for_text, height }, -1);
}

static GtkSizeRequestMode
quipu_message_body_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
quipu_message_body_dispose (GObject *object)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (quipu_message_body_parent_class)->dispose (object);
}

static void
quipu_message_body_class_init (QuipuMessageBodyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = quipu_message_body_dispose;
  widget_class->measure = quipu_message_body_measure;
  widget_class->size_allocate = quipu_message_body_size_allocate;
  widget_class->get_request_mode = quipu_message_body_get_request_mode;
}

static void
quipu_message_body_init (QuipuMessageBody *self)
{
}

gboolean
quipu_message_body_is_measured (GObject *owner)
{
  g_return_val_if_fail (G_IS_OBJECT (owner), FALSE);

  return g_object_get_qdata (owner, text_height_quark ()) != NULL;
}

void
quipu_message_body_set_owner (QuipuMessageBody *self,
                              GObject          *owner)
{
  g_return_if_fail (QUIPU_IS_MESSAGE_BODY (self));
  g_return_if_fail (owner == NULL || G_IS_OBJECT (owner));

  if (self->owner == owner)
    return;
  self->owner = owner;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}
