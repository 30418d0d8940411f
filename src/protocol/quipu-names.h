#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bounds on names, the same on the wire and in every user interface. */
#define QUIPU_MAX_NAME_CHARS  32
#define QUIPU_MAX_NAME_BYTES  (QUIPU_MAX_NAME_CHARS * 4)
/* At most this many names in one direct message's recipient list. */
#define QUIPU_MAX_RECIPIENTS  64

/* Usernames and room names follow one rule (PROTOCOL.md, "Names"): valid UTF-8
 * in NFC, 1 to QUIPU_MAX_NAME_CHARS characters, every character printable
 * (g_unichar_isgraph: no spaces, no control or invisible format characters)
 * and none of  , @ # : /  which the command line and the display use. */
gboolean quipu_name_validate  (const char *name, gssize len, GError **error);

/* Normalises user input to NFC and validates it. Returns NULL with error set
 * (QUIPU_PROTOCOL_ERROR_BAD_NAME, message saying what is wrong) if invalid. */
char    *quipu_name_normalize (const char *input, GError **error);

/* The key under which a name is unique on a server: NFKC, then case-folded,
 * so "Alice" and "alice" (or a full-width "ａｌｉｃｅ") cannot both be
 * registered. `name` must be valid. */
char    *quipu_name_fold      (const char *name);

/* The one rule for mentions, which a conversation's has-mention and the
 * app's highlighting both use: `text` mentions `name` where the name stands
 * as a word of its own (alone or after "@": "hi Bob!", "@bob", not
 * "malice"), compared folded (quipu_name_fold). Looks from byte `from` on;
 * on a match returns TRUE with the mention's byte range in `text` (the
 * name, without the "@"). A word character is a letter, digit, "_" or "-". */
gboolean quipu_name_find_mention (const char *text,
                                  const char *name,
                                  gsize       from,
                                  gsize      *start,
                                  gsize      *end);

G_END_DECLS
