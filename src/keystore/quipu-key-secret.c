#define G_LOG_DOMAIN "quipu-key-store"

#include "config.h"

#include <sys/stat.h>

#include <glib/gstdio.h>
#include <libsecret/secret.h>

#include "quipu-error.h"
#include "quipu-key-store-private.h"

/* The keyring side of the key store, all through async D-Bus calls.
 *
 * libsecret's SecretService API rather than secret_password_*(): those go
 * through a "backend" that, inside a Flatpak sandbox with the Secret portal,
 * is a file of the app's own, so the sandboxed and the native quipu-cli
 * would keep different keys for one name. The service API always talks to
 * org.freedesktop.secrets. (secret_password_lookup*() in libsecret 0.20.5
 * also leaks a D-Bus reply per item found; searching with LOAD_SECRETS does
 * not.) */

/* The app id without ".Devel": both profiles share identities. */
#define SCHEMA_NAME           "io.github.quipuchat.Quipu"
#define SECRET_SERVICE_NAME   "org.freedesktop.secrets"
#define ENCODED_SEED_LEN      ((QUIPU_SEED_SIZE + 2) / 3 * 4)
/* g_base64_encode_step() + _close() want (len / 3 + 1) * 4 + 4 bytes. */
#define ENCODED_SEED_BUFFER   ((QUIPU_SEED_SIZE / 3 + 1) * 4 + 4 + 1)

static const SecretSchema identity_schema = {
  SCHEMA_NAME, SECRET_SCHEMA_NONE,
  {
    { "username", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  },
};

/* Is there a Secret Service? */

static gboolean
session_bus_configured (void)
{
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
  g_autofree char *socket_path = NULL;
  GStatBuf st;

  if (address != NULL && *address != '\0')
    return TRUE;

  /* The only other place GDBus looks before autolaunching dbus-launch. */
  socket_path = g_build_filename (g_get_user_runtime_dir (), "bus", NULL);
  return g_stat (socket_path, &st) == 0 && S_ISSOCK (st.st_mode);
}

/* Answers from the bus daemon only, never from the Secret Service itself:
 * a service that is slow to start must not decide where the key goes. */
static void
bus_call (GTask               *task,
          GDBusConnection     *bus,
          const char          *method,
          GVariant            *parameters,
          const GVariantType  *reply_type,
          GAsyncReadyCallback  callback)
{
  g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          method, parameters, reply_type, G_DBUS_CALL_FLAGS_NONE, -1,
                          g_task_get_cancellable (task), callback, task);
}

/* Any failure of the bus daemon means "no Secret Service", except
 * cancellation. */
static gboolean
return_unless_cancelled (GTask  *task,
                         GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      return TRUE;
    }
  g_debug ("Secret Service unavailable: %s", error->message);
  g_error_free (error);
  g_task_return_boolean (task, FALSE);
  return TRUE;
}

static void
list_activatable_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autofree const char **names = NULL;
  GError *error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (reply == NULL)
    {
      return_unless_cancelled (task, error);
      return;
    }

  g_variant_get (reply, "(^a&s)", &names);
  if (!g_strv_contains (names, SECRET_SERVICE_NAME))
    g_debug ("No Secret Service on the session bus");
  g_task_return_boolean (task, g_strv_contains (names, SECRET_SERVICE_NAME));
}

static void
name_has_owner_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  gboolean owned;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (object), result, &error);
  if (reply == NULL)
    {
      return_unless_cancelled (task, error);
      g_object_unref (task);
      return;
    }

  g_variant_get (reply, "(b)", &owned);
  if (owned)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  /* Not running yet: ListNames would not show it, but it may be
   * activatable (in a sandbox it usually is). */
  bus_call (task, G_DBUS_CONNECTION (object), "ListActivatableNames", NULL, G_VARIANT_TYPE ("(as)"),
            list_activatable_cb);
}

static void
bus_get_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GDBusConnection) bus = NULL;
  GError *error = NULL;

  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      return_unless_cancelled (task, error);
      g_object_unref (task);
      return;
    }

  bus_call (task, bus, "NameHasOwner", g_variant_new ("(s)", SECRET_SERVICE_NAME),
            G_VARIANT_TYPE ("(b)"), name_has_owner_cb);
}

void
quipu_key_store_secret_service_available_async (GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_key_store_secret_service_available_async);

  if (!session_bus_configured ())
    {
      g_debug ("No session bus configured; not using the Secret Service");
      g_task_return_boolean (task, FALSE);
      return;
    }

  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_get_cb, g_steal_pointer (&task));
}

