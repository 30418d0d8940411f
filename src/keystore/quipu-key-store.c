#define G_LOG_DOMAIN "quipu-key-store"

#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "quipu-key-store-private.h"

/* Picks where an identity lives (an explicit file, else the keyring if a
 * Secret Service is there, else the default file) and runs one operation
 * there, as a GTask that never blocks on D-Bus. The synchronous API runs
 * the same tasks on a private main context. */

G_DEFINE_QUARK (quipu-key-store-error-quark, quipu_key_store_error)

typedef enum {
  OP_LOOKUP,
  OP_LOAD_OR_CREATE,
  OP_STORE,
  OP_DELETE,
} Op;

typedef enum {
  WHERE_ANY,
  WHERE_KEYRING,
  WHERE_FILE,
} Where;

typedef struct {
  Op             op;
  char          *username;
  char          *file;       /* the key file, once one is used */
  QuipuIdentity *identity;   /* the one to store, or the one made */
  gboolean       created;
} Request;

static void
request_free (Request *request)
{
  g_free (request->username);
  g_free (request->file);
  g_clear_object (&request->identity);
  g_free (request);
}

static gboolean
same_identity (QuipuIdentity *a,
               QuipuIdentity *b)
{
  return memcmp (quipu_identity_get_public_key (a), quipu_identity_get_public_key (b),
                 QUIPU_KEY_SIZE) == 0;
}

static void
return_exists (GTask         *task,
               QuipuIdentity *stored)
{
  Request *request = g_task_get_task_data (task);

  if (request->file != NULL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                             "%s already has another identity (user id %s) in %s; it was left alone",
                             request->username, quipu_identity_get_user_id (stored), request->file);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                             "%s already has another identity (user id %s) in the keyring; "
                             "it was left alone",
                             request->username, quipu_identity_get_user_id (stored));
}

/* Key file: small enough to read or write in one main-loop step. */

static gboolean
store_file (GTask   *task,
            GError **error)
{
  Request *request = g_task_get_task_data (task);
  g_autoptr(QuipuIdentity) stored = NULL;
  g_autoptr(GError) local_error = NULL;

  stored = quipu_key_store_load_file (request->file, FALSE, NULL, &local_error);
  if (stored == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_clear_error (&local_error);
      if (quipu_key_file_store (request->file, request->identity, &local_error))
        return TRUE;
      /* Created by someone else meanwhile: compare with that one. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        {
          g_clear_error (&local_error);
          stored = quipu_key_store_load_file (request->file, FALSE, NULL, &local_error);
        }
    }
  if (stored == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!same_identity (stored, request->identity))
    {
      return_exists (task, stored);
      return FALSE;
    }

  return TRUE;
}

static gboolean
delete_file (Request  *request,
             GError  **error)
{
  int saved_errno;

  if (g_unlink (request->file) == 0)
    return TRUE;

  saved_errno = errno;
  if (saved_errno == ENOENT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "identity file %s does not exist", request->file);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                 "cannot delete identity file %s: %s", request->file, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
run_on_file (gpointer user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(QuipuIdentity) identity = NULL;
  GError *error = NULL;

  if (g_task_return_error_if_cancelled (task))
    return G_SOURCE_REMOVE;

  switch (request->op)
    {
    case OP_LOOKUP:
    case OP_LOAD_OR_CREATE:
      identity = quipu_key_store_load_file (request->file, request->op == OP_LOAD_OR_CREATE,
                                            &request->created, &error);
      if (identity == NULL)
        g_task_return_error (task, error);
      else
        g_task_return_pointer (task, g_steal_pointer (&identity), g_object_unref);
      break;
    case OP_STORE:
      if (store_file (task, &error))
        g_task_return_boolean (task, TRUE);
      else if (error != NULL)
        g_task_return_error (task, error);
      break;
    case OP_DELETE:
      if (delete_file (request, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      break;
    default:
      g_assert_not_reached ();
    }

  return G_SOURCE_REMOVE;
}

static void
start_on_file (GTask *task)
{
  g_autoptr(GSource) idle = g_idle_source_new ();

  g_task_attach_source (task, idle, run_on_file);
}

/* Keyring */

static void
secret_stored_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  GError *error = NULL;

  if (!quipu_key_secret_store_finish (result, &error))
    g_task_return_error (task, error);
  else if (request->op == OP_STORE)
    g_task_return_boolean (task, TRUE);
  else
    {
      request->created = TRUE;
      g_task_return_pointer (task, g_object_ref (request->identity), g_object_unref);
    }
}

static void
secret_looked_up_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Request *request = g_task_get_task_data (task);
  g_autoptr(QuipuIdentity) identity = NULL;
  GError *error = NULL;

  identity = quipu_key_secret_lookup_finish (result, &error);
  if (identity != NULL && request->op == OP_STORE)
    {
      if (same_identity (identity, request->identity))
        g_task_return_boolean (task, TRUE);
      else
        return_exists (task, identity);
      return;
    }
  if (identity != NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&identity), g_object_unref);
      return;
    }
  if (request->op == OP_LOOKUP || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_task_return_error (task, error);
      return;
    }
  g_clear_error (&error);

  if (request->op == OP_LOAD_OR_CREATE)
    {
      request->identity = quipu_identity_new_random (&error);
      if (request->identity == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
    }
  quipu_key_secret_store_async (request->identity, request->username, g_task_get_cancellable (task),
                                secret_stored_cb, g_object_ref (task));
}

