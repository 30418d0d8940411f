#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A min-heap of deadlines, so the earliest of thousands is found at once
 * and each change costs O(log n). Embed a QuipuTimer as the first member of
 * whatever the heap orders; the heap holds pointers and frees nothing. */
typedef struct {
  gint64 when;          /* monotonic µs; G_MAXINT64 for never */
  guint  index;         /* place in the heap, G_MAXUINT while out of it */
} QuipuTimer;

#define QUIPU_TIMER_INIT { G_MAXINT64, G_MAXUINT }

typedef struct {
  GPtrArray *timers;
} QuipuTimerHeap;

void        quipu_timer_heap_init   (QuipuTimerHeap *heap);
void        quipu_timer_heap_clear  (QuipuTimerHeap *heap);
guint       quipu_timer_heap_size   (QuipuTimerHeap *heap);
/* The i-th timer, in no particular order (for visiting them all). */
QuipuTimer *quipu_timer_heap_get    (QuipuTimerHeap *heap,
                                     guint           i);
/* The earliest, or NULL when empty. */
QuipuTimer *quipu_timer_heap_peek   (QuipuTimerHeap *heap);
void        quipu_timer_heap_add    (QuipuTimerHeap *heap,
                                     QuipuTimer     *timer);
void        quipu_timer_heap_remove (QuipuTimerHeap *heap,
                                     QuipuTimer     *timer);
/* Moves `timer` to `when`, in the heap or not. */
void        quipu_timer_heap_set    (QuipuTimerHeap *heap,
                                     QuipuTimer     *timer,
                                     gint64          when);

static inline gboolean
quipu_timer_is_queued (const QuipuTimer *timer)
{
  return timer->index != G_MAXUINT;
}

G_END_DECLS
