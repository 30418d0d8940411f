#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  QUIPU_MESSAGE_RECEIVED,   /* from someone, as the server relayed it */
  QUIPU_MESSAGE_PENDING,    /* ours, not yet acknowledged by the server */
  QUIPU_MESSAGE_ACKED,      /* ours, stored by the server */
  QUIPU_MESSAGE_FAILED,     /* ours, refused by the server */
} QuipuMessageStatus;

typedef enum {
  QUIPU_VERIFICATION_VALID,        /* signature checks out against the pinned key */
  QUIPU_VERIFICATION_INVALID,      /* signature does not match: forged or altered */
  QUIPU_VERIFICATION_KEY_CHANGED,  /* sender's key differs from the one pinned earlier */
  QUIPU_VERIFICATION_SKIPPED,      /* not checked (sampling load generator) */
} QuipuVerification;

#define QUIPU_TYPE_MESSAGE (quipu_message_get_type ())
G_DECLARE_FINAL_TYPE (QuipuMessage, quipu_message, QUIPU, MESSAGE, GObject)

/* One chat message. Every getter is also a read-only property, so a view
 * can bind to it with GtkExpression: sender, sender-id, sender-short-id,
 * body, timestamp, seq, conversation, room, is-own, is-history, status,
 * failure-reason, verification. seq, status, failure-reason and
 * verification change (and notify) while one of ours is on its way. */

const char         *quipu_message_get_sender        (QuipuMessage *self);
/* The full QUIPU_USER_ID_LEN-character id of the sender's key. */
const char         *quipu_message_get_sender_id     (QuipuMessage *self);
/* "abcd-efgh": the sender id shortened for display next to the name. */
const char         *quipu_message_get_sender_short_id (QuipuMessage *self);
/* NULL for a direct message. */
const char         *quipu_message_get_room          (QuipuMessage *self);
/* NULL for a room message. */
const char * const *quipu_message_get_recipients    (QuipuMessage *self);
const char         *quipu_message_get_body          (QuipuMessage *self);
/* Sender's clock, ms since the epoch. */
gint64              quipu_message_get_timestamp     (QuipuMessage *self);
/* Room or inbox sequence; 0 while pending. */
guint64             quipu_message_get_seq           (QuipuMessage *self);
guint64             quipu_message_get_client_msg_id (QuipuMessage *self);
/* Came from the store (join or scroll-back), not live: no notification. */
gboolean            quipu_message_is_history        (QuipuMessage *self);
gboolean            quipu_message_is_own            (QuipuMessage *self);
QuipuMessageStatus  quipu_message_get_status        (QuipuMessage *self);
/* Why the server refused one of ours (status FAILED); NULL otherwise. */
const char         *quipu_message_get_failure_reason (QuipuMessage *self);
QuipuVerification   quipu_message_get_verification  (QuipuMessage *self);
/* The key of the conversation it belongs to (see quipu-conversation.h):
 * "#" and the folded room name, or "@" and the folded names of the other
 * people in a direct conversation. */
const char         *quipu_message_get_conversation  (QuipuMessage *self);

G_END_DECLS
