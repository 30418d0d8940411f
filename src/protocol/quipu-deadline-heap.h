#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A min-heap of deadlines, so the earliest of thousands is found at once
 * and each change costs O(log n). Embed a QuipuDeadline as the first member
 * of whatever the heap orders; the heap holds pointers and frees nothing. */
typedef struct {
  gint64 when;          /* monotonic µs; G_MAXINT64 for never */
  guint  index;         /* place in the heap, G_MAXUINT while out of it */
} QuipuDeadline;

#define QUIPU_DEADLINE_INIT { G_MAXINT64, G_MAXUINT }

typedef struct {
  GPtrArray *items;
} QuipuDeadlineHeap;

void           quipu_deadline_heap_init   (QuipuDeadlineHeap *heap);
void           quipu_deadline_heap_clear  (QuipuDeadlineHeap *heap);
guint          quipu_deadline_heap_size   (QuipuDeadlineHeap *heap);
/* The i-th deadline, in no particular order (for visiting them all). */
QuipuDeadline *quipu_deadline_heap_get    (QuipuDeadlineHeap *heap,
                                           guint              i);
/* The earliest, or NULL when empty. */
QuipuDeadline *quipu_deadline_heap_peek   (QuipuDeadlineHeap *heap);
void           quipu_deadline_heap_add    (QuipuDeadlineHeap *heap,
                                           QuipuDeadline     *deadline);
void           quipu_deadline_heap_remove (QuipuDeadlineHeap *heap,
                                           QuipuDeadline     *deadline);
/* Moves `deadline` to `when`, in the heap or not. */
void           quipu_deadline_heap_set    (QuipuDeadlineHeap *heap,
                                           QuipuDeadline     *deadline,
                                           gint64             when);

static inline gboolean
quipu_deadline_is_queued (const QuipuDeadline *deadline)
{
  return deadline->index != G_MAXUINT;
}

G_END_DECLS
