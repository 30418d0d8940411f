#pragma once

#include <glib.h>

#include "quipu-store.h"

G_BEGIN_DECLS

/* The frames of one receive batch (one dispatch of the endpoint) share one
 * store transaction, and everything they cause waits until it commits: an
 * ACK means "stored", so nothing leaves before the commit. The batch opens
 * with the first frame; until then writes run in their own transaction and
 * sends go out at once. The batch knows nothing of sessions: it holds what
 * they queued and hands it back at the end. */
typedef struct _QuipuBatch QuipuBatch;

/* What becomes of a queued item when the batch's commit fails. Reads,
 * presence and closes do not depend on the commit and still go out; what
 * reports or carries a write must not. */
typedef enum {
  QUIPU_ON_FAILURE_SEND,     /* independent of the commit: send anyway */
  QUIPU_ON_FAILURE_DROP,     /* carries a write (a relayed message): drop it */
  QUIPU_ON_FAILURE_REPLACE,  /* reports a write (an ACK): send `fallback` instead */
  QUIPU_ON_FAILURE_CLOSE,    /* the session rests on a write (a new name): close it */
} QuipuOnFailure;

/* A frame (bytes) for `target`; or a feed, what the target produces itself
 * once released (a history page, paced by the stream); or, with both NULL,
 * a close that must come after the frames queued for it before. */
typedef struct {
  gpointer        target;
  GBytes         *bytes;
  guint64         inbox_seq;
  guint64         close_code;
  char           *close_reason;
  QuipuOnFailure  on_failure;
  GBytes         *fallback;
  gpointer        feed;
  GDestroyNotify  feed_unref;
} QuipuOutgoing;

/* Called once per queued item after the commit; `durable` is FALSE when the
 * commit failed and nothing of the batch may be acknowledged. */
typedef void (*QuipuOutgoingFunc) (const QuipuOutgoing *out,
                                   gboolean             durable);

/* `target_unref` drops the reference quipu_batch_queue() took over. */
QuipuBatch *quipu_batch_new                (QuipuStore     *store,
                                            GDestroyNotify  target_unref);
void        quipu_batch_free               (QuipuBatch *batch);

void        quipu_batch_open               (QuipuBatch *batch);
gboolean    quipu_batch_is_open            (QuipuBatch *batch);
/* Begins the batch's transaction before its first write; TRUE at once when
 * the batch is not open (the write is its own transaction then). */
gboolean    quipu_batch_ensure_transaction (QuipuBatch  *batch,
                                            GError     **error);
/* Takes over the reference on `target`. */
void        quipu_batch_queue              (QuipuBatch *batch,
                                            gpointer    target,
                                            GBytes     *bytes,
                                            guint64     inbox_seq,
                                            guint64     close_code,
                                            const char *close_reason);
/* Takes over the reference on `target` and on `feed`; the release gets
 * the feed after the items queued before it, whatever the commit did. */
void        quipu_batch_queue_feed         (QuipuBatch     *batch,
                                            gpointer        target,
                                            gpointer        feed,
                                            GDestroyNotify  feed_unref);
/* The same for bytes that depend on the batch's writes: `on_failure` says
 * what to do with them if the commit fails (`fallback` for _REPLACE). */
void        quipu_batch_queue_written      (QuipuBatch     *batch,
                                            gpointer        target,
                                            GBytes         *bytes,
                                            guint64         inbox_seq,
                                            QuipuOnFailure  on_failure,
                                            GBytes         *fallback);
/* Commits, closes the batch and hands every queued item to `release`, in
 * order. On a failed commit the transaction is rolled back and `error` set. */
gboolean    quipu_batch_finish             (QuipuBatch         *batch,
                                            QuipuOutgoingFunc   release,
                                            GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuBatch, quipu_batch_free)

G_END_DECLS
