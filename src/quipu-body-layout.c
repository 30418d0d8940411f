/* quipu-body-layout.c: a message's text and status icon, heights remembered */
#define G_LOG_DOMAIN "quipu-body-layout"

#include "config.h"

#include "quipu-body-layout.h"

/* Between the text and the status icon, as the box it replaces had. */
#define SPACING 6

typedef struct {
  guint text;   /* g_str_hash of the label's text (or markup) */
  guint font;   /* pango_font_description_hash of the text's font */
  int   width;
  int   minimum;
  int   natural;
} TextHeight;

struct _QuipuBodyLayout
{
  GtkLayoutManager parent_instance;

  GObject         *owner;   /* weak: the row holds the message */
};

G_DEFINE_FINAL_TYPE (QuipuBodyLayout, quipu_body_layout, GTK_TYPE_LAYOUT_MANAGER)

static GQuark
text_height_quark (void)
{
  static GQuark quark;

  if (quark == 0)
    quark = g_quark_from_static_string ("quipu-body-layout-text-height");
  return quark;
}

static guint
font_of (GtkWidget *text)
{
  PangoContext *context = gtk_widget_get_pango_context (text);

  return pango_font_description_hash (pango_context_get_font_description (context));
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
measure_text (QuipuBodyLayout *self,
              GtkWidget       *text,
              int              width,
              int             *minimum,
              int             *natural)
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
quipu_body_layout_measure (GtkLayoutManager *manager,
                           GtkWidget        *widget,
                           GtkOrientation    orientation,
                           int               for_size,
                           int              *minimum,
                           int              *natural,
                           int              *minimum_baseline,
                           int              *natural_baseline)
{
  QuipuBodyLayout *self = QUIPU_BODY_LAYOUT (manager);
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
quipu_body_layout_allocate (GtkLayoutManager *manager,
                            GtkWidget        *widget,
                            int               width,
                            int               height,
                            int               baseline)
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
quipu_body_layout_get_request_mode (GtkLayoutManager *manager,
                                    GtkWidget        *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
quipu_body_layout_class_init (QuipuBodyLayoutClass *klass)
{
  GtkLayoutManagerClass *manager_class = GTK_LAYOUT_MANAGER_CLASS (klass);

  manager_class->measure = quipu_body_layout_measure;
  manager_class->allocate = quipu_body_layout_allocate;
  manager_class->get_request_mode = quipu_body_layout_get_request_mode;
}

static void
quipu_body_layout_init (QuipuBodyLayout *self)
{
}

void
quipu_body_layout_set_owner (QuipuBodyLayout *self,
                             GObject         *owner)
{
  g_return_if_fail (QUIPU_IS_BODY_LAYOUT (self));
  g_return_if_fail (owner == NULL || G_IS_OBJECT (owner));

  if (self->owner == owner)
    return;
  self->owner = owner;
  gtk_layout_manager_layout_changed (GTK_LAYOUT_MANAGER (self));
}
