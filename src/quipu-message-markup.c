/* quipu-message-markup.c: a message's text as markup, links and mentions */
#define G_LOG_DOMAIN "quipu-message-markup"

#include "config.h"

#include <string.h>

#include "quipu-message-markup.h"
#include "quipu-names.h"

static void
append_escaped (GString    *markup,
                const char *text,
                gsize       len)
{
  g_autofree char *escaped = g_markup_escape_text (text, len);

  g_string_append (markup, escaped);
}

/* text[from, to) is not a link: escaped, mentions highlighted. The search
 * runs over the whole text so a word's neighbours are the real ones. */
static void
append_plain (GString    *markup,
              const char *text,
              gsize       from,
              gsize       to,
              const char *self_name,
              const char *mention_color,
              gboolean   *mentioned)
{
  gsize start, end;

  while (self_name != NULL && from < to
         && quipu_name_find_mention (text, self_name, from, &start, &end) && end <= to)
    {
      if (start > from && text[start - 1] == '@')
        start--;
      append_escaped (markup, text + from, start - from);
      g_string_append (markup, "<span weight=\"bold\"");
      if (mention_color != NULL)
        g_string_append_printf (markup, " foreground=\"%s\"", mention_color);
      g_string_append_c (markup, '>');
      append_escaped (markup, text + start, end - start);
      g_string_append (markup, "</span>");
      *mentioned = TRUE;
      from = end;
    }
  append_escaped (markup, text + from, to - from);
}

char *
quipu_message_markup (const char *text,
                      const char *self_name,
                      const char *mention_color,
                      gboolean   *mentioned)
{
  static GRegex *link_regex;
  g_autoptr(GMatchInfo) match = NULL;
  GString *markup = g_string_new (NULL);
  gboolean found = FALSE;
  gsize done = 0;

  g_return_val_if_fail (text != NULL, NULL);

  /* Not g_once_init_enter_pointer: this file builds against GLib 2.74 too
   * (its unit test). */
  if (g_once_init_enter (&link_regex))
    g_once_init_leave (&link_regex,
                       g_regex_new ("\\bhttps?://[^\\s<>\"]+[^\\s<>\".,;:!?)\\]'’]",
                                    G_REGEX_OPTIMIZE | G_REGEX_CASELESS, 0, NULL));

  g_regex_match (link_regex, text, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *url = g_match_info_fetch (match, 0);
      g_autofree char *escaped = g_markup_escape_text (url, -1);
      int start, end;

      g_match_info_fetch_pos (match, 0, &start, &end);
      append_plain (markup, text, done, start, self_name, mention_color, &found);
      g_string_append_printf (markup, "<a href=\"%s\">%s</a>", escaped, escaped);
      done = end;
      g_match_info_next (match, NULL);
    }
  append_plain (markup, text, done, strlen (text), self_name, mention_color, &found);

  if (mentioned != NULL)
    *mentioned = found;
  return g_string_free (markup, FALSE);
}
