#pragma once

#include "quipu-message.h"

G_BEGIN_DECLS

/* What a client knows of one conversation's sequence numbers: a room, or the
 * direct-message inbox (room NULL). Internal to QuipuClient.
 *
 * Sequences <= contiguous and >= lowest have all been received; those
 * received above contiguous are remembered, so nothing is shown twice.
 * Messages above a gap are held (in sequence order) until the gap fills, so
 * each conversation is shown in order. The flags say which requests for it
 * are on their way. */
typedef struct {
  char       *room;
  guint64     contiguous;
  guint64     lowest;         /* G_MAXUINT64 before anything is known */
  gboolean    has_state;
  gboolean    joined;
  gboolean    confirmed;      /* the server answered our JOIN on this connection */
  gboolean    loading_older;
  gboolean    syncing;        /* a request for what follows contiguous is on its way */

  /*< private >*/
  GHashTable *ahead;
  GTree      *held;
} QuipuSequencer;

QuipuSequencer *quipu_sequencer_new              (const char     *room);
void            quipu_sequencer_free             (QuipuSequencer *self);

/* The key conversations are filed under: "#" + folded room, or "@". */
char           *quipu_sequencer_key              (const char     *room);

/* First sight in this session: everything up to `seq` exists on the
 * server; what is shown of it comes as history. Later calls do nothing. */
void            quipu_sequencer_baseline         (QuipuSequencer *self,
                                                  guint64         seq);
/* Records `seq` as shown; FALSE if it was shown before. */
gboolean        quipu_sequencer_mark             (QuipuSequencer *self,
                                                  guint64         seq);
/* The server says everything up to `seq` was sent (pruned gaps included). */
void            quipu_sequencer_complete_through (QuipuSequencer *self,
                                                  guint64         seq);
/* TRUE if a message at `seq` must wait for the ones before it. */
gboolean        quipu_sequencer_must_hold        (QuipuSequencer *self,
                                                  guint64         seq);
/* Takes a reference to `msg` until it can be shown. */
void            quipu_sequencer_hold             (QuipuSequencer *self,
                                                  QuipuMessage   *msg);
/* The next held message no gap separates from the rest any more, or NULL.
 * Transfer full. */
QuipuMessage   *quipu_sequencer_pop_ready        (QuipuSequencer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuSequencer, quipu_sequencer_free)

G_END_DECLS
