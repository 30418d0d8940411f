#define G_LOG_DOMAIN "quipu-timer-heap"

#include "config.h"

#include "quipu-timer-heap.h"

#define AT(heap, i) ((QuipuTimer *) (heap)->timers->pdata[i])

void
quipu_timer_heap_init (QuipuTimerHeap *heap)
{
  heap->timers = g_ptr_array_new ();
}

void
quipu_timer_heap_clear (QuipuTimerHeap *heap)
{
  g_clear_pointer (&heap->timers, g_ptr_array_unref);
}

guint
quipu_timer_heap_size (QuipuTimerHeap *heap)
{
  return heap->timers->len;
}

QuipuTimer *
quipu_timer_heap_get (QuipuTimerHeap *heap,
                      guint           i)
{
  return AT (heap, i);
}

QuipuTimer *
quipu_timer_heap_peek (QuipuTimerHeap *heap)
{
  return heap->timers->len > 0 ? AT (heap, 0) : NULL;
}

static void
swap (QuipuTimerHeap *heap, guint i, guint j)
{
  QuipuTimer *a = AT (heap, i), *b = AT (heap, j);

  heap->timers->pdata[i] = b;
  heap->timers->pdata[j] = a;
  b->index = i;
  a->index = j;
}

static void
sift (QuipuTimerHeap *heap, guint i)
{
  guint len = heap->timers->len;

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
quipu_timer_heap_add (QuipuTimerHeap *heap,
                      QuipuTimer     *timer)
{
  g_return_if_fail (!quipu_timer_is_queued (timer));

  timer->index = heap->timers->len;
  g_ptr_array_add (heap->timers, timer);
  sift (heap, timer->index);
}

void
quipu_timer_heap_remove (QuipuTimerHeap *heap,
                         QuipuTimer     *timer)
{
  guint i = timer->index;
  guint last = heap->timers->len - 1;

  g_return_if_fail (quipu_timer_is_queued (timer));

  if (i != last)
    swap (heap, i, last);
  g_ptr_array_set_size (heap->timers, last);
  timer->index = G_MAXUINT;
  if (i < heap->timers->len)
    sift (heap, i);
}

void
quipu_timer_heap_set (QuipuTimerHeap *heap,
                      QuipuTimer     *timer,
                      gint64          when)
{
  if (timer->when == when)
    return;
  timer->when = when;
  if (quipu_timer_is_queued (timer))
    sift (heap, timer->index);
}
