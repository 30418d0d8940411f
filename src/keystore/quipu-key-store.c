#define G_LOG_DOMAIN "quipu-key-store"

#include "config.h"

/* renameat2() and RENAME_NOREPLACE */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libsecret/secret.h>

#include "quipu-error.h"
#include "quipu-key-store.h"

/* The app id without ".Devel": both profiles share identities. */
#define SCHEMA_NAME                "io.github.quipuchat.Quipu"
#define SECRET_SERVICE_TIMEOUT_MS  3000
#define MAX_KEY_FILE_SIZE          (16 * 1024)
#define ENCODED_SEED_LEN           ((QUIPU_SEED_SIZE + 2) / 3 * 4)
/* g_base64_encode_step() + _close() want (len / 3 + 1) * 4 + 4 bytes. */
#define ENCODED_SEED_BUFFER        ((QUIPU_SEED_SIZE / 3 + 1) * 4 + 4 + 1)

static const SecretSchema identity_schema = {
  SCHEMA_NAME, SECRET_SCHEMA_NONE,
  {
    { "username", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  },
};

/* Keyring */

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

gboolean
quipu_key_store_secret_service_available (void)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (!session_bus_configured ())
    {
      g_debug ("No session bus configured; not using the Secret Service");
      return FALSE;
    }

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  /* Reading a property proves that a Secret Service answers, activating it
   * if need be; the timeout bounds a wedged one. */
  if (bus != NULL)
    reply = g_dbus_connection_call_sync (bus, "org.freedesktop.secrets", "/org/freedesktop/secrets",
                                         "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new ("(ss)", "org.freedesktop.Secret.Service",
                                                        "Collections"),
                                         G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                         SECRET_SERVICE_TIMEOUT_MS, NULL, &error);
  if (reply == NULL)
    g_debug ("Secret Service unavailable: %s", error->message);

  return reply != NULL;
}

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
encode_seed (GBytes *seed,
             char    out[ENCODED_SEED_BUFFER])
{
  int state = 0;
  int save = 0;
  gsize n;

  n = g_base64_encode_step (g_bytes_get_data (seed, NULL), g_bytes_get_size (seed),
                            FALSE, out, &state, &save);
  n += g_base64_encode_close (FALSE, out + n, &state, &save);
  out[n] = '\0';
}

static QuipuIdentity *
create_secret (const char  *username,
               gboolean    *created,
               GError     **error)
{
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autoptr(GBytes) seed = NULL;
  g_autofree char *label = NULL;
  char encoded[ENCODED_SEED_BUFFER];
  gboolean stored;

  identity = quipu_identity_new_random (error);
  if (identity == NULL)
    return NULL;

  seed = quipu_identity_dup_seed (identity);
  encode_seed (seed, encoded);
  label = g_strdup_printf ("Quipu identity for %s", username);
  stored = secret_password_store_sync (&identity_schema, SECRET_COLLECTION_DEFAULT, label, encoded,
                                       NULL, error, "username", username, NULL);
  gnutls_memset (encoded, 0, sizeof encoded);
  if (!stored)
    {
      g_prefix_error (error, "cannot save the identity of %s in the keyring: ", username);
      return NULL;
    }

  if (created != NULL)
    *created = TRUE;
  return g_steal_pointer (&identity);
}

/* Not secret_password_lookup_sync(): in libsecret 0.20.5 it leaks a D-Bus
 * reply on every item it finds; searching with LOAD_SECRETS does not. */
static gboolean
find_secret (const char   *username,
             SecretValue **value,
             GError      **error)
{
  g_autoptr(GHashTable) attributes = NULL;
  g_autoptr(GError) local_error = NULL;
  GList *items;

  attributes = secret_attributes_build (&identity_schema, "username", username, NULL);
  items = secret_service_search_sync (NULL, &identity_schema, attributes,
                                      SECRET_SEARCH_LOAD_SECRETS | SECRET_SEARCH_UNLOCK,
                                      NULL, &local_error);
  if (local_error != NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "cannot read the identity of %s from the keyring: ", username);
      return FALSE;
    }

  if (items == NULL)
    {
      *value = NULL;
      return TRUE;
    }

  *value = secret_item_get_secret (items->data);
  g_list_free_full (items, g_object_unref);
  if (*value == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "the keyring item for %s is locked", username);
      return FALSE;
    }

  return TRUE;
}

