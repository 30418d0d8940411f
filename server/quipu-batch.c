#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include "quipu-batch.h"

struct _QuipuBatch
{
  QuipuStore     *store;           /* not owned */
  GDestroyNotify  target_unref;
  gboolean        open;
  gboolean        in_transaction;
  GArray         *outgoing;        /* QuipuOutgoing */
};

QuipuBatch *
quipu_batch_new (QuipuStore     *store,
                 GDestroyNotify  target_unref)
{
  QuipuBatch *batch = g_new0 (QuipuBatch, 1);

  batch->store = store;
  batch->target_unref = target_unref;
  batch->outgoing = g_array_new (FALSE, FALSE, sizeof (QuipuOutgoing));
  return batch;
}

/* Empties the queue, handing each item to `release` first if given. */
static void
drain (QuipuBatch        *batch,
       QuipuOutgoingFunc  release,
       gboolean           durable)
{
  /* Stolen first: a release may queue again (it does not today, but then it
   * must land in the next batch, not in the array being walked). */
  g_autoptr(GArray) outgoing = g_steal_pointer (&batch->outgoing);

  batch->outgoing = g_array_new (FALSE, FALSE, sizeof (QuipuOutgoing));
  for (guint i = 0; i < outgoing->len; i++)
    {
      QuipuOutgoing *out = &g_array_index (outgoing, QuipuOutgoing, i);

      if (release != NULL)
        release (out, durable);
      batch->target_unref (out->target);
      g_clear_pointer (&out->bytes, g_bytes_unref);
      g_clear_pointer (&out->fallback, g_bytes_unref);
      g_free (out->close_reason);
      if (out->feed != NULL)
        out->feed_unref (out->feed);
    }
}

void
quipu_batch_free (QuipuBatch *batch)
{
  drain (batch, NULL, FALSE);
  g_array_unref (batch->outgoing);
  g_free (batch);
}

void
quipu_batch_open (QuipuBatch *batch)
{
  batch->open = TRUE;
}

gboolean
quipu_batch_is_open (QuipuBatch *batch)
{
  return batch->open;
}

gboolean
quipu_batch_ensure_transaction (QuipuBatch  *batch,
                                GError     **error)
{
  if (!batch->open || batch->in_transaction)
    return TRUE;
  if (!quipu_store_begin (batch->store, error))
    return FALSE;
  batch->in_transaction = TRUE;
  return TRUE;
}

void
quipu_batch_queue (QuipuBatch *batch,
                   gpointer    target,
                   GBytes     *bytes,
                   guint64     inbox_seq,
                   guint64     close_code,
                   const char *close_reason)
{
  QuipuOutgoing out = {
    target, bytes ? g_bytes_ref (bytes) : NULL, inbox_seq, close_code, g_strdup (close_reason),
    QUIPU_ON_FAILURE_SEND, NULL, NULL, NULL
  };

  g_array_append_val (batch->outgoing, out);
}

void
quipu_batch_queue_written (QuipuBatch     *batch,
                           gpointer        target,
                           GBytes         *bytes,
                           guint64         inbox_seq,
                           QuipuOnFailure  on_failure,
                           GBytes         *fallback)
{
  QuipuOutgoing out = {
    target, g_bytes_ref (bytes), inbox_seq, 0, NULL, on_failure, fallback ? g_bytes_ref (fallback) : NULL,
    NULL, NULL
  };

  g_array_append_val (batch->outgoing, out);
}

void
quipu_batch_queue_feed (QuipuBatch     *batch,
                        gpointer        target,
                        gpointer        feed,
                        GDestroyNotify  feed_unref)
{
  QuipuOutgoing out = { target, NULL, 0, 0, NULL, QUIPU_ON_FAILURE_SEND, NULL, feed, feed_unref };

  g_array_append_val (batch->outgoing, out);
}

gboolean
quipu_batch_finish (QuipuBatch         *batch,
                    QuipuOutgoingFunc   release,
                    GError            **error)
{
  gboolean durable = TRUE;

  batch->open = FALSE;
  if (batch->in_transaction)
    {
      batch->in_transaction = FALSE;
      if (!quipu_store_commit (batch->store, error))
        {
          quipu_store_rollback (batch->store);
          durable = FALSE;
        }
    }
  drain (batch, release, durable);
  return durable;
}