gboolean
quipu_key_store_secret_service_available_finish (GAsyncResult  *result,
                                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        quipu_key_store_secret_service_available_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Lookup */

static QuipuIdentity *
identity_from_secret (const char   *username,
                      SecretValue  *value,
                      GError      **error)
{
  guchar seed[ENCODED_SEED_LEN / 4 * 3 + 3];
  QuipuIdentity *identity = NULL;
  gsize seed_len = 0;
  const char *text;
  guint save = 0;
  int state = 0;
  gsize len;

  text = secret_value_get (value, &len);
  if (len == ENCODED_SEED_LEN)
    seed_len = g_base64_decode_step (text, len, seed, &state, &save);

  if (seed_len == QUIPU_SEED_SIZE)
    identity = quipu_identity_new_from_seed (seed, seed_len, error);
  else
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                 "the keyring item for %s does not hold a Quipu identity key", username);

  gnutls_memset (seed, 0, sizeof seed);
  return identity;
}

static void
search_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *username = g_task_get_task_data (task);
  g_autoptr(SecretValue) value = NULL;
  QuipuIdentity *identity;
  GError *error = NULL;
  GList *items;

  items = secret_service_search_finish (SECRET_SERVICE (object), result, &error);
  if (error != NULL)
    {
      g_prefix_error (&error, "cannot read the identity of %s from the keyring: ", username);
      g_task_return_error (task, error);
      return;
    }
  if (items == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "no identity for %s in the keyring", username);
      return;
    }

  value = secret_item_get_secret (items->data);
  g_list_free_full (items, g_object_unref);
  if (value == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                               "the keyring item for %s is locked", username);
      return;
    }

  identity = identity_from_secret (username, value, &error);
  if (identity == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, identity, g_object_unref);
}

static GHashTable *
build_attributes (const char *username)
{
  return secret_attributes_build (&identity_schema, "username", username, NULL);
}

/* A task that knows its username, for error messages. */
static GTask *
task_for_user (const char          *username,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data,
               gpointer             source_tag)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, g_strdup (username), g_free);
  return task;
}

void
quipu_key_secret_lookup_async (const char          *username,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GHashTable) attributes = build_attributes (username);
  GTask *task = task_for_user (username, cancellable, callback, user_data, quipu_key_secret_lookup_async);

  /* NULL service: libsecret gets the shared one asynchronously itself. */
  secret_service_search (NULL, &identity_schema, attributes,
                         SECRET_SEARCH_LOAD_SECRETS | SECRET_SEARCH_UNLOCK,
                         cancellable, search_cb, task);
}

QuipuIdentity *
quipu_key_secret_lookup_finish (GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Store and delete */

static void
store_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!secret_service_store_finish (SECRET_SERVICE (object), result, &error))
    {
      g_prefix_error (&error, "cannot save the identity of %s in the keyring: ",
                      (const char *) g_task_get_task_data (task));
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
quipu_key_secret_store_async (QuipuIdentity       *identity,
                              const char          *username,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GHashTable) attributes = build_attributes (username);
  g_autoptr(GBytes) seed = quipu_identity_dup_seed (identity);
  g_autoptr(SecretValue) value = NULL;
  g_autofree char *label = g_strdup_printf ("Quipu identity for %s", username);
  char encoded[ENCODED_SEED_BUFFER];
  GTask *task = task_for_user (username, cancellable, callback, user_data, quipu_key_secret_store_async);
  int state = 0;
  int save = 0;
  gsize n;

  n = g_base64_encode_step (g_bytes_get_data (seed, NULL), g_bytes_get_size (seed),
                            FALSE, encoded, &state, &save);
  n += g_base64_encode_close (FALSE, encoded + n, &state, &save);
  value = secret_value_new (encoded, n, "text/plain");
  gnutls_memset (encoded, 0, sizeof encoded);

  secret_service_store (NULL, &identity_schema, attributes, SECRET_COLLECTION_DEFAULT, label, value,
                        cancellable, store_cb, task);
}

gboolean
quipu_key_secret_store_finish (GAsyncResult  *result,
                               GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
clear_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  const char *username = g_task_get_task_data (task);
  GError *error = NULL;

  if (secret_service_clear_finish (SECRET_SERVICE (object), result, &error))
    g_task_return_boolean (task, TRUE);
  else if (error == NULL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                             "no identity for %s in the keyring", username);
  else
    {
      g_prefix_error (&error, "cannot delete the identity of %s from the keyring: ", username);
      g_task_return_error (task, error);
    }
}

void
quipu_key_secret_delete_async (const char          *username,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GHashTable) attributes = build_attributes (username);
  GTask *task = task_for_user (username, cancellable, callback, user_data, quipu_key_secret_delete_async);

  secret_service_clear (NULL, &identity_schema, attributes, cancellable, clear_cb, task);
}

gboolean
quipu_key_secret_delete_finish (GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
