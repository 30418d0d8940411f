#define G_LOG_DOMAIN "quipu-message"

#include "config.h"

#include <string.h>

#include "quipu-conversation.h"
#include "quipu-enums.h"
#include "quipu-identity.h"
#include "quipu-message-private.h"

struct _QuipuMessage {
  GObject             parent_instance;
  char               *sender;
  char               *sender_id;
  char               *sender_short_id;
  char               *room;
  GStrv               recipients;
  char               *body;
  char               *conversation;
  char               *failure_reason;
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
  PROP_SENDER_ID,
  PROP_SENDER_SHORT_ID,
  PROP_BODY,
  PROP_TIMESTAMP,
  PROP_SEQ,
  PROP_CONVERSATION,
  PROP_ROOM,
  PROP_IS_OWN,
  PROP_IS_HISTORY,
  PROP_STATUS,
  PROP_FAILURE_REASON,
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
  g_free (self->sender_short_id);
  g_free (self->room);
  g_strfreev (self->recipients);
  g_free (self->body);
  g_free (self->conversation);
  g_free (self->failure_reason);

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
    case PROP_SENDER_ID:
      g_value_set_string (value, self->sender_id);
      break;
    case PROP_SENDER_SHORT_ID:
      g_value_set_string (value, self->sender_short_id);
      break;
    case PROP_BODY:
      g_value_set_string (value, self->body);
      break;
    case PROP_TIMESTAMP:
      g_value_set_int64 (value, self->timestamp);
      break;
    case PROP_SEQ:
      g_value_set_uint64 (value, self->seq);
      break;
    case PROP_CONVERSATION:
      g_value_set_string (value, self->conversation);
      break;
    case PROP_ROOM:
      g_value_set_string (value, self->room);
      break;
    case PROP_IS_OWN:
      g_value_set_boolean (value, self->own);
      break;
    case PROP_IS_HISTORY:
      g_value_set_boolean (value, self->history);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_FAILURE_REASON:
      g_value_set_string (value, self->failure_reason);
      break;
    case PROP_VERIFICATION:
      g_value_set_enum (value, self->verification);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
string_property (const char *name)
{
  return g_param_spec_string (name, NULL, NULL, NULL,
                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
boolean_property (const char *name)
{
  return g_param_spec_boolean (name, NULL, NULL, FALSE,
                               G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

static void
quipu_message_class_init (QuipuMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = quipu_message_finalize;
  object_class->get_property = quipu_message_get_property;

  properties[PROP_SENDER] = string_property ("sender");
  properties[PROP_SENDER_ID] = string_property ("sender-id");
  properties[PROP_SENDER_SHORT_ID] = string_property ("sender-short-id");
  properties[PROP_BODY] = string_property ("body");
  properties[PROP_TIMESTAMP] =
    g_param_spec_int64 ("timestamp", NULL, NULL, G_MININT64, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SEQ] =
    g_param_spec_uint64 ("seq", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONVERSATION] = string_property ("conversation");
  properties[PROP_ROOM] = string_property ("room");
  properties[PROP_IS_OWN] = boolean_property ("is-own");
  properties[PROP_IS_HISTORY] = boolean_property ("is-history");
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, QUIPU_TYPE_MESSAGE_STATUS, QUIPU_MESSAGE_RECEIVED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FAILURE_REASON] = string_property ("failure-reason");
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
set_sender (QuipuMessage *self,
            const char   *sender,
            const char   *sender_id)
{
  self->sender = g_strdup (sender);
  self->sender_id = g_strdup (sender_id);
  if (sender_id != NULL && strnlen (sender_id, 8) == 8)
    self->sender_short_id = quipu_user_id_short (sender_id);
}

/* The one rule for conversation keys (quipu-conversation.h): the people of a
 * direct message are its sender and recipients, less the reader. */
static void
set_conversation (QuipuMessage *self,
                  const char   *self_name)
{
  g_autoptr(GPtrArray) people = NULL;

  if (self->room != NULL)
    {
      self->conversation = quipu_conversation_key_for_room (self->room);
      return;
    }

  people = g_ptr_array_new ();
  if (self->sender != NULL)
    g_ptr_array_add (people, self->sender);
  for (guint i = 0; self->recipients != NULL && self->recipients[i] != NULL; i++)
    g_ptr_array_add (people, self->recipients[i]);
  g_ptr_array_add (people, NULL);
  self->conversation = quipu_conversation_key_for_direct ((const char * const *) people->pdata, self_name);
}

QuipuMessage *
quipu_message_new_from_frame (const QuipuFrame *frame,
                              const char       *sender_id,
                              const char       *self_name,
                              gboolean          own)
{
  QuipuMessage *self = g_object_new (QUIPU_TYPE_MESSAGE, NULL);

  set_sender (self, frame->sender, sender_id);
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
  set_conversation (self, self_name);
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

  set_sender (self, sender, sender_id);
  self->room = g_strdup (room);
  self->recipients = recipients ? g_strdupv ((char **) recipients) : NULL;
  self->body = g_strdup (body);
  self->timestamp = timestamp;
  self->client_msg_id = client_msg_id;
  self->own = TRUE;
  self->status = QUIPU_MESSAGE_PENDING;
  set_conversation (self, sender);
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

void
quipu_message_set_failed (QuipuMessage *self,
                          const GError *error)
{
  const char *reason = error ? error->message : NULL;

  if (g_strcmp0 (self->failure_reason, reason) != 0)
    {
      g_free (self->failure_reason);
      self->failure_reason = g_strdup (reason);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FAILURE_REASON]);
    }
  quipu_message_set_status (self, QUIPU_MESSAGE_FAILED);
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
quipu_message_get_sender_short_id (QuipuMessage *self)
{
  return self->sender_short_id;
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

const char *
quipu_message_get_failure_reason (QuipuMessage *self)
{
  return self->failure_reason;
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
