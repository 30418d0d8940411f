#pragma once

#include <gtk/gtk.h>

#include "quipu.h"
#include "quipu-drafts.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_COMPOSE (quipu_compose_get_type ())
G_DECLARE_FINAL_TYPE (QuipuCompose, quipu_compose, QUIPU, COMPOSE, GtkWidget)

/* The message box: grows to a maximum height, Enter sends (or Ctrl+Enter,
 * when enter-sends is off), keeps a draft per conversation.
 *
 * Properties: conversation, drafts, enter-sends.
 * Signals: sent (QuipuMessage), failed (GError). */

void quipu_compose_set_conversation (QuipuCompose      *self,
                                     QuipuConversation *conversation);
void quipu_compose_set_drafts       (QuipuCompose      *self,
                                     QuipuDrafts       *drafts);
void quipu_compose_grab_focus       (QuipuCompose      *self);

G_END_DECLS
