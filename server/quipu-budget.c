#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include "quipu-budget.h"

struct _QuipuBudget
{
  GPtrArray *heap;    /* QuipuBudgetEntry *, not owned: the largest first */
  guint64    total;
};

/* Most bytes first; among equals the one whose client has gone longest
 * without acknowledging anything. */
static gboolean
goes_before (const QuipuBudgetEntry *a,
             const QuipuBudgetEntry *b)
{
  if (a->bytes != b->bytes)
    return a->bytes > b->bytes;
  return a->since_us < b->since_us;
}

static QuipuBudgetEntry *
entry_at (QuipuBudget *budget,
          guint        i)
{
  return g_ptr_array_index (budget->heap, i);
}

static void
place (QuipuBudget      *budget,
       guint             i,
       QuipuBudgetEntry *entry)
{
  budget->heap->pdata[i] = entry;
  entry->position = i + 1;
}

/* Moves the entry at `i` up or down to where it belongs. */
static void
restore (QuipuBudget *budget,
         guint        i)
{
  QuipuBudgetEntry *entry = entry_at (budget, i);
  guint n = budget->heap->len;

  while (i > 0 && goes_before (entry, entry_at (budget, (i - 1) / 2)))
    {
      place (budget, i, entry_at (budget, (i - 1) / 2));
      i = (i - 1) / 2;
    }
  for (;;)
    {
      guint child = 2 * i + 1;

      if (child + 1 < n && goes_before (entry_at (budget, child + 1), entry_at (budget, child)))
        child++;
      if (child >= n || !goes_before (entry_at (budget, child), entry))
        break;
      place (budget, i, entry_at (budget, child));
      i = child;
    }
  place (budget, i, entry);
}

QuipuBudget *
quipu_budget_new (void)
{
  QuipuBudget *budget = g_new0 (QuipuBudget, 1);

  budget->heap = g_ptr_array_new ();
  return budget;
}

void
quipu_budget_free (QuipuBudget *budget)
{
  /* Entries live in their sessions, which may outlive this. */
  for (guint i = 0; i < budget->heap->len; i++)
    entry_at (budget, i)->position = 0;
  g_ptr_array_unref (budget->heap);
  g_free (budget);
}

void
quipu_budget_update (QuipuBudget      *budget,
                     QuipuBudgetEntry *entry,
                     guint64           bytes,
                     gboolean          progressed)
{
  if (bytes == 0)
    {
      quipu_budget_remove (budget, entry);
      return;
    }
  if (entry->position != 0 && bytes == entry->bytes && !progressed)
    return;

  if (progressed || entry->position == 0)
    entry->since_us = g_get_monotonic_time ();
  if (entry->position == 0)
    {
      g_ptr_array_add (budget->heap, entry);
      entry->position = budget->heap->len;
      entry->bytes = 0;
    }
  budget->total = budget->total - entry->bytes + bytes;
  entry->bytes = bytes;
  restore (budget, entry->position - 1);
}

void
quipu_budget_remove (QuipuBudget      *budget,
                     QuipuBudgetEntry *entry)
{
  guint i = entry->position - 1;

  if (entry->position == 0)
    return;
  budget->total -= entry->bytes;
  entry->position = 0;
  entry->bytes = 0;
  /* The last entry takes its place, then finds its own. */
  g_ptr_array_remove_index_fast (budget->heap, i);
  if (i < budget->heap->len)
    restore (budget, i);
}

guint64
quipu_budget_get_total (QuipuBudget *budget)
{
  return budget->total;
}

QuipuBudgetEntry *
quipu_budget_peek_largest (QuipuBudget *budget)
{
  return budget->heap->len > 0 ? entry_at (budget, 0) : NULL;
}
