#pragma once

#include <gtk/gtk.h>

#include "quipu.h"
#include "quipu-conversation.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_CONVERSATION_ROW (quipu_conversation_row_get_type ())
G_DECLARE_FINAL_TYPE (QuipuConversationRow, quipu_conversation_row, QUIPU, CONVERSATION_ROW, GtkWidget)

/* A sidebar entry: avatar, title, and an unread badge that stands out when
 * one of the unread messages mentions you. */

GtkWidget *quipu_conversation_row_new              (void);
void       quipu_conversation_row_set_conversation (QuipuConversationRow *self,
                                                    QuipuConversation    *conversation);

G_END_DECLS