QuipuIdentity *
quipu_key_store_load_secret (const char  *username,
                             gboolean     create,
                             gboolean    *created,
                             GError     **error)
{
  g_autoptr(SecretValue) value = NULL;

  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (created != NULL)
    *created = FALSE;

  if (!find_secret (username, &value, error))
    return NULL;
  if (value != NULL)
    return identity_from_secret (username, value, error);

  if (!create)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "no identity for %s in the keyring", username);
      return NULL;
    }

  return create_secret (username, created, error);
}

/* Key file */

char *
quipu_key_store_default_file (const char *username)
{
  g_autofree char *basename = NULL;

  g_return_val_if_fail (username != NULL && *username != '\0', NULL);
  g_return_val_if_fail (strchr (username, '/') == NULL, NULL);

  basename = g_strconcat (username, ".key", NULL);
  return g_build_filename (g_get_user_data_dir (), "quipu", "identities", basename, NULL);
}

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* The path as a shell word, quoted only if it needs to be. */
static char *
shell_word (const char *path)
{
  if (path[strspn (path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+@,:")] == '\0')
    return g_strdup (path);
  return g_shell_quote (path);
}

static gboolean
check_file_is_private (const char  *path,
                       int          fd,
                       GError     **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return set_errno_error (error, errno, "cannot inspect identity file", path);

  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   "identity file %s is not a regular file", path);
      return FALSE;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "identity file %s is owned by uid %u, not by the current user (uid %u)",
                   path, (guint) st.st_uid, (guint) geteuid ());
      return FALSE;
    }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      g_autofree char *word = shell_word (path);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "identity file %s is accessible by others (mode %04o); run: chmod 600 %s",
                   path, (guint) (st.st_mode & 07777), word);
      return FALSE;
    }
  if (st.st_size > MAX_KEY_FILE_SIZE)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                   "identity file %s is larger than %d KiB", path, MAX_KEY_FILE_SIZE / 1024);
      return FALSE;
    }

  return TRUE;
}

/* Reads at most MAX_KEY_FILE_SIZE bytes into @buffer (MAX_KEY_FILE_SIZE + 1
 * long); the extra byte catches a file that grew since fstat(). */
static gssize
read_key_file (const char  *path,
               int          fd,
               guint8      *buffer,
               GError     **error)
{
  gsize len = 0;

  while (len <= MAX_KEY_FILE_SIZE)
    {
      gssize n = read (fd, buffer + len, MAX_KEY_FILE_SIZE + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_errno_error (error, errno, "cannot read identity file", path);
          return -1;
        }
      if (n == 0)
        return len;
      len += n;
    }

  g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
               "identity file %s is larger than %d KiB", path, MAX_KEY_FILE_SIZE / 1024);
  return -1;
}

static void
free_secret_datum (gnutls_datum_t *datum)
{
  if (datum->data != NULL)
    gnutls_memset (datum->data, 0, datum->size);
  gnutls_free (datum->data);
  datum->data = NULL;
}

static QuipuIdentity *
identity_from_pem (const char    *path,
                   const guint8  *pem,
                   gsize          len,
                   GError       **error)
{
  gnutls_datum_t datum = { (unsigned char *) pem, (unsigned int) len };
  gnutls_datum_t seed = { NULL, 0 };
  gnutls_x509_privkey_t x509;
  gnutls_ecc_curve_t curve;
  QuipuIdentity *identity = NULL;
  int ret;

  ret = gnutls_x509_privkey_init (&x509);
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot allocate a private key: %s", gnutls_strerror (ret));
      return NULL;
    }

  if (gnutls_x509_privkey_import2 (x509, &datum, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN) < 0 ||
      gnutls_x509_privkey_get_pk_algorithm (x509) != GNUTLS_PK_EDDSA_ED25519 ||
      gnutls_x509_privkey_export_ecc_raw (x509, &curve, NULL, NULL, &seed) < 0)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                 "identity file %s does not hold an Ed25519 private key", path);
  else
    identity = quipu_identity_new_from_seed (seed.data, seed.size, error);

  free_secret_datum (&seed);
  gnutls_x509_privkey_deinit (x509);
  return identity;
}

