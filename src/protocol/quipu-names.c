#define G_LOG_DOMAIN "quipu-names"

#include "config.h"

#include <string.h>

#include "quipu-error.h"
#include "quipu-names.h"
#include "quipu-wire.h"

static gboolean
is_reserved (gunichar c)
{
  return c == ',' || c == '@' || c == '#' || c == ':' || c == '/';
}

gboolean
quipu_name_validate (const char *name,
                     gssize      len,
                     GError    **error)
{
  g_autofree char *nfc = NULL;
  const char *end;
  const char *p;
  glong n_chars = 0;

  if (len < 0)
    len = strlen (name);

  if (len == 0)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                           "name is empty");
      return FALSE;
    }
  if (len > QUIPU_MAX_NAME_BYTES)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                   "name is longer than %d characters", QUIPU_MAX_NAME_CHARS);
      return FALSE;
    }
  if (!g_utf8_validate_len (name, len, &end))
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                           "name is not valid UTF-8");
      return FALSE;
    }

  for (p = name; p < name + len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      n_chars++;
      if (!g_unichar_isgraph (c))
        {
          g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                       "name contains a space, control or invisible character (U+%04X)", c);
          return FALSE;
        }
      if (is_reserved (c))
        {
          g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                       "name contains '%c', which is reserved", (char) c);
          return FALSE;
        }
    }

  if (n_chars > QUIPU_MAX_NAME_CHARS)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                   "name is longer than %d characters", QUIPU_MAX_NAME_CHARS);
      return FALSE;
    }

  /* ASCII is always in NFC; most names are ASCII and this is on the
   * receive path of every message. */
  if (n_chars == len)
    return TRUE;

  nfc = g_utf8_normalize (name, len, G_NORMALIZE_NFC);
  if (nfc == NULL || strlen (nfc) != (gsize) len || memcmp (nfc, name, len) != 0)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                           "name is not in Unicode normal form C");
      return FALSE;
    }

  return TRUE;
}

char *
quipu_name_normalize (const char *input,
                      GError    **error)
{
  g_autofree char *nfc = NULL;

  if (!g_utf8_validate (input, -1, NULL))
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                           "name is not valid UTF-8");
      return NULL;
    }

  nfc = g_utf8_normalize (input, -1, G_NORMALIZE_NFC);
  if (!quipu_name_validate (nfc, -1, error))
    return NULL;

  return g_steal_pointer (&nfc);
}

char *
quipu_name_fold (const char *name)
{
  g_autofree char *nfkc = g_utf8_normalize (name, -1, G_NORMALIZE_NFKC);

  return g_utf8_casefold (nfkc, -1);
}

static gboolean
is_word_char (const char *p)
{
  gunichar c = g_utf8_get_char (p);

  return g_unichar_isalnum (c) || c == '_' || c == '-';
}

static char *
fold_span (const char *p,
           gsize       len)
{
  g_autofree char *nfkc = g_utf8_normalize (p, len, G_NORMALIZE_NFKC);

  return nfkc != NULL ? g_utf8_casefold (nfkc, -1) : g_strdup ("");
}

/* The end of the mention of `word` (folded) that starts at `p`, or NULL:
 * characters are taken while their folded form stays a prefix of the word
 * (or a combining mark follows, which may still compose into it). */
static const char *
mention_end (const char *p,
             const char *word,
             gsize       word_len)
{
  for (const char *q = g_utf8_next_char (p); ; q = g_utf8_next_char (q))
    {
      g_autofree char *folded = fold_span (p, q - p);
      gsize len = strlen (folded);
      gboolean mark_follows = *q != '\0' && g_unichar_ismark (g_utf8_get_char (q));

      if (len == word_len && strcmp (folded, word) == 0 && !mark_follows)
        return *q == '\0' || !is_word_char (q) ? q : NULL;
      if (*q == '\0' || (!mark_follows && (len >= word_len || strncmp (folded, word, len) != 0)))
        return NULL;
    }
}

gboolean
quipu_name_find_mention (const char *text,
                         const char *name,
                         gsize       from,
                         gsize      *start,
                         gsize      *end)
{
  g_autofree char *word = NULL;
  gsize word_len;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  word = quipu_name_fold (name);
  word_len = strlen (word);
  if (word_len == 0 || from > strlen (text))
    return FALSE;

  for (const char *p = text + from; *p != '\0'; p = g_utf8_next_char (p))
    {
      const char *q;

      if (p != text && is_word_char (g_utf8_find_prev_char (text, p)))
        continue;
      /* An ASCII character folds to itself, lower-cased (unless a combining
       * mark follows): most words are ruled out without folding anything. */
      if ((guchar) *p < 0x80 && g_ascii_tolower (*p) != word[0]
          && !g_unichar_ismark (g_utf8_get_char (p + 1)))
        continue;
      q = mention_end (p, word, word_len);
      if (q == NULL)
        continue;
      if (start != NULL)
        *start = p - text;
      if (end != NULL)
        *end = q - text;
      return TRUE;
    }
  return FALSE;
}
