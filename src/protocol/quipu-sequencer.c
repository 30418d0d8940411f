#define G_LOG_DOMAIN "quipu-sequencer"

#include "config.h"

#include "quipu-conversation.h"
#include "quipu-sequencer.h"

static int
compare_seq (gconstpointer a,
             gconstpointer b,
             gpointer      user_data)
{
  guint64 x = quipu_message_get_seq ((QuipuMessage *) a);
  guint64 y = quipu_message_get_seq ((QuipuMessage *) b);

  return x < y ? -1 : x > y;
}

QuipuSequencer *
quipu_sequencer_new (const char *room)
{
  QuipuSequencer *self = g_new0 (QuipuSequencer, 1);

  self->room = g_strdup (room);
  self->lowest = G_MAXUINT64;
  self->ahead = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->held = g_tree_new_full (compare_seq, NULL, g_object_unref, NULL);
  return self;
}

void
quipu_sequencer_free (QuipuSequencer *self)
{
  g_free (self->room);
  g_hash_table_unref (self->ahead);
  g_tree_unref (self->held);
  g_free (self);
}

char *
quipu_sequencer_key (const char *room)
{
  /* The inbox is one sequence for all direct conversations. */
  return room ? quipu_conversation_key_for_room (room) : g_strdup ("@");
}

void
quipu_sequencer_baseline (QuipuSequencer *self,
                          guint64         seq)
{
  if (self->has_state)
    return;
  self->has_state = TRUE;
  self->contiguous = seq;
  self->lowest = seq + 1;
}

static void
advance (QuipuSequencer *self)
{
  guint64 next = self->contiguous + 1;

  while (g_hash_table_remove (self->ahead, &next))
    next++;
  self->contiguous = next - 1;
}

gboolean
quipu_sequencer_mark (QuipuSequencer *self,
                      guint64         seq)
{
  if (seq < self->lowest)
    return TRUE;   /* older history, asked for and delivered once */
  if (seq <= self->contiguous)
    return FALSE;
  if (g_hash_table_contains (self->ahead, &seq))
    return FALSE;
  g_hash_table_add (self->ahead, g_memdup2 (&seq, sizeof seq));
  advance (self);
  return TRUE;
}

void
quipu_sequencer_complete_through (QuipuSequencer *self,
                                  guint64         seq)
{
  GHashTableIter iter;
  guint64 *key;

  if (seq <= self->contiguous)
    return;
  self->contiguous = seq;
  g_hash_table_iter_init (&iter, self->ahead);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, NULL))
    if (*key <= seq)
      g_hash_table_iter_remove (&iter);
  advance (self);
}

gboolean
quipu_sequencer_must_hold (QuipuSequencer *self,
                           guint64         seq)
{
  return self->has_state && seq > self->contiguous;
}

void
quipu_sequencer_hold (QuipuSequencer *self,
                      QuipuMessage   *msg)
{
  g_tree_insert (self->held, g_object_ref (msg), NULL);
}

QuipuMessage *
quipu_sequencer_pop_ready (QuipuSequencer *self)
{
  GTreeNode *first = g_tree_node_first (self->held);
  QuipuMessage *msg;

  if (first == NULL || quipu_message_get_seq (g_tree_node_key (first)) > self->contiguous)
    return NULL;
  msg = g_tree_node_key (first);
  g_tree_steal (self->held, msg);
  return msg;
}
