#define G_LOG_DOMAIN "quipu-conversation"

#include "config.h"

#include <string.h>

#include "quipu-conversation.h"
#include "quipu-names.h"

/* The one rule for conversation keys (quipu-conversation.h): the client,
 * its sequencer, the conversation list and messages all key by it. */

char *
quipu_conversation_key_for_room (const char *room)
{
  g_autofree char *fold = NULL;

  g_return_val_if_fail (room != NULL, NULL);

  fold = quipu_name_fold (room);
  return g_strconcat ("#", fold, NULL);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

char *
quipu_conversation_key_for_direct (const char * const *people,
                                   const char         *self_name)
{
  g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *self_fold = self_name ? quipu_name_fold (self_name) : NULL;
  g_autoptr(GString) key = g_string_new ("@");

  for (guint i = 0; people != NULL && people[i] != NULL; i++)
    {
      char *fold = quipu_name_fold (people[i]);

      if (g_strcmp0 (fold, self_fold) == 0)
        g_free (fold);
      else
        g_ptr_array_add (others, fold);
    }
  if (others->len == 0 && self_fold != NULL)
    g_ptr_array_add (others, g_steal_pointer (&self_fold));

  g_ptr_array_sort (others, compare_strings);
  for (guint i = 0; i < others->len; i++)
    {
      const char *name = g_ptr_array_index (others, i);

      if (i > 0 && strcmp (name, g_ptr_array_index (others, i - 1)) == 0)
        continue;
      if (key->len > 1)
        g_string_append_c (key, ',');
      g_string_append (key, name);
    }
  return g_string_free (g_steal_pointer (&key), FALSE);
}
