#define G_LOG_DOMAIN "quipu-outbox"

#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>

#include "quipu-message-private.h"
#include "quipu-outbox.h"
#include "quipu-timer.h"

/* File contents: a serialised GVariant, its layout version first. Each
 * entry is room ("" for a direct message), recipients, body, timestamp and
 * client message id: what the signature covers, so the message is signed
 * the same way again when sent (Ed25519 is deterministic). */
#define FILE_VERSION  1
#define FILE_TYPE     "(ua(sassxt))"
#define MAX_FILE_SIZE (64 * 1024 * 1024)

struct _QuipuOutbox {
  GMainContext *context;
  char         *path;
  GQueue        queue;        /* QuipuMessage *, oldest first */
  /* The first message not on the wire of the current connection; those
   * before it were sent on it. NULL: every message was sent. */
  GList        *unsent;
  guint         n_sent;       /* how many are before it */
  GSource      *save_idle;
  gboolean      dirty;        /* the file does not hold the queue */
  gboolean      saving;       /* a write is on its way */
  gboolean      restoring;    /* the file is being read: do not overwrite it */
  gboolean      closed;
};

static void schedule_save (QuipuOutbox *self);

QuipuOutbox *
quipu_outbox_new (GMainContext *context)
{
  QuipuOutbox *self = g_rc_box_new0 (QuipuOutbox);

  self->context = g_main_context_ref (context);
  g_queue_init (&self->queue);
  return self;
}

QuipuOutbox *
quipu_outbox_ref (QuipuOutbox *self)
{
  return g_rc_box_acquire (self);
}

static void
outbox_clear (gpointer data)
{
  QuipuOutbox *self = data;

  g_queue_clear_full (&self->queue, g_object_unref);
  g_main_context_unref (self->context);
  g_free (self->path);
}

void
quipu_outbox_unref (QuipuOutbox *self)
{
  g_rc_box_release_full (self, outbox_clear);
}

static GBytes *
serialize (QuipuOutbox *self)
{
  g_autoptr(GVariant) variant = NULL;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sassxt)"));
  for (GList *l = self->queue.head; l != NULL; l = l->next)
    {
      QuipuMessage *msg = l->data;
      const char * const *recipients = quipu_message_get_recipients (msg);
      const char * const none[] = { NULL };
      const char *room = quipu_message_get_room (msg);

      g_variant_builder_add (&builder, "(s^assxt)",
                             room ? room : "",
                             recipients ? recipients : none,
                             quipu_message_get_body (msg),
                             quipu_message_get_timestamp (msg),
                             quipu_message_get_client_msg_id (msg));
    }
  variant = g_variant_ref_sink (g_variant_new (FILE_TYPE, FILE_VERSION, &builder));
  return g_variant_get_data_as_bytes (variant);
}

static gboolean
ensure_directory (const char  *path,
                  GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) == 0)
    return TRUE;
  {
    int saved = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot create %s: %s", dir, g_strerror (saved));
  }
  return FALSE;
}

void
quipu_outbox_close (QuipuOutbox *self)
{
  g_autoptr(GError) error = NULL;

  if (self->save_idle != NULL)
    g_source_destroy (self->save_idle);
  g_clear_pointer (&self->save_idle, g_source_unref);
  self->closed = TRUE;
  /* A save still on its way is dropped when it ends (saved_cb): what it
   * held is written now, with whatever changed since. */
  if ((!self->dirty && !self->saving) || self->path == NULL || self->restoring)
    return;

  {
    g_autoptr(GBytes) bytes = serialize (self);

    /* g_file_set_contents_full keeps the mode of a file it replaces on
     * newer GLib; chmod makes it 0600 whatever was there. */
    if (!ensure_directory (self->path, &error) ||
        !g_file_set_contents_full (self->path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error) ||
        g_chmod (self->path, 0600) != 0)
      g_warning ("cannot save unsent messages to %s: %s", self->path,
                 error ? error->message : g_strerror (errno));
  }
  self->dirty = FALSE;
}

void
quipu_outbox_set_path (QuipuOutbox *self,
                       const char  *path)
{
  if (g_strcmp0 (self->path, path) == 0)
    return;
  /* Nothing is written until the file was read (quipu_outbox_restore_async). */
  g_free (self->path);
  self->path = g_strdup (path);
}

