#pragma once

#include <gtk/gtk.h>

#include "quipu.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_MESSAGE_ROW (quipu_message_row_get_type ())
G_DECLARE_FINAL_TYPE (QuipuMessageRow, quipu_message_row, QUIPU, MESSAGE_ROW, GtkWidget)

/* One message of the timeline. @previous (may be NULL) decides whether the
 * sender's header and a day separator are shown; @first_unread puts the
 * "New Messages" divider above it; mentions of @self_name (may be NULL) are
 * highlighted, and the row too. */

GtkWidget *quipu_message_row_new  (void);
void       quipu_message_row_bind (QuipuMessageRow *self,
                                   QuipuMessage    *message,
                                   QuipuMessage    *previous,
                                   gboolean         first_unread,
                                   const char      *self_name);
void       quipu_message_row_unbind (QuipuMessageRow *self);

/* The width the row's text column has now (0 before it is laid out). */
int        quipu_message_row_get_body_width (QuipuMessageRow *self);
/* Measures @message's text for a text column @body_width wide, ahead of
 * showing it, with @self as a spare row that is in no list: the height is
 * remembered on the message, so a row later bound to it lays out no text.
 * Does nothing and returns FALSE if a height is remembered already. */
gboolean   quipu_message_row_measure_ahead  (QuipuMessageRow *self,
                                             QuipuMessage    *message,
                                             const char      *self_name,
                                             int              body_width);

G_END_DECLS
