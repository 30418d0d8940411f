#pragma once

#include "quipu-client.h"
#include "quipu-conversation.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* The conversation list (quipu-conversation-list.h) feeds its conversations
 * with what the client reports; nothing else changes them. `client` is not
 * owned: quipu_conversation_detach drops it when the client goes away. */
QuipuConversation *quipu_conversation_new_room       (QuipuClient        *client,
                                                      const char         *room);
QuipuConversation *quipu_conversation_new_direct     (QuipuClient        *client,
                                                      const char * const *participants);
void               quipu_conversation_detach         (QuipuConversation  *self);

/* A message from the server: live ones go in at once, history ones wait for
 * the end of their page. Duplicates (same sequence) are dropped. */
void               quipu_conversation_add_message    (QuipuConversation  *self,
                                                      QuipuMessage       *msg);
/* One of ours, just written. */
void               quipu_conversation_add_pending    (QuipuConversation  *self,
                                                      QuipuMessage       *msg);
/* One of ours got its sequence. */
void               quipu_conversation_message_stored (QuipuConversation  *self,
                                                      QuipuMessage       *msg);
/* A page of history ended (for a direct conversation: a page of the inbox). */
void               quipu_conversation_page_loaded    (QuipuConversation  *self,
                                                      gboolean            more);
/* The session left Connected: what was on its way is not coming. */
void               quipu_conversation_connection_lost (QuipuConversation *self);
/* The server confirmed the join: its spelling of the room, members online. */
void               quipu_conversation_joined         (QuipuConversation  *self,
                                                      const char         *room,
                                                      GPtrArray          *users);
void               quipu_conversation_set_presence   (QuipuConversation  *self,
                                                      const char         *name,
                                                      const char         *user_id,
                                                      gboolean            online);
/* Orders conversations for the list: most recent activity first. */
int                quipu_conversation_compare        (QuipuConversation  *a,
                                                      QuipuConversation  *b);

G_END_DECLS
