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

G_END_DECLS
