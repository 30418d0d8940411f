#define G_LOG_DOMAIN "quipu-deadline-heap"

#include "config.h"

#include "quipu-deadline-heap.h"

#define AT(heap, i) ((QuipuDeadline *) (heap)->items->pdata[i])

void
quipu_deadline_heap_init (QuipuDeadlineHeap *heap)
{
  heap->items = g_ptr_array_new ();
}

void
quipu_deadline_heap_clear (QuipuDeadlineHeap *heap)
{
  g_clear_pointer (&heap->items, g_ptr_array_unref);
}

guint
quipu_deadline_heap_size (QuipuDeadlineHeap *heap)
{
  return heap->items->len;
}

QuipuDeadline *
quipu_deadline_heap_get (QuipuDeadlineHeap *heap,
                         guint              i)
{
  return AT (heap, i);
}

QuipuDeadline *
quipu_deadline_heap_peek (QuipuDeadlineHeap *heap)
{
  return heap->items->len > 0 ? AT (heap, 0) : NULL;
}

static void
swap (QuipuDeadlineHeap *heap, guint i, guint j)
{
  QuipuDeadline *a = AT (heap, i), *b = AT (heap, j);

  heap->items->pdata[i] = b;
  heap->items->pdata[j] = a;
  b->index = i;
  a->index = j;
}

static void
sift (QuipuDeadlineHeap *heap, guint i)
{
  guint len = heap->items->len;

  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (AT (heap, parent)->when <= AT (heap, i)->when)
        break;
      swap (heap, i, parent);
      i = parent;
    }

  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;

      if (l < len && AT (heap, l)->when < AT (heap, m)->when)
        m = l;
      if (r < len && AT (heap, r)->when < AT (heap, m)->when)
        m = r;
      if (m == i)
        break;
      swap (heap, i, m);
      i = m;
    }
}

void
quipu_deadline_heap_add (QuipuDeadlineHeap *heap,
                         QuipuDeadline     *deadline)
{
  g_return_if_fail (!quipu_deadline_is_queued (deadline));

  deadline->index = heap->items->len;
  g_ptr_array_add (heap->items, deadline);
  sift (heap, deadline->index);
}

void
quipu_deadline_heap_remove (QuipuDeadlineHeap *heap,
                            QuipuDeadline     *deadline)
{
  guint i = deadline->index;
  guint last = heap->items->len - 1;

  g_return_if_fail (quipu_deadline_is_queued (deadline));

  if (i != last)
    swap (heap, i, last);
  g_ptr_array_set_size (heap->items, last);
  deadline->index = G_MAXUINT;
  if (i < heap->items->len)
    sift (heap, i);
}

void
quipu_deadline_heap_set (QuipuDeadlineHeap *heap,
                         QuipuDeadline     *deadline,
                         gint64             when)
{
  if (deadline->when == when)
    return;
  deadline->when = when;
  if (quipu_deadline_is_queued (deadline))
    sift (heap, deadline->index);
}
