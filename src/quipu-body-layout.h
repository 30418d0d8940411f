#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define QUIPU_TYPE_BODY_LAYOUT (quipu_body_layout_get_type ())
G_DECLARE_FINAL_TYPE (QuipuBodyLayout, quipu_body_layout, QUIPU, BODY_LAYOUT, GtkLayoutManager)

/* Lays out a message's text (the first child, a wrapping GtkLabel) and its
 * status icon (the last child, at the end, bottom-aligned), remembering on
 * `owner` (the message) the text's height for the last width it was
 * measured at. GtkListView binds rows far outside the view and drops them
 * again as it scrolls (it keeps ~200 rows around its anchor, which moves
 * with the scroll position), and measuring a wrapped text anew is most of
 * what a row costs: with the height remembered, a message already seen
 * costs no text layout at all until it is drawn. The width asked of the
 * text is the one it is given; it never widens the list. */
void quipu_body_layout_set_owner (QuipuBodyLayout *self,
                                  GObject         *owner);

G_END_DECLS
