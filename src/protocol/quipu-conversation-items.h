#pragma once

#include <gio/gio.h>

#include "quipu-message.h"

G_BEGIN_DECLS

/* The messages a conversation shows, in order: the stored ones by sequence,
 * then ours not stored yet, in the order written. History waits in a page
 * until the page ends, so a page goes in as one change. Every change is
 * reported as items-changed on `model`, the conversation that embeds this. */
typedef struct {
  GListModel *model;      /* not owned */
  GPtrArray  *items;      /* QuipuMessage; items[0, n_stored) are stored */
  guint       n_stored;
  GPtrArray  *page;       /* history waiting for its page's end */
} QuipuConversationItems;

void          quipu_conversation_items_init           (QuipuConversationItems *self,
                                                       GListModel             *model);
void          quipu_conversation_items_clear          (QuipuConversationItems *self);
guint         quipu_conversation_items_get_n_items    (QuipuConversationItems *self);
/* Not a new reference; NULL past the end. */
QuipuMessage *quipu_conversation_items_get            (QuipuConversationItems *self,
                                                       guint                   position);
/* A stored message, put in its place; FALSE if it is shown already. */
gboolean      quipu_conversation_items_insert_stored  (QuipuConversationItems *self,
                                                       QuipuMessage           *msg);
/* A message of history: waits for the end of its page. */
void          quipu_conversation_items_hold           (QuipuConversationItems *self,
                                                       QuipuMessage           *msg);
/* One of ours, just written: goes last. */
void          quipu_conversation_items_add_pending    (QuipuConversationItems *self,
                                                       QuipuMessage           *msg);
/* One of ours got its sequence: moves among the stored ones. TRUE if it was
 * not shown before (written before the conversation existed). */
gboolean      quipu_conversation_items_message_stored (QuipuConversationItems *self,
                                                       QuipuMessage           *msg);
/* Shows the page held so far, dropping what is shown already. Returns the
 * newest message it added (not a new reference), NULL if none. */
QuipuMessage *quipu_conversation_items_flush_page     (QuipuConversationItems *self);

G_END_DECLS
