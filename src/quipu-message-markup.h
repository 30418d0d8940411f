#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Pango markup for a message's text, for a GtkLabel with use-markup:
 * everything escaped (the text can never inject markup), http(s) links
 * made clickable, and each mention of `self_name` (the rule of
 * quipu_name_find_mention; a leading "@" included) in bold, coloured
 * `mention_color` ("#rrggbb") when not NULL. No mentions when `self_name`
 * is NULL; `mentioned` (may be NULL) says whether there was one. */
char *quipu_message_markup (const char *text,
                            const char *self_name,
                            const char *mention_color,
                            gboolean   *mentioned);

G_END_DECLS
