/* quipu-drafts.c: per-conversation drafts that survive a restart */
#define G_LOG_DOMAIN "quipu-drafts"

#include "config.h"

#include "quipu-drafts.h"

#define SAVE_DELAY_MS 500

struct _QuipuDrafts
{
  GObject   parent_instance;

  char     *account;
  GFile    *file;
  GKeyFile *keyfile;
  guint     save_id;
  gboolean  loaded;
};

G_DEFINE_FINAL_TYPE (QuipuDrafts, quipu_drafts, G_TYPE_OBJECT)

enum {
  LOADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
on_saved (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    g_warning ("Could not save drafts: %s", error->message);
}

static void
save_now (QuipuDrafts *self,
          gboolean     async)
{
  g_autoptr(GFile) parent = g_file_get_parent (self->file);
  g_autoptr(GError) error = NULL;
  gsize length = 0;
  char *data = g_key_file_to_data (self->keyfile, &length, NULL);

  g_clear_handle_id (&self->save_id, g_source_remove);
  /* The state dir usually exists; an error here shows up in the write. */
  g_file_make_directory_with_parents (parent, NULL, NULL);

  if (async)
    {
      g_autoptr(GBytes) bytes = g_bytes_new_take (data, length);

      g_file_replace_contents_bytes_async (self->file, bytes, NULL, FALSE,
                                           G_FILE_CREATE_PRIVATE, NULL, on_saved, NULL);
    }
  else
    {
      if (!g_file_replace_contents (self->file, data, length, NULL, FALSE,
                                    G_FILE_CREATE_PRIVATE, NULL, NULL, &error))
        g_warning ("Could not save drafts: %s", error->message);
      g_free (data);
    }
}

static gboolean
on_save_timeout (gpointer user_data)
{
  QuipuDrafts *self = user_data;

  self->save_id = 0;
  save_now (self, TRUE);
  return G_SOURCE_REMOVE;
}

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(QuipuDrafts) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error))
    {
      g_autoptr(GKeyFile) loaded = g_key_file_new ();
      g_auto(GStrv) keys = NULL;

      if (g_key_file_load_from_data (loaded, contents, length, G_KEY_FILE_KEEP_COMMENTS, &error))
        {
          /* Edits made before the file was read win over the stored ones. */
          keys = g_key_file_get_keys (self->keyfile, self->account, NULL, NULL);
          for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
            {
              g_autofree char *value = g_key_file_get_string (self->keyfile, self->account, keys[i], NULL);
              g_key_file_set_string (loaded, self->account, keys[i], value);
            }
          g_key_file_unref (self->keyfile);
          self->keyfile = g_steal_pointer (&loaded);
        }
      else
        g_warning ("Ignoring unreadable drafts file: %s", error->message);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_warning ("Could not read drafts: %s", error->message);

  self->loaded = TRUE;
  g_signal_emit (self, signals[LOADED], 0);
}

/* "#room" would start a comment line in the key file: keys get a prefix. */
static char *
key_for (const char *conversation)
{
  return g_strconcat ("draft ", conversation, NULL);
}

char *
quipu_drafts_dup (QuipuDrafts *self,
                  const char  *conversation)
{
  g_autofree char *value = NULL;
  g_autofree char *key = NULL;

  g_return_val_if_fail (QUIPU_IS_DRAFTS (self), NULL);
  g_return_val_if_fail (conversation != NULL, NULL);

  key = key_for (conversation);
  value = g_key_file_get_string (self->keyfile, self->account, key, NULL);
  if (value == NULL || *value == '\0')
    return NULL;
  return g_steal_pointer (&value);
}

void
quipu_drafts_set (QuipuDrafts *self,
                  const char  *conversation,
                  const char  *text)
{
  g_autofree char *key = NULL;

  g_return_if_fail (QUIPU_IS_DRAFTS (self));
  g_return_if_fail (conversation != NULL);

  key = key_for (conversation);
  if (text == NULL || *text == '\0')
    {
      if (!g_key_file_remove_key (self->keyfile, self->account, key, NULL))
        return;
    }
  else
    {
      g_autofree char *old = g_key_file_get_string (self->keyfile, self->account, key, NULL);

      if (g_strcmp0 (old, text) == 0)
        return;
      g_key_file_set_string (self->keyfile, self->account, key, text);
    }

  g_clear_handle_id (&self->save_id, g_source_remove);
  self->save_id = g_timeout_add (SAVE_DELAY_MS, on_save_timeout, self);
}

gboolean
quipu_drafts_is_loaded (QuipuDrafts *self)
{
  g_return_val_if_fail (QUIPU_IS_DRAFTS (self), FALSE);

  return self->loaded;
}

void
quipu_drafts_flush (QuipuDrafts *self)
{
  g_return_if_fail (QUIPU_IS_DRAFTS (self));

  if (self->save_id != 0)
    save_now (self, FALSE);
}

static void
quipu_drafts_finalize (GObject *object)
{
  QuipuDrafts *self = QUIPU_DRAFTS (object);

  quipu_drafts_flush (self);
  g_free (self->account);
  g_clear_object (&self->file);
  g_key_file_unref (self->keyfile);

  G_OBJECT_CLASS (quipu_drafts_parent_class)->finalize (object);
}

static void
quipu_drafts_class_init (QuipuDraftsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = quipu_drafts_finalize;

  signals[LOADED] = g_signal_new ("loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
quipu_drafts_init (QuipuDrafts *self)
{
  self->keyfile = g_key_file_new ();
}

QuipuDrafts *
quipu_drafts_new (const char *account)
{
  QuipuDrafts *self;
  g_autofree char *path = NULL;

  g_return_val_if_fail (account != NULL, NULL);

  self = g_object_new (QUIPU_TYPE_DRAFTS, NULL);
  self->account = g_strdup (account);
  path = g_build_filename (g_get_user_state_dir (), "quipu", "drafts.ini", NULL);
  self->file = g_file_new_for_path (path);
  g_file_load_contents_async (self->file, NULL, on_loaded, g_object_ref (self));
  return self;
}
