#pragma once

#include "quipu-member.h"

G_BEGIN_DECLS

QuipuMember *quipu_member_new          (const char  *name);
void         quipu_member_set_online   (QuipuMember *self, gboolean online);
/* NULL keeps the id known so far. */
void         quipu_member_set_user_id  (QuipuMember *self, const char *user_id);
/* Orders members by name for display, case-insensitively. */
int          quipu_member_compare      (gconstpointer a, gconstpointer b, gpointer user_data);

G_END_DECLS