static void
secret_deleted_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (quipu_key_secret_delete_finish (result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
start_on_keyring (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (request->op == OP_DELETE)
    quipu_key_secret_delete_async (request->username, cancellable, secret_deleted_cb, task);
  else
    quipu_key_secret_lookup_async (request->username, cancellable, secret_looked_up_cb, task);
}

static void
availability_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean available;

  available = quipu_key_store_secret_service_available_finish (result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
    }
  else if (available)
    start_on_keyring (task);
  else
    {
      request->file = quipu_key_store_default_file (request->username);
      start_on_file (task);
      g_object_unref (task);
    }
}

static void
run_request (Op                   op,
             Where                where,
             const char          *username,
             QuipuIdentity       *identity,
             const char          *path,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data,
             gpointer             source_tag)
{
  Request *request;
  GTask *task;

  g_return_if_fail (username != NULL && *username != '\0');
  g_return_if_fail (identity == NULL || QUIPU_IS_IDENTITY (identity));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  request = g_new0 (Request, 1);
  request->op = op;
  request->username = g_strdup (username);
  request->identity = identity ? g_object_ref (identity) : NULL;
  task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  if (path != NULL)
    {
      request->file = g_strdup (path);
      start_on_file (task);
      g_object_unref (task);
    }
  else if (where == WHERE_KEYRING)
    start_on_keyring (task);
  else
    quipu_key_store_secret_service_available_async (cancellable, availability_cb, task);
}

static gboolean
check_result (GAsyncResult *result,
              gpointer      source_tag)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return TRUE;
}

static void
get_file (GAsyncResult  *result,
          char         **file)
{
  Request *request = g_task_get_task_data (G_TASK (result));

  if (file != NULL)
    *file = g_strdup (request->file);
}

void
quipu_key_store_load_or_create_async (const char          *username,
                                      const char          *path,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  run_request (OP_LOAD_OR_CREATE, WHERE_ANY, username, NULL, path, cancellable, callback, user_data,
               quipu_key_store_load_or_create_async);
}

QuipuIdentity *
quipu_key_store_load_or_create_finish (GAsyncResult  *result,
                                       gboolean      *created,
                                       char         **file,
                                       GError       **error)
{
  Request *request;
  QuipuIdentity *identity;

  g_return_val_if_fail (check_result (result, quipu_key_store_load_or_create_async), NULL);

  request = g_task_get_task_data (G_TASK (result));
  identity = g_task_propagate_pointer (G_TASK (result), error);
  if (created != NULL)
    *created = identity != NULL && request->created;
  get_file (result, file);
  return identity;
}

