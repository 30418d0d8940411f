#pragma once

#include <gio/gio.h>

#include "quipu-message.h"

G_BEGIN_DECLS

typedef enum {
  QUIPU_CONVERSATION_ROOM,     /* a room: everyone who joined it */
  QUIPU_CONVERSATION_DIRECT,   /* direct messages among one set of people */
} QuipuConversationKind;

GType quipu_conversation_kind_get_type (void) G_GNUC_CONST;
#define QUIPU_TYPE_CONVERSATION_KIND (quipu_conversation_kind_get_type ())

#define QUIPU_TYPE_CONVERSATION (quipu_conversation_get_type ())
G_DECLARE_FINAL_TYPE (QuipuConversation, quipu_conversation, QUIPU, CONVERSATION, GObject)

/* A room or a direct conversation of a QuipuClient, and a GListModel of its
 * QuipuMessages in sequence order: messages the server stored, oldest
 * first, then our own not yet stored (pending or refused) in the order
 * written. A live message is inserted where it belongs (at the end of the
 * stored ones); an older page arrives as one items-changed at 0; one of ours
 * keeps its place when the server stores it, unless others' messages got
 * sequences before it meanwhile, and then it moves with one items-changed.
 *
 * Read-only properties: key, kind, title ("#General", "bob, carol"), room
 * (NULL for direct), participants (direct: the other people, as spelled),
 * unread-count (live messages from others since mark_read), has-mention (an
 * unread one names us), synced-seq, has-older, loading-older, last-activity
 * (timestamp of the newest message, ms), members (GListModel of QuipuMember
 * sorted by name; empty for direct conversations). All notify. */

/* The one rule for conversation keys, used by QuipuMessage and QuipuClient:
 * "#" + the folded room name (quipu_name_fold), so "General" and "general"
 * are one room; "@" + the folded names of the people other than
 * `self_name`, sorted, without repeats, joined by ",", so alice and bob
 * each reach "@alice,bob" style keys for the same set of people. A
 * conversation with nobody but oneself is "@" + one's own folded name.
 * Names must be valid (quipu_name_validate). */
char                  *quipu_conversation_key_for_room   (const char         *room);
char                  *quipu_conversation_key_for_direct (const char * const *people,
                                                          const char         *self_name);

const char            *quipu_conversation_get_key           (QuipuConversation *self);
QuipuConversationKind  quipu_conversation_get_kind          (QuipuConversation *self);
const char            *quipu_conversation_get_title         (QuipuConversation *self);
const char            *quipu_conversation_get_room          (QuipuConversation *self);
const char * const    *quipu_conversation_get_participants  (QuipuConversation *self);
guint                  quipu_conversation_get_unread_count  (QuipuConversation *self);
gboolean               quipu_conversation_get_has_mention   (QuipuConversation *self);
guint64                quipu_conversation_get_synced_seq    (QuipuConversation *self);
gboolean               quipu_conversation_get_has_older     (QuipuConversation *self);
gboolean               quipu_conversation_get_loading_older (QuipuConversation *self);
gint64                 quipu_conversation_get_last_activity (QuipuConversation *self);
/* Whose conversation it is: the client's username, the name its mentions
 * are of (quipu_name_find_mention); NULL without a client. */
const char            *quipu_conversation_get_self_name     (QuipuConversation *self);
/* QuipuMember items; (transfer none). */
GListModel            *quipu_conversation_get_members       (QuipuConversation *self);

/* Everything in it has been seen: unread-count 0, has-mention FALSE. */
void                   quipu_conversation_mark_read         (QuipuConversation *self);

/* Asks for up to `limit` messages before the oldest one shown (a direct
 * conversation pages its user's inbox, which it shares with the other
 * direct conversations). Finishes TRUE once the page has been prepended.
 * One request at a time: a second call while loading fails with
 * G_IO_ERROR_PENDING; G_IO_ERROR_NOT_CONNECTED when the session is not
 * connected, G_IO_ERROR_CONNECTION_CLOSED when it drops before the page
 * came. A cancelled call still waits for the page, then reports
 * G_IO_ERROR_CANCELLED. */
void                   quipu_conversation_load_older_async  (QuipuConversation   *self,
                                                             guint                limit,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
gboolean               quipu_conversation_load_older_finish (QuipuConversation  *self,
                                                             GAsyncResult       *result,
                                                             GError            **error);

/* Signs and queues `body` for the room or the participants (see
 * quipu_client_send_to_room). The message is already in the model, PENDING,
 * when this returns. (transfer full), NULL with error set if refused here. */
QuipuMessage          *quipu_conversation_send              (QuipuConversation  *self,
                                                             const char         *body,
                                                             GError            **error);

G_END_DECLS
