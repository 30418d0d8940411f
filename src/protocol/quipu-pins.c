#define G_LOG_DOMAIN "quipu-pins"

#include "config.h"

#include <string.h>

#include "quipu-known-users.h"
#include "quipu-pins.h"
#include "quipu-timer.h"

struct _QuipuPins {
  GMainContext *context;
  char         *path;         /* as set; NULL: default_path */
  char         *default_path;
  char         *server;       /* the server `table` was loaded for */
  GHashTable   *table;        /* name -> QuipuPin */
  GString      *unwritten;    /* known-users lines not yet on disk */
  GSource      *idle;
};

static void
pin_free (gpointer data)
{
  QuipuPin *pin = data;

  g_free (pin->user_id);
  g_free (pin);
}

QuipuPins *
quipu_pins_new (GMainContext *context)
{
  QuipuPins *self = g_new0 (QuipuPins, 1);

  self->context = g_main_context_ref (context);
  self->table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pin_free);
  self->unwritten = g_string_new (NULL);
  return self;
}

void
quipu_pins_free (QuipuPins *self)
{
  quipu_pins_flush (self);
  g_main_context_unref (self->context);
  g_free (self->path);
  g_free (self->default_path);
  g_free (self->server);
  g_hash_table_unref (self->table);
  g_string_free (self->unwritten, TRUE);
  g_free (self);
}

static const char *
get_path (QuipuPins *self)
{
  if (self->path == NULL && self->default_path == NULL)
    self->default_path = quipu_known_users_default_path ();
  return self->path ? self->path : self->default_path;
}

const char *
quipu_pins_get_path (QuipuPins *self)
{
  return self->path;
}

void
quipu_pins_set_path (QuipuPins  *self,
                     const char *path)
{
  /* What was seen so far belongs in the old file. */
  quipu_pins_flush (self);
  g_free (self->path);
  self->path = g_strdup (path);
  g_clear_pointer (&self->server, g_free);
}

static QuipuPin *
insert (QuipuPins    *self,
        const char   *name,
        const guint8 *key)
{
  QuipuPin *pin = g_new0 (QuipuPin, 1);

  memcpy (pin->key, key, QUIPU_KEY_SIZE);
  pin->user_id = quipu_user_id_from_key (key);
  g_hash_table_insert (self->table, g_strdup (name), pin);
  return pin;
}

/* Pins outlive the process: a key a server swaps between two runs shows up
 * as changed, not as a first sight. */
void
quipu_pins_load (QuipuPins  *self,
                 const char *server)
{
  g_autoptr(GHashTable) stored = NULL;
  GHashTableIter iter;
  const char *name;
  GBytes *key;

  if (g_strcmp0 (self->server, server) == 0)
    return;
  quipu_pins_flush (self);
  g_free (self->server);
  self->server = g_strdup (server);
  g_hash_table_remove_all (self->table);

  stored = quipu_known_users_load (get_path (self), server);
  g_hash_table_iter_init (&iter, stored);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &key))
    insert (self, name, g_bytes_get_data (key, NULL));
}

static gboolean
write_cb (gpointer user_data)
{
  QuipuPins *self = user_data;

  g_clear_pointer (&self->idle, g_source_unref);
  quipu_pins_flush (self);
  return G_SOURCE_REMOVE;
}

const QuipuPin *
quipu_pins_lookup_or_add (QuipuPins    *self,
                          const char   *name,
                          const guint8  key[QUIPU_KEY_SIZE],
                          gboolean     *changed)
{
  QuipuPin *pin = g_hash_table_lookup (self->table, name);

  *changed = FALSE;
  if (pin != NULL)
    {
      *changed = memcmp (pin->key, key, QUIPU_KEY_SIZE) != 0;
      return pin;
    }

  /* A first sight costs the frame handler a line in memory; one append
   * per main-loop pass writes all the lines seen in it. */
  pin = insert (self, name, key);
  {
    g_autofree char *line = quipu_known_users_format (self->server, name, key);

    g_string_append (self->unwritten, line);
  }
  if (self->idle == NULL)
    self->idle = quipu_idle_source_attach (self->context, "[quipu] write pins", write_cb, self);
  return pin;
}

void
quipu_pins_flush (QuipuPins *self)
{
  g_autoptr(GError) error = NULL;

  if (self->idle != NULL)
    {
      g_source_destroy (self->idle);
      g_clear_pointer (&self->idle, g_source_unref);
    }
  if (self->unwritten->len == 0)
    return;
  if (!quipu_known_users_append (get_path (self), self->unwritten->str, self->unwritten->len, &error))
    g_warning ("cannot remember the keys of other users: %s", error->message);
  g_string_truncate (self->unwritten, 0);
}
