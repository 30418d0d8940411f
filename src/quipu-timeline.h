#pragma once

#include <gtk/gtk.h>

#include "quipu.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_TIMELINE (quipu_timeline_get_type ())
G_DECLARE_FINAL_TYPE (QuipuTimeline, quipu_timeline, QUIPU, TIMELINE, GtkWidget)

/* The messages of one conversation: sticky to the bottom, older pages
 * fetched near the top, new ones announced to screen readers.
 *
 * Properties: conversation (QuipuConversation).
 * Signals: read () — the newest message was shown and marked read. */

QuipuConversation *quipu_timeline_get_conversation (QuipuTimeline     *self);
void               quipu_timeline_set_conversation (QuipuTimeline     *self,
                                                    QuipuConversation *conversation);
void               quipu_timeline_scroll_to_bottom (QuipuTimeline     *self);

G_END_DECLS
