#pragma once

#include "quipu-client.h"
#include "quipu-conversation.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_CONVERSATION_LIST (quipu_conversation_list_get_type ())
G_DECLARE_FINAL_TYPE (QuipuConversationList, quipu_conversation_list, QUIPU, CONVERSATION_LIST, GObject)

/* The client's conversations, a GListModel of QuipuConversation with the
 * most recent activity first. It listens to the client's signals
 * (message-received, message-acked, history-loaded, presence-changed,
 * notify::state) and is told the few things no signal carries: joins and
 * leaves, our own messages as they are written, the members a JOIN lists.
 * Internal to the library: the client hands it out as a GListModel. */

/* `client` is not owned: the client owns the list and shuts it down. */
QuipuConversationList *quipu_conversation_list_new         (QuipuClient           *client);
/* The client is going away: stop listening, detach every conversation. */
void                   quipu_conversation_list_shutdown    (QuipuConversationList *self);

/* (transfer none), NULL if none. */
QuipuConversation     *quipu_conversation_list_lookup      (QuipuConversationList *self,
                                                            const char            *key);
/* Find or create; (transfer none). A new one shows those of `pending`
 * (QuipuMessage *, the client's unacknowledged ones) written to the room. */
QuipuConversation     *quipu_conversation_list_add_room    (QuipuConversationList *self,
                                                            const char            *room,
                                                            GList                 *pending);
void                   quipu_conversation_list_remove_room (QuipuConversationList *self,
                                                            const char            *room);
/* Find or create; (transfer none); NULL with error for an invalid name. */
QuipuConversation     *quipu_conversation_list_open_direct (QuipuConversationList *self,
                                                            const char * const    *participants,
                                                            GError               **error);

/* Hooks from the client. */
void                   quipu_conversation_list_add_pending (QuipuConversationList *self,
                                                            QuipuMessage          *msg);
void                   quipu_conversation_list_joined      (QuipuConversationList *self,
                                                            const char            *room,
                                                            GPtrArray             *users);

G_END_DECLS
