#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define QUIPU_TYPE_DRAFTS (quipu_drafts_get_type ())
G_DECLARE_FINAL_TYPE (QuipuDrafts, quipu_drafts, QUIPU, DRAFTS, GObject)

/* Unsent text per conversation, kept in $XDG_STATE_HOME/quipu/drafts.ini
 * (one group per account, one key per conversation). Read once, written
 * asynchronously half a second after the last change. */

QuipuDrafts *quipu_drafts_new   (const char  *account);

/* NULL until loaded, or if there is none. The "loaded" signal says when. */
char        *quipu_drafts_dup   (QuipuDrafts *self,
                                 const char  *conversation);
/* NULL or "" removes the draft. */
void         quipu_drafts_set   (QuipuDrafts *self,
                                 const char  *conversation,
                                 const char  *text);
gboolean     quipu_drafts_is_loaded (QuipuDrafts *self);
/* Writes a pending change now (at quit). */
void         quipu_drafts_flush (QuipuDrafts *self);

G_END_DECLS
