#define G_LOG_DOMAIN "quipu-conversation"

#include "config.h"

#include <string.h>

#include "quipu-conversation-items.h"

void
quipu_conversation_items_init (QuipuConversationItems *self,
                               GListModel             *model)
{
  self->model = model;
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->n_stored = 0;
  self->page = g_ptr_array_new_with_free_func (g_object_unref);
}

void
quipu_conversation_items_clear (QuipuConversationItems *self)
{
  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->page, g_ptr_array_unref);
  self->n_stored = 0;
}

guint
quipu_conversation_items_get_n_items (QuipuConversationItems *self)
{
  return self->items->len;
}

QuipuMessage *
quipu_conversation_items_get (QuipuConversationItems *self,
                              guint                   position)
{
  if (position >= self->items->len)
    return NULL;
  return g_ptr_array_index (self->items, position);
}

static guint64
seq_at (QuipuConversationItems *self,
        guint                   index)
{
  return quipu_message_get_seq (g_ptr_array_index (self->items, index));
}

/* Where `seq` goes among the stored messages; *found if it is there. */
static guint
stored_position (QuipuConversationItems *self,
                 guint64                 seq,
                 gboolean               *found)
{
  guint lo = 0, hi = self->n_stored;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (seq_at (self, mid) < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = lo < self->n_stored && seq_at (self, lo) == seq;
  return lo;
}

gboolean
quipu_conversation_items_insert_stored (QuipuConversationItems *self,
                                        QuipuMessage           *msg)
{
  gboolean found;
  guint pos = stored_position (self, quipu_message_get_seq (msg), &found);

  if (found)
    return FALSE;
  g_ptr_array_insert (self->items, pos, g_object_ref (msg));
  self->n_stored++;
  g_list_model_items_changed (self->model, pos, 0, 1);
  return TRUE;
}

void
quipu_conversation_items_hold (QuipuConversationItems *self,
                               QuipuMessage           *msg)
{
  g_ptr_array_add (self->page, g_object_ref (msg));
}

void
quipu_conversation_items_add_pending (QuipuConversationItems *self,
                                      QuipuMessage           *msg)
{
  g_ptr_array_add (self->items, g_object_ref (msg));
  g_list_model_items_changed (self->model, self->items->len - 1, 0, 1);
}

gboolean
quipu_conversation_items_message_stored (QuipuConversationItems *self,
                                         QuipuMessage           *msg)
{
  guint index = self->n_stored;
  gboolean found;
  guint pos;

  while (index < self->items->len && g_ptr_array_index (self->items, index) != msg)
    index++;
  if (index == self->items->len)
    {
      /* Written before this conversation existed (a restored outbox). */
      return quipu_conversation_items_insert_stored (self, msg);
    }

  pos = stored_position (self, quipu_message_get_seq (msg), &found);
  if (found)
    {
      /* Shown already, from another of our sessions: keep one copy. */
      g_ptr_array_remove_index (self->items, index);
      g_list_model_items_changed (self->model, index, 1, 0);
    }
  else if (pos == index)
    self->n_stored++;   /* next in order: it stays where it is */
  else
    {
      /* Others' messages were stored before it meanwhile: move it up to
       * where its sequence puts it, as one change. */
      gpointer moved = g_ptr_array_steal_index (self->items, index);

      g_ptr_array_insert (self->items, pos, moved);
      self->n_stored++;
      g_list_model_items_changed (self->model, pos, index - pos + 1, index - pos + 1);
    }
  return FALSE;
}

static int
compare_by_seq (gconstpointer a,
                gconstpointer b)
{
  guint64 x = quipu_message_get_seq (*(QuipuMessage * const *) a);
  guint64 y = quipu_message_get_seq (*(QuipuMessage * const *) b);

  return x < y ? -1 : x > y;
}

/* One items-changed when the page fits in one place, as a page of older
 * messages does. */
QuipuMessage *
quipu_conversation_items_flush_page (QuipuConversationItems *self)
{
  g_autoptr(GPtrArray) page = g_steal_pointer (&self->page);
  g_autoptr(GPtrArray) fresh = g_ptr_array_new ();
  gboolean found;
  guint first, last;

  self->page = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_sort (page, compare_by_seq);
  for (guint i = 0; i < page->len; i++)
    {
      QuipuMessage *msg = g_ptr_array_index (page, i);
      guint64 seq = quipu_message_get_seq (msg);

      if (i > 0 && seq == quipu_message_get_seq (g_ptr_array_index (page, i - 1)))
        continue;
      stored_position (self, seq, &found);
      if (!found)
        g_ptr_array_add (fresh, msg);
    }
  if (fresh->len == 0)
    return NULL;

  first = stored_position (self, quipu_message_get_seq (g_ptr_array_index (fresh, 0)), &found);
  last = stored_position (self, quipu_message_get_seq (g_ptr_array_index (fresh, fresh->len - 1)), &found);
  if (first == last)
    {
      guint len = self->items->len;

      g_ptr_array_set_size (self->items, len + fresh->len);
      memmove (self->items->pdata + first + fresh->len, self->items->pdata + first,
               (len - first) * sizeof (gpointer));
      for (guint i = 0; i < fresh->len; i++)
        self->items->pdata[first + i] = g_object_ref (g_ptr_array_index (fresh, i));
      self->n_stored += fresh->len;
      g_list_model_items_changed (self->model, first, 0, fresh->len);
    }
  else
    {
      for (guint i = 0; i < fresh->len; i++)
        quipu_conversation_items_insert_stored (self, g_ptr_array_index (fresh, i));
    }
  return g_ptr_array_index (fresh, fresh->len - 1);
}