const char *
quipu_outbox_get_path (QuipuOutbox *self)
{
  return self->path;
}

static void
saved_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(QuipuOutbox) self = user_data;
  g_autoptr(GError) error = NULL;

  g_autofree char *written = g_file_get_path (G_FILE (object));

  self->saving = FALSE;
  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    g_warning ("cannot save unsent messages: %s", error->message);
  /* Closed meanwhile: the file was written at the close, and this older
   * copy must not replace it. Only this thread ever renames onto the path,
   * so the newest state always lands last. */
  else if (self->closed)
    g_unlink (written);
  else if (g_rename (written, self->path) != 0)
    g_warning ("cannot save unsent messages to %s: %s", self->path, g_strerror (errno));
  /* Changed while it was being written: write again. */
  if (self->dirty)
    schedule_save (self);
}

static gboolean
save_cb (gpointer user_data)
{
  QuipuOutbox *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *saving_path = NULL;

  g_clear_pointer (&self->save_idle, g_source_unref);
  if (self->restoring || self->closed)
    return G_SOURCE_REMOVE;
  if (!ensure_directory (self->path, &error))
    {
      g_warning ("cannot save unsent messages: %s", error->message);
      return G_SOURCE_REMOVE;
    }
  bytes = serialize (self);
  /* Written beside it in a worker thread, renamed over it here (saved_cb). */
  saving_path = g_strconcat (self->path, ".saving", NULL);
  file = g_file_new_for_path (saving_path);
  self->dirty = FALSE;
  self->saving = TRUE;
  g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE,
                                       G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                       NULL, saved_cb, quipu_outbox_ref (self));
  return G_SOURCE_REMOVE;
}

/* Coalesces the changes of one main-loop pass into one write. */
static void
schedule_save (QuipuOutbox *self)
{
  self->dirty = TRUE;
  if (self->path == NULL || self->closed || self->restoring || self->saving || self->save_idle != NULL)
    return;
  self->save_idle = quipu_idle_source_attach (self->context, "[quipu] save outbox", save_cb, self);
}

void
quipu_outbox_push (QuipuOutbox  *self,
                   QuipuMessage *msg)
{
  g_queue_push_tail (&self->queue, g_object_ref (msg));
  if (self->unsent == NULL)
    self->unsent = self->queue.tail;
  schedule_save (self);
}

QuipuMessage *
quipu_outbox_take (QuipuOutbox *self,
                   guint64      client_msg_id)
{
  gboolean sent = TRUE;

  for (GList *l = self->queue.head; l != NULL; l = l->next)
    {
      QuipuMessage *msg = l->data;

      if (l == self->unsent)
        sent = FALSE;
      if (quipu_message_get_client_msg_id (msg) == client_msg_id)
        {
          if (self->unsent == l)
            self->unsent = l->next;
          else if (sent)
            self->n_sent--;
          g_queue_delete_link (&self->queue, l);
          schedule_save (self);
          return msg;
        }
    }
  return NULL;
}

guint
quipu_outbox_get_length (QuipuOutbox *self)
{
  return self->queue.length;
}

GList *
quipu_outbox_peek (QuipuOutbox *self)
{
  return self->queue.head;
}

QuipuMessage *
quipu_outbox_next_unsent (QuipuOutbox *self)
{
  return self->unsent != NULL ? self->unsent->data : NULL;
}

void
quipu_outbox_mark_sent (QuipuOutbox *self)
{
  g_return_if_fail (self->unsent != NULL);

  self->unsent = self->unsent->next;
  self->n_sent++;
}

guint
quipu_outbox_get_n_sent (QuipuOutbox *self)
{
  return self->n_sent;
}

void
quipu_outbox_rewind (QuipuOutbox *self)
{
  self->unsent = self->queue.head;
  self->n_sent = 0;
}

gboolean
quipu_outbox_rewind_to (QuipuOutbox *self,
                        guint64      client_msg_id)
{
  gboolean sent = TRUE;
  guint before = 0;

  /* Acknowledgements come mostly in order, so the message looked for is
   * near the head: this walks the few in flight, not the whole queue. */
  for (GList *l = self->queue.head; l != NULL; l = l->next, before++)
    {
      if (l == self->unsent)
        sent = FALSE;
      if (quipu_message_get_client_msg_id (l->data) == client_msg_id)
        {
          if (!sent)
            return FALSE;
          self->unsent = l;
          self->n_sent = before;
          return TRUE;
        }
    }
  return FALSE;
}