void
quipu_key_store_lookup_async (const char          *username,
                              const char          *path,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  run_request (OP_LOOKUP, WHERE_ANY, username, NULL, path, cancellable, callback, user_data,
               quipu_key_store_lookup_async);
}

QuipuIdentity *
quipu_key_store_lookup_finish (GAsyncResult  *result,
                               char         **file,
                               GError       **error)
{
  g_return_val_if_fail (check_result (result, quipu_key_store_lookup_async), NULL);

  get_file (result, file);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
quipu_key_store_store_async (QuipuIdentity       *identity,
                             const char          *username,
                             const char          *path,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (QUIPU_IS_IDENTITY (identity));

  run_request (OP_STORE, WHERE_ANY, username, identity, path, cancellable, callback, user_data,
               quipu_key_store_store_async);
}

gboolean
quipu_key_store_store_finish (GAsyncResult  *result,
                              char         **file,
                              GError       **error)
{
  g_return_val_if_fail (check_result (result, quipu_key_store_store_async), FALSE);

  get_file (result, file);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
quipu_key_store_delete_async (const char          *username,
                              const char          *path,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  run_request (OP_DELETE, WHERE_ANY, username, NULL, path, cancellable, callback, user_data,
               quipu_key_store_delete_async);
}

gboolean
quipu_key_store_delete_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (check_result (result, quipu_key_store_delete_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Synchronous API: the same tasks, run to completion on a private main
 * context so that nothing else of the caller's is dispatched meanwhile. */

typedef struct {
  GMainContext *context;
  GAsyncResult *result;
} SyncCall;

static void
sync_call_begin (SyncCall *call)
{
  call->context = g_main_context_new ();
  call->result = NULL;
  g_main_context_push_thread_default (call->context);
}

static void
sync_call_done (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  SyncCall *call = user_data;

  call->result = g_object_ref (result);
}

static GAsyncResult *
sync_call_wait (SyncCall *call)
{
  while (call->result == NULL)
    g_main_context_iteration (call->context, TRUE);
  return call->result;
}

static void
sync_call_end (SyncCall *call)
{
  /* What libsecret released on the way (D-Bus signal subscriptions of its
   * item proxies) is freed from idles on this context: run them. */
  g_clear_object (&call->result);
  while (g_main_context_iteration (call->context, FALSE))
    ;
  g_main_context_pop_thread_default (call->context);
  g_clear_object (&call->result);
  g_main_context_unref (call->context);
}

gboolean
quipu_key_store_secret_service_available (void)
{
  SyncCall call;
  gboolean available;

  sync_call_begin (&call);
  quipu_key_store_secret_service_available_async (NULL, sync_call_done, &call);
  available = quipu_key_store_secret_service_available_finish (sync_call_wait (&call), NULL);
  sync_call_end (&call);

  return available;
}

QuipuIdentity *
quipu_key_store_load_secret (const char  *username,
                             gboolean     create,
                             gboolean    *created,
                             GError     **error)
{
  Op op = create ? OP_LOAD_OR_CREATE : OP_LOOKUP;
  QuipuIdentity *identity;
  GAsyncResult *result;
  SyncCall call;

  g_return_val_if_fail (username != NULL && *username != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sync_call_begin (&call);
  run_request (op, WHERE_KEYRING, username, NULL, NULL, NULL, sync_call_done, &call,
               quipu_key_store_load_secret);
  result = sync_call_wait (&call);
  identity = g_task_propagate_pointer (G_TASK (result), error);
  if (created != NULL)
    *created = identity != NULL && ((Request *) g_task_get_task_data (G_TASK (result)))->created;
  sync_call_end (&call);

  return identity;
}
