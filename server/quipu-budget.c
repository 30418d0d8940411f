#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include "quipu-budget.h"

struct _QuipuBudget
{
  GSequence *order;   /* QuipuBudgetEntry *, not owned: the largest first */
  guint64    total;
};

/* Most bytes first; among equals the one whose client has gone longest
 * without acknowledging anything; then by address, so that the order is
 * total. */
static gint
compare_entries (gconstpointer a,
                 gconstpointer b,
                 gpointer      data)
{
  const QuipuBudgetEntry *x = a;
  const QuipuBudgetEntry *y = b;

  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  if (x->since_us != y->since_us)
    return x->since_us < y->since_us ? -1 : 1;
  if (x != y)
    return x < y ? -1 : 1;
  return 0;
}

QuipuBudget *
quipu_budget_new (void)
{
  QuipuBudget *budget = g_new0 (QuipuBudget, 1);

  budget->order = g_sequence_new (NULL);
  return budget;
}

void
quipu_budget_free (QuipuBudget *budget)
{
  /* Entries live in their sessions, which may outlive this. */
  for (GSequenceIter *iter = g_sequence_get_begin_iter (budget->order);
       !g_sequence_iter_is_end (iter);
       iter = g_sequence_iter_next (iter))
    ((QuipuBudgetEntry *) g_sequence_get (iter))->iter = NULL;
  g_sequence_free (budget->order);
  g_free (budget);
}

void
quipu_budget_update (QuipuBudget      *budget,
                     QuipuBudgetEntry *entry,
                     guint64           bytes,
                     gboolean          progressed)
{
  gint64 since_us = entry->since_us;

  if (progressed || entry->iter == NULL)
    since_us = g_get_monotonic_time ();
  if (bytes == 0)
    {
      quipu_budget_remove (budget, entry);
      return;
    }
  if (entry->iter != NULL && bytes == entry->bytes && since_us == entry->since_us)
    return;

  budget->total = budget->total - (entry->iter ? entry->bytes : 0) + bytes;
  entry->bytes = bytes;
  entry->since_us = since_us;
  if (entry->iter == NULL)
    entry->iter = g_sequence_insert_sorted (budget->order, entry, compare_entries, NULL);
  else
    g_sequence_sort_changed (entry->iter, compare_entries, NULL);
}

void
quipu_budget_remove (QuipuBudget      *budget,
                     QuipuBudgetEntry *entry)
{
  if (entry->iter == NULL)
    return;
  budget->total -= entry->bytes;
  g_sequence_remove (entry->iter);
  entry->iter = NULL;
  entry->bytes = 0;
}

guint64
quipu_budget_get_total (QuipuBudget *budget)
{
  return budget->total;
}

QuipuBudgetEntry *
quipu_budget_peek_largest (QuipuBudget *budget)
{
  GSequenceIter *first = g_sequence_get_begin_iter (budget->order);

  return g_sequence_iter_is_end (first) ? NULL : g_sequence_get (first);
}
