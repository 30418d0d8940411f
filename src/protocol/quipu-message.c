#define G_LOG_DOMAIN "quipu-message"

#include "config.h"

#include "quipu-enums.h"
#include "quipu-message-private.h"

struct _QuipuMessage {
  GObject             parent_instance;
  char               *sender;
  char               *sender_id;
  char               *room;
  GStrv               recipients;
  char               *body;
  char               *conversation;
  gint64              timestamp;
  guint64             seq;
  guint64             client_msg_id;
  gboolean            history;
  gboolean            own;
  QuipuMessageStatus  status;
  QuipuVerification   verification;
};

G_DEFINE_FINAL_TYPE (QuipuMessage, quipu_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SENDER,
  PROP_BODY,
  PROP_SEQ,
  PROP_STATUS,
  PROP_VERIFICATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
quipu_message_finalize (GObject *object)
{
  QuipuMessage *self = QUIPU_MESSAGE (object);

  g_free (self->sender);
  g_free (self->sender_id);
  g_free (self->room);
  g_strfreev (self->recipients);
  g_free (self->body);
  g_free (self->conversation);

  G_OBJECT_CLASS (quipu_message_parent_class)->finalize (object);
}

static void
quipu_message_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  QuipuMessage *self = QUIPU_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_SENDER:
      g_value_set_string (value, self->sender);
      break;
    case PROP_BODY:
      g_value_set_string (value, self->body);
      break;
    case PROP_SEQ:
      g_value_set_uint64 (value, self->seq);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_VERIFICATION:
      g_value_set_enum (value, self->verification);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_message_class_init (QuipuMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = quipu_message_finalize;
  object_class->get_property = quipu_message_get_property;

  properties[PROP_SENDER] =
    g_param_spec_string ("sender", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BODY] =
    g_param_spec_string ("body", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SEQ] =
    g_param_spec_uint64 ("seq", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, QUIPU_TYPE_MESSAGE_STATUS, QUIPU_MESSAGE_RECEIVED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_VERIFICATION] =
    g_param_spec_enum ("verification", NULL, NULL, QUIPU_TYPE_VERIFICATION, QUIPU_VERIFICATION_VALID,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
quipu_message_init (QuipuMessage *self)
{
}

static void
set_conversation (QuipuMessage *self)
{
  self->conversation = self->room ? g_strconcat ("#", self->room, NULL) : g_strdup ("@");
}

QuipuMessage *
quipu_message_new_from_frame (const QuipuFrame *frame,
                              const char       *sender_id,
                              gboolean          own)
{
  QuipuMessage *self = g_object_new (QUIPU_TYPE_MESSAGE, NULL);

  self->sender = g_strdup (frame->sender);
  self->sender_id = g_strdup (sender_id);
  self->room = g_strdup (frame->room);
  if (frame->recipients != NULL)
    {
      self->recipients = g_new0 (char *, frame->recipients->len + 1);
      for (guint i = 0; i < frame->recipients->len; i++)
        self->recipients[i] = g_strdup (g_ptr_array_index (frame->recipients, i));
    }
  self->body = g_strdup (frame->body);
  self->timestamp = (gint64) frame->timestamp;
  self->seq = frame->seq;
  self->client_msg_id = frame->client_msg_id;
  self->history = (frame->flags & QUIPU_FLAG_HISTORY) != 0;
  self->own = own;
  self->status = own ? QUIPU_MESSAGE_ACKED : QUIPU_MESSAGE_RECEIVED;
  set_conversation (self);
  return self;
}

QuipuMessage *
quipu_message_new_outgoing (const char         *sender,
                            const char         *sender_id,
                            const char         *room,
                            const char * const *recipients,
                            const char         *body,
                            gint64              timestamp,
                            guint64             client_msg_id)
{
  QuipuMessage *self = g_object_new (QUIPU_TYPE_MESSAGE, NULL);

  self->sender = g_strdup (sender);
  self->sender_id = g_strdup (sender_id);
  self->room = g_strdup (room);
  self->recipients = recipients ? g_strdupv ((char **) recipients) : NULL;
  self->body = g_strdup (body);
  self->timestamp = timestamp;
  self->client_msg_id = client_msg_id;
  self->own = TRUE;
  self->status = QUIPU_MESSAGE_PENDING;
  set_conversation (self);
  return self;
}

void
quipu_message_set_status (QuipuMessage       *self,
                          QuipuMessageStatus  status)
{
  if (self->status == status)
    return;
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

void
quipu_message_set_seq (QuipuMessage *self,
                       guint64       seq)
{
  if (self->seq == seq)
    return;
  self->seq = seq;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEQ]);
}

void
quipu_message_set_verification (QuipuMessage      *self,
                                QuipuVerification  verification)
{
  if (self->verification == verification)
    return;
  self->verification = verification;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERIFICATION]);
}

const char *
quipu_message_get_sender (QuipuMessage *self)
{
  return self->sender;
}

const char *
quipu_message_get_sender_id (QuipuMessage *self)
{
  return self->sender_id;
}

const char *
quipu_message_get_room (QuipuMessage *self)
{
  return self->room;
}

const char * const *
quipu_message_get_recipients (QuipuMessage *self)
{
  return (const char * const *) self->recipients;
}

const char *
quipu_message_get_body (QuipuMessage *self)
{
  return self->body;
}

gint64
quipu_message_get_timestamp (QuipuMessage *self)
{
  return self->timestamp;
}

guint64
quipu_message_get_seq (QuipuMessage *self)
{
  return self->seq;
}

guint64
quipu_message_get_client_msg_id (QuipuMessage *self)
{
  return self->client_msg_id;
}

gboolean
quipu_message_is_history (QuipuMessage *self)
{
  return self->history;
}

gboolean
quipu_message_is_own (QuipuMessage *self)
{
  return self->own;
}

QuipuMessageStatus
quipu_message_get_status (QuipuMessage *self)
{
  return self->status;
}

QuipuVerification
quipu_message_get_verification (QuipuMessage *self)
{
  return self->verification;
}

const char *
quipu_message_get_conversation (QuipuMessage *self)
{
  return self->conversation;
}
