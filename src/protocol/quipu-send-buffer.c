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

typedef struct {
  guint64  offset;              /* stream offset of data[0] */
  gsize    len;
  guint8   data[SEND_BLOCK_SIZE];
} SendBlock;

G_STATIC_ASSERT (SEND_BLOCK_SIZE >= QUIPU_MAX_PACKET);

void
quipu_send_buffer_init (QuipuSendBuffer *buffer)
{
  memset (buffer, 0, sizeof *buffer);
  g_queue_init (&buffer->blocks);
}

void
quipu_send_buffer_clear (QuipuSendBuffer *buffer)
{
  g_queue_clear_full (&buffer->blocks, g_free);
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
          tail = g_new (SendBlock, 1);
          tail->offset = buffer->queued;
          tail->len = 0;
          g_queue_push_tail (&buffer->blocks, tail);
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

  for (GList *l = buffer->blocks.head; l != NULL && n < max; l = l->next)
    {
      SendBlock *block = l->data;
      guint64 skip;

      if (block->offset + block->len <= buffer->sent)
        continue;
      skip = buffer->sent > block->offset ? buffer->sent - block->offset : 0;
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
      g_free (g_queue_pop_head (&buffer->blocks));
    }
  return TRUE;
}
