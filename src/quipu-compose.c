/* quipu-compose.c: writing a message */
#define G_LOG_DOMAIN "quipu-compose"

#include "config.h"

#include <glib/gi18n.h>

#include "quipu-compose.h"
#include "quipu-conversation.h"

struct _QuipuCompose
{
  GtkWidget          parent_instance;

  GtkScrolledWindow *scroller;
  GtkTextView       *text_view;
  GtkButton         *send_button;

  QuipuConversation *conversation;
  QuipuDrafts       *drafts;
  gboolean           enter_sends;
  /* Set while we fill the buffer ourselves, so it is not saved as a draft. */
  gboolean           restoring;
};

G_DEFINE_FINAL_TYPE (QuipuCompose, quipu_compose, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CONVERSATION,
  PROP_DRAFTS,
  PROP_ENTER_SENDS,
  N_PROPS
};

enum {
  SENT,
  FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static char *
get_text (QuipuCompose *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static gboolean
is_blank (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

static void
restore_draft (QuipuCompose *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->text_view);
  g_autofree char *draft = NULL;

  if (self->drafts != NULL && self->conversation != NULL)
    draft = quipu_drafts_dup (self->drafts, quipu_conversation_get_key (self->conversation));

  self->restoring = TRUE;
  gtk_text_buffer_set_text (buffer, draft != NULL ? draft : "", -1);
  self->restoring = FALSE;
}

static void
on_buffer_changed (QuipuCompose *self)
{
  g_autofree char *text = get_text (self);

  gtk_widget_set_sensitive (GTK_WIDGET (self->send_button),
                            self->conversation != NULL && !is_blank (text));
  if (!self->restoring && self->drafts != NULL && self->conversation != NULL)
    quipu_drafts_set (self->drafts, quipu_conversation_get_key (self->conversation), text);
}

static void
send_message (QuipuCompose *self)
{
  g_autofree char *text = get_text (self);
  g_autoptr(GError) error = NULL;
  QuipuMessage *message;

  if (self->conversation == NULL || is_blank (text))
    return;

  /* Trailing newlines are an accident of typing, not content. */
  g_strchomp (text);
  message = quipu_conversation_send (self->conversation, text, &error);
  if (message == NULL)
    {
      g_signal_emit (self, signals[FAILED], 0, error);
      return;
    }
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), "", -1);
  g_signal_emit (self, signals[SENT], 0, message);
}

static void
on_send_clicked (QuipuCompose *self)
{
  send_message (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                QuipuCompose          *self)
{
  GdkEvent *event = gtk_event_controller_get_current_event (GTK_EVENT_CONTROLLER (controller));
  GdkModifierType modifiers = state & gtk_accelerator_get_default_mod_mask () & ~GDK_LOCK_MASK;

  /* Input methods see keys first: Return may confirm a composition. */
  if (event != NULL && gtk_text_view_im_context_filter_keypress (self->text_view, event))
    return GDK_EVENT_STOP;

  if (keyval != GDK_KEY_Return && keyval != GDK_KEY_KP_Enter && keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;

  /* Enter sends and any modifier makes a new line; or, swapped, Ctrl+Enter
   * sends and Enter makes a new line. */
  if (self->enter_sends ? modifiers == 0 : modifiers == GDK_CONTROL_MASK)
    {
      send_message (self);
      return GDK_EVENT_STOP;
    }
  if (modifiers != 0 && self->enter_sends)
    {
      gtk_text_buffer_insert_at_cursor (gtk_text_view_get_buffer (self->text_view), "\n", 1);
      return GDK_EVENT_STOP;
    }
  return GDK_EVENT_PROPAGATE;
}

void
quipu_compose_set_conversation (QuipuCompose      *self,
                                QuipuConversation *conversation)
{
  g_return_if_fail (QUIPU_IS_COMPOSE (self));

  if (!g_set_object (&self->conversation, conversation))
    return;
  restore_draft (self);
  on_buffer_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONVERSATION]);
}

static void
on_drafts_loaded (QuipuCompose *self)
{
  g_autofree char *text = get_text (self);

  if (*text == '\0')
    restore_draft (self);
}

void
quipu_compose_set_drafts (QuipuCompose *self,
                          QuipuDrafts  *drafts)
{
  g_return_if_fail (QUIPU_IS_COMPOSE (self));

  if (self->drafts != NULL)
    g_signal_handlers_disconnect_by_data (self->drafts, self);
  if (!g_set_object (&self->drafts, drafts))
    return;
  if (drafts != NULL)
    g_signal_connect_object (drafts, "loaded", G_CALLBACK (on_drafts_loaded), self, G_CONNECT_SWAPPED);
  restore_draft (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DRAFTS]);
}

void
quipu_compose_grab_focus (QuipuCompose *self)
{
  g_return_if_fail (QUIPU_IS_COMPOSE (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->text_view));
}

static void
quipu_compose_dispose (GObject *object)
{
  QuipuCompose *self = QUIPU_COMPOSE (object);

  if (self->drafts != NULL)
    g_signal_handlers_disconnect_by_data (self->drafts, self);
  g_clear_object (&self->drafts);
  g_clear_object (&self->conversation);
  gtk_widget_dispose_template (GTK_WIDGET (self), QUIPU_TYPE_COMPOSE);

  G_OBJECT_CLASS (quipu_compose_parent_class)->dispose (object);
}

static void
quipu_compose_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  QuipuCompose *self = QUIPU_COMPOSE (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION:
      g_value_set_object (value, self->conversation);
      break;
    case PROP_DRAFTS:
      g_value_set_object (value, self->drafts);
      break;
    case PROP_ENTER_SENDS:
      g_value_set_boolean (value, self->enter_sends);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_compose_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  QuipuCompose *self = QUIPU_COMPOSE (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION:
      quipu_compose_set_conversation (self, g_value_get_object (value));
      break;
    case PROP_DRAFTS:
      quipu_compose_set_drafts (self, g_value_get_object (value));
      break;
    case PROP_ENTER_SENDS:
      if (self->enter_sends != g_value_get_boolean (value))
        {
          self->enter_sends = g_value_get_boolean (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_compose_class_init (QuipuComposeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = quipu_compose_dispose;
  object_class->get_property = quipu_compose_get_property;
  object_class->set_property = quipu_compose_set_property;

  properties[PROP_CONVERSATION] =
    g_param_spec_object ("conversation", NULL, NULL, QUIPU_TYPE_CONVERSATION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DRAFTS] =
    g_param_spec_object ("drafts", NULL, NULL, QUIPU_TYPE_DRAFTS,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ENTER_SENDS] =
    g_param_spec_boolean ("enter-sends", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SENT] = g_signal_new ("sent", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 1, QUIPU_TYPE_MESSAGE);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/quipuchat/Quipu/quipu-compose.ui");
  gtk_widget_class_set_css_name (widget_class, "compose");
  gtk_widget_class_bind_template_child (widget_class, QuipuCompose, scroller);
  gtk_widget_class_bind_template_child (widget_class, QuipuCompose, text_view);
  gtk_widget_class_bind_template_child (widget_class, QuipuCompose, send_button);
  gtk_widget_class_bind_template_callback (widget_class, on_send_clicked);
}

static void
quipu_compose_init (QuipuCompose *self)
{
  GtkEventController *keys;

  self->enter_sends = TRUE;
  gtk_widget_init_template (GTK_WIDGET (self));

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self->text_view), keys);

  g_signal_connect_object (gtk_text_view_get_buffer (self->text_view), "changed",
                           G_CALLBACK (on_buffer_changed), self, G_CONNECT_SWAPPED);
}
