#define G_LOG_DOMAIN "quipu-send-buffer"

#include "config.h"

#include <string.h>

#include "quipu-connection-private.h"
#include "quipu-send-buffer.h"

/* Queued stream data is copied into blocks: memory that stays put until
 * acknowledged, as ngtcp2 needs, and contiguous, so no STREAM frame (and no
 * retransmission merging several) spans more than two pieces of memory.
 * ngtcp2 1.11 leaks a frame that starts with more than four pieces and is
 * trimmed below that on retransmission (fixed upstream in ngtcp2 PR #1976);
 * a block is larger than any packet, so that never happens here. */
#define SEND_BLOCK_SIZE (16 * 1024)
/* Blocks come back to a pool rather than to malloc: a server fanning out
 * a message gives every receiver a block that goes again with its ACK a
 * few milliseconds later. Kept small enough not to count, as memory. */
#define POOL_MAX        256

typedef struct {
  GList    link;                /* in the buffer's queue or the pool; data is the block */
  guint64  offset;              /* stream offset of data[0] */
  gsize    len;
  guint8   data[SEND_BLOCK_SIZE];
} SendBlock;

G_STATIC_ASSERT (SEND_BLOCK_SIZE >= QUIPU_MAX_PACKET);

/* Any thread may own connections (one each), so the pool is locked. */
G_LOCK_DEFINE_STATIC (pool);
static GQueue pool = G_QUEUE_INIT;

static SendBlock *
block_new (guint64 offset)
{
  GList *link;
  SendBlock *block;

  G_LOCK (pool);
  link = g_queue_pop_head_link (&pool);
  G_UNLOCK (pool);
  if (link != NULL)
    block = link->data;
  else
    {
      block = g_new (SendBlock, 1);
      block->link.data = block;
    }
  block->link.prev = block->link.next = NULL;
  block->offset = offset;
  block->len = 0;
  return block;
}

static void
block_free (SendBlock *block)
{
  G_LOCK (pool);
  if (pool.length < POOL_MAX)
    {
      /* The most recently used first: still in the cache. */
      g_queue_push_head_link (&pool, &block->link);
      block = NULL;
    }
  G_UNLOCK (pool);
  g_free (block);
}

void
quipu_send_buffer_init (QuipuSendBuffer *buffer)
{
  memset (buffer, 0, sizeof *buffer);
  g_queue_init (&buffer->blocks);
}

void
quipu_send_buffer_clear (QuipuSendBuffer *buffer)
{
  GList *link;

  while ((link = g_queue_pop_head_link (&buffer->blocks)) != NULL)
    block_free (link->data);
  buffer->unsent = NULL;
}

void
quipu_send_buffer_append (QuipuSendBuffer *buffer,
                          const guint8    *data,
                          gsize            len)
{
  while (len > 0)
    {
      SendBlock *tail = g_queue_peek_tail (&buffer->blocks);
      gsize n;

      if (tail == NULL || tail->len == SEND_BLOCK_SIZE)
        {
          tail = block_new (buffer->queued);
          g_queue_push_tail_link (&buffer->blocks, &tail->link);
        }
      n = MIN (len, SEND_BLOCK_SIZE - tail->len);
      memcpy (tail->data + tail->len, data, n);
      tail->len += n;
      buffer->queued += n;
      data += n;
      len -= n;
    }
}

gsize
quipu_send_buffer_peek_unsent (QuipuSendBuffer *buffer,
                               ngtcp2_vec      *vecs,
                               gsize            max)
{
  gsize n = 0;
  GList *l = buffer->unsent != NULL ? buffer->unsent : buffer->blocks.head;

  /* Remember where the unsent bytes start: a long backlog is not walked
   * from its acknowledged end on every packet. The tail may still grow, so
   * the walk stops there. */
  while (l != NULL && l->next != NULL && ((SendBlock *) l->data)->offset + ((SendBlock *) l->data)->len <= buffer->sent)
    l = l->next;
  buffer->unsent = l;

  for (; l != NULL && n < max; l = l->next)
    {
      SendBlock *block = l->data;
      guint64 skip = buffer->sent > block->offset ? buffer->sent - block->offset : 0;

      if (skip >= block->len)
        continue;
      vecs[n].base = block->data + skip;
      vecs[n].len = block->len - skip;
      n++;
    }
  return n;
}

void
quipu_send_buffer_mark_sent (QuipuSendBuffer *buffer,
                             gsize            len)
{
  buffer->sent += len;
}

gboolean
quipu_send_buffer_ack (QuipuSendBuffer *buffer,
                       guint64          offset)
{
  if (offset <= buffer->acked)
    return FALSE;

  buffer->acked = offset;
  while (!g_queue_is_empty (&buffer->blocks))
    {
      SendBlock *block = g_queue_peek_head (&buffer->blocks);

      if (block->offset + block->len > offset)
        break;
      if (buffer->unsent == &block->link)
        buffer->unsent = NULL;
      g_queue_pop_head_link (&buffer->blocks);
      block_free (block);
    }
  return TRUE;
}