static QuipuIdentity *
load_open_file (const char  *path,
                int          fd,
                GError     **error)
{
  QuipuIdentity *identity;
  guint8 *buffer;
  gssize len;

  if (!check_file_is_private (path, fd, error))
    return NULL;

  buffer = g_malloc (MAX_KEY_FILE_SIZE + 1);
  len = read_key_file (path, fd, buffer, error);
  identity = len < 0 ? NULL : identity_from_pem (path, buffer, len, error);
  gnutls_memset (buffer, 0, MAX_KEY_FILE_SIZE + 1);
  g_free (buffer);

  return identity;
}

static gboolean
identity_to_pem (QuipuIdentity   *identity,
                 gnutls_datum_t  *pem,
                 GError         **error)
{
  g_autoptr(GBytes) seed = quipu_identity_dup_seed (identity);
  gnutls_datum_t x = { (unsigned char *) quipu_identity_get_public_key (identity), QUIPU_KEY_SIZE };
  gnutls_datum_t k = { (unsigned char *) g_bytes_get_data (seed, NULL), QUIPU_SEED_SIZE };
  gnutls_x509_privkey_t x509;
  int ret;

  ret = gnutls_x509_privkey_init (&x509);
  if (ret >= 0)
    {
      ret = gnutls_x509_privkey_import_ecc_raw (x509, GNUTLS_ECC_CURVE_ED25519, &x, NULL, &k);
      if (ret >= 0)
        ret = gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_PEM, NULL,
                                                 GNUTLS_PKCS_PLAIN, pem);
      gnutls_x509_privkey_deinit (x509);
    }
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot encode the identity key: %s", gnutls_strerror (ret));
      return FALSE;
    }

  return TRUE;
}

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      data += n;
      len -= n;
    }

  return TRUE;
}

/* Writes @identity to a new 0600 file in @dir; returns its path. */
static char *
write_temp_file (const char     *dir,
                 QuipuIdentity  *identity,
                 GError        **error)
{
  g_autofree char *tmp_path = g_build_filename (dir, ".quipu-key-XXXXXX", NULL);
  gnutls_datum_t pem = { NULL, 0 };
  gboolean written;
  int saved_errno;
  int fd;

  if (!identity_to_pem (identity, &pem, error))
    return NULL;

  /* mkstemp creates the file 0600 from the start. */
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved_errno = errno;
      free_secret_datum (&pem);
      set_errno_error (error, saved_errno, "cannot create a file in", dir);
      return NULL;
    }

  written = write_all (fd, pem.data, pem.size) && fsync (fd) == 0;
  saved_errno = errno;
  free_secret_datum (&pem);
  if (close (fd) < 0 && written)
    {
      written = FALSE;
      saved_errno = errno;
    }
  if (!written)
    {
      g_unlink (tmp_path);
      set_errno_error (error, saved_errno, "cannot write identity file in", dir);
      return NULL;
    }

  return g_steal_pointer (&tmp_path);
}

static void
sync_directory (const char *dir)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  /* Best effort: the rename is already visible, this makes it durable. */
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

static QuipuIdentity *
create_file (const char  *path,
             gboolean    *created,
             GError     **error)
{
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tmp_path = NULL;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      set_errno_error (error, errno, "cannot create directory", dir);
      return NULL;
    }

  identity = quipu_identity_new_random (error);
  if (identity == NULL)
    return NULL;
  tmp_path = write_temp_file (dir, identity, error);
  if (tmp_path == NULL)
    return NULL;

  /* NOREPLACE: if another process created the file meanwhile, its identity
   * wins and is the one loaded, so both end up with the same key. */
  if (renameat2 (AT_FDCWD, tmp_path, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
    {
      int saved_errno = errno;

      g_unlink (tmp_path);
      if (saved_errno == EEXIST)
        return quipu_key_store_load_file (path, FALSE, created, error);
      set_errno_error (error, saved_errno, "cannot create identity file", path);
      return NULL;
    }
  sync_directory (dir);

  if (created != NULL)
    *created = TRUE;
  return g_steal_pointer (&identity);
}

QuipuIdentity *
quipu_key_store_load_file (const char  *path,
                           gboolean     create,
                           gboolean    *created,
                           GError     **error)
{
  QuipuIdentity *identity;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (created != NULL)
    *created = FALSE;

  /* O_NONBLOCK so that a FIFO planted at @path cannot block the open. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0 && errno == ENOENT && create)
    return create_file (path, created, error);
  if (fd < 0 && errno == ENOENT)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "identity file %s does not exist", path);
      return NULL;
    }
  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot open identity file", path);
      return NULL;
    }

  identity = load_open_file (path, fd, error);
  close (fd);
  return identity;
}
