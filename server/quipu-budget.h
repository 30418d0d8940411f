#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bytes every session has queued for its client and not yet had
 * acknowledged, in total and in a binary heap by who holds the most, so
 * that past the server's budget the slowest reader is found at once. Each
 * change costs O(log n) in the number of sessions holding anything, and
 * usually a comparison or two (a reader's share changes little between
 * deliveries); an idle session is not in the heap at all. */
typedef struct _QuipuBudget QuipuBudget;

/* Kept in the session it stands for. */
typedef struct {
  gpointer owner;
  guint    position;   /* 1 + its index in the heap; 0 while it holds nothing */
  guint64  bytes;
  gint64   since_us;   /* when its client last acknowledged anything */
} QuipuBudgetEntry;

QuipuBudget      *quipu_budget_new          (void);
void              quipu_budget_free         (QuipuBudget *budget);

/* The entry now holds `bytes`; `progressed` when its client acknowledged
 * something since the last update. */
void              quipu_budget_update       (QuipuBudget      *budget,
                                             QuipuBudgetEntry *entry,
                                             guint64           bytes,
                                             gboolean          progressed);
/* Out of the count: the session and what it held are going. */
void              quipu_budget_remove       (QuipuBudget      *budget,
                                             QuipuBudgetEntry *entry);
guint64           quipu_budget_get_total    (QuipuBudget *budget);
/* The entry holding the most bytes, the longest without progress among
 * equals; NULL when nobody holds anything. */
QuipuBudgetEntry *quipu_budget_peek_largest (QuipuBudget *budget);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuBudget, quipu_budget_free)

G_END_DECLS