/* Restoring. */

typedef struct {
  QuipuOutbox *outbox;
  char        *sender;
  char        *sender_id;
} RestoreData;

static void
restore_data_free (gpointer data)
{
  RestoreData *rd = data;

  quipu_outbox_unref (rd->outbox);
  g_free (rd->sender);
  g_free (rd->sender_id);
  g_free (rd);
}

static gboolean
contains (QuipuOutbox *self,
          guint64      client_msg_id)
{
  for (GList *l = self->queue.head; l != NULL; l = l->next)
    if (quipu_message_get_client_msg_id (l->data) == client_msg_id)
      return TRUE;
  return FALSE;
}

static GPtrArray *
parse (QuipuOutbox  *self,
       GBytes       *contents,
       RestoreData  *rd,
       GError      **error)
{
  g_autoptr(GVariant) variant = NULL;
  g_autoptr(GVariantIter) entries = NULL;
  g_autoptr(GPtrArray) restored = g_ptr_array_new_with_free_func (g_object_unref);
  const char *room, *body;
  const char **recipients = NULL;
  gint64 timestamp;
  guint64 id;
  guint32 version;

  variant = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (FILE_TYPE), contents, FALSE));
  if (!g_variant_is_normal_form (variant))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is damaged", self->path);
      return NULL;
    }
  g_variant_get (variant, FILE_TYPE, &version, &entries);
  if (version != FILE_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s has layout version %u, not %u", self->path, version, FILE_VERSION);
      return NULL;
    }
  while (g_variant_iter_next (entries, "(&s^a&s&sxt)", &room, &recipients, &body, &timestamp, &id))
    {
      g_autofree const char **owned = g_steal_pointer (&recipients);

      if (contains (self, id))
        continue;
      g_ptr_array_add (restored,
                       quipu_message_new_outgoing (rd->sender, rd->sender_id, room[0] ? room : NULL,
                                                   room[0] ? NULL : owned, body, timestamp, id));
    }
  return g_steal_pointer (&restored);
}

static void
loaded_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RestoreData *rd = g_task_get_task_data (task);
  QuipuOutbox *self = rd->outbox;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) restored = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  self->restoring = FALSE;
  if (!g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      restored = g_ptr_array_new_with_free_func (g_object_unref);
    }
  else if (length > MAX_FILE_SIZE)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "%s is too large", self->path);
      return;
    }
  else
    {
      g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&contents), length);

      restored = parse (self, bytes, rd, &error);
      if (restored == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }

  /* The restored ones were written first. */
  for (guint i = restored->len; i > 0; i--)
    g_queue_push_head (&self->queue, g_object_ref (g_ptr_array_index (restored, i - 1)));
  /* None of them is on the wire: send again from the first (the server
   * drops the copies of those already stored). */
  if (restored->len > 0)
    quipu_outbox_rewind (self);
  if (self->dirty)
    schedule_save (self);
  g_task_return_pointer (task, g_steal_pointer (&restored), (GDestroyNotify) g_ptr_array_unref);
}

void
quipu_outbox_restore_async (QuipuOutbox         *self,
                            const char          *sender,
                            const char          *sender_id,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GFile) file = NULL;
  RestoreData *rd;

  g_return_if_fail (self->path != NULL);
  g_return_if_fail (!self->restoring);

  /* A task's source object must be a GObject: the outbox rides in its data. */
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_outbox_restore_async);
  rd = g_new0 (RestoreData, 1);
  rd->outbox = quipu_outbox_ref (self);
  rd->sender = g_strdup (sender);
  rd->sender_id = g_strdup (sender_id);
  g_task_set_task_data (task, rd, restore_data_free);

  self->restoring = TRUE;
  file = g_file_new_for_path (self->path);
  g_file_load_contents_async (file, cancellable, loaded_cb, g_steal_pointer (&task));
}

GPtrArray *
quipu_outbox_restore_finish (QuipuOutbox   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
