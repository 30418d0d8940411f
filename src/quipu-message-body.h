#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define QUIPU_TYPE_MESSAGE_BODY (quipu_message_body_get_type ())
G_DECLARE_FINAL_TYPE (QuipuMessageBody, quipu_message_body, QUIPU, MESSAGE_BODY, GtkWidget)

/* A message's text (the first child, a wrapping GtkLabel) and its status
 * icon (the last child, at the end, bottom-aligned), remembering on `owner`
 * (the message) the text's height for the last width it was measured at.
 * GtkListView binds rows far outside the view and drops them again as it
 * scrolls (it keeps ~200 rows around its anchor, which moves with the
 * scroll position), and measuring a wrapped text anew is most of what a
 * row costs: with the height remembered, a message already seen costs no
 * text layout at all until it is drawn. The text takes the width it is
 * given; it never widens the list. Children are added in the .ui. */
void     quipu_message_body_set_owner   (QuipuMessageBody *self,
                                         GObject          *owner);
/* Whether a text height is remembered on @owner (at any width). */
gboolean quipu_message_body_is_measured (GObject          *owner);

G_END_DECLS
