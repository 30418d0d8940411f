#define G_LOG_DOMAIN "quipu-test-send-buffer"

#include "config.h"

#include <string.h>

#include "quipu-send-buffer.h"

/* The bytes queued on stream 0: handed out in order, kept until
 * acknowledged, in blocks that come back for the next message. */

#define BLOCK (16 * 1024)

static void
append_pattern (QuipuSendBuffer *buffer,
                gsize            len)
{
  g_autofree guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) ((buffer->queued + i) % 251);
  quipu_send_buffer_append (buffer, data, len);
}

/* The unsent bytes, which must be the stream from `sent` on. */
static gsize
check_unsent (QuipuSendBuffer *buffer)
{
  ngtcp2_vec vecs[16];
  gsize n = quipu_send_buffer_peek_unsent (buffer, vecs, G_N_ELEMENTS (vecs));
  guint64 offset = buffer->sent;

  for (gsize i = 0; i < n; i++)
    {
      g_assert_cmpuint (vecs[i].len, >, 0);
      for (gsize j = 0; j < vecs[i].len; j++)
        g_assert_cmpuint (vecs[i].base[j], ==, (offset + j) % 251);
      offset += vecs[i].len;
    }
  g_assert_cmpuint (offset, ==, buffer->queued);
  return n;
}

static void
test_order (void)
{
  QuipuSendBuffer buffer;

  quipu_send_buffer_init (&buffer);
  append_pattern (&buffer, 2 * BLOCK + 100);
  g_assert_cmpuint (check_unsent (&buffer), ==, 3);

  /* Sent into the second block; the first is acknowledged and goes. */
  quipu_send_buffer_mark_sent (&buffer, BLOCK + 10);
  g_assert_cmpuint (check_unsent (&buffer), ==, 2);
  g_assert_true (quipu_send_buffer_ack (&buffer, BLOCK));
  g_assert_false (quipu_send_buffer_ack (&buffer, BLOCK));
  g_assert_cmpuint (check_unsent (&buffer), ==, 2);

  /* All sent, then more for the tail block, which was sent to its end. */
  quipu_send_buffer_mark_sent (&buffer, buffer.queued - buffer.sent);
  g_assert_cmpuint (check_unsent (&buffer), ==, 0);
  append_pattern (&buffer, 50);
  g_assert_cmpuint (check_unsent (&buffer), ==, 1);

  /* Everything acknowledged: nothing left, and new bytes still come out. */
  quipu_send_buffer_mark_sent (&buffer, 50);
  g_assert_true (quipu_send_buffer_ack (&buffer, buffer.queued));
  g_assert_cmpuint (check_unsent (&buffer), ==, 0);
  append_pattern (&buffer, 3 * BLOCK);
  g_assert_cmpuint (check_unsent (&buffer), ==, 3);
  quipu_send_buffer_clear (&buffer);
}

static void
test_reuse (void)
{
  QuipuSendBuffer buffer;
  ngtcp2_vec first, again;
  g_autofree gpointer interloper = NULL;

  /* A message out and acknowledged, then the next: it goes into the block
   * the first one had, not into fresh memory. */
  quipu_send_buffer_init (&buffer);
  append_pattern (&buffer, 300);
  g_assert_cmpuint (quipu_send_buffer_peek_unsent (&buffer, &first, 1), ==, 1);
  quipu_send_buffer_mark_sent (&buffer, 300);
  g_assert_true (quipu_send_buffer_ack (&buffer, 300));
  /* Had the block gone back to malloc, this would take it (a block's size:
   * its list link, offset, length and data). */
  interloper = g_malloc (3 * sizeof (gpointer) + 2 * sizeof (guint64) + BLOCK);

  append_pattern (&buffer, 300);
  g_assert_cmpuint (quipu_send_buffer_peek_unsent (&buffer, &again, 1), ==, 1);
  g_assert_true (again.base == first.base);
  g_assert_cmpuint (check_unsent (&buffer), ==, 1);
  quipu_send_buffer_clear (&buffer);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/quipu/send-buffer/order", test_order);
  g_test_add_func ("/quipu/send-buffer/reuse", test_reuse);
  return g_test_run ();
}
