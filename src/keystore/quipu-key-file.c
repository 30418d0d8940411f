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

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "quipu-error.h"
#include "quipu-key-store-private.h"

/* The key file: the unencrypted PKCS#8 PEM of the key, 0600. Everything
 * here is a small blocking file operation; the async API runs it as one
 * main-loop step. */

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
check_file (const char  *path,
            int          fd,
            gboolean     private,
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
  if (private && st.st_uid != geteuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "identity file %s is owned by uid %u, not by the current user (uid %u)",
                   path, (guint) st.st_uid, (guint) geteuid ());
      return FALSE;
    }
  if (private && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      g_autofree char *word = shell_word (path);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "identity file %s is accessible by others (mode %04o); run: chmod 600 %s",
                   path, (guint) (st.st_mode & 07777), word);
      return FALSE;
    }
  if (st.st_size > QUIPU_KEY_FILE_MAX_SIZE)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                   "identity file %s is larger than %d KiB", path, QUIPU_KEY_FILE_MAX_SIZE / 1024);
      return FALSE;
    }

  return TRUE;
}

/* Reads at most QUIPU_KEY_FILE_MAX_SIZE bytes into @buffer (one byte
 * longer); the extra byte catches a file that grew since fstat(). */
static gssize
read_all (const char  *path,
          int          fd,
          guint8      *buffer,
          GError     **error)
{
  gsize len = 0;

  while (len <= QUIPU_KEY_FILE_MAX_SIZE)
    {
      gssize n = read (fd, buffer + len, QUIPU_KEY_FILE_MAX_SIZE + 1 - len);

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
               "identity file %s is larger than %d KiB", path, QUIPU_KEY_FILE_MAX_SIZE / 1024);
  return -1;
}

static void
wipe_and_free (gpointer data)
{
  gnutls_memset (data, 0, QUIPU_KEY_FILE_MAX_SIZE + 1);
  g_free (data);
}

GBytes *
quipu_key_file_read (const char  *path,
                     gboolean     private,
                     GError     **error)
{
  guint8 *buffer;
  gssize len = -1;
  int fd;

  /* O_NONBLOCK so that a FIFO planted at @path cannot block the open. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
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

  buffer = g_malloc (QUIPU_KEY_FILE_MAX_SIZE + 1);
  if (check_file (path, fd, private, error))
    len = read_all (path, fd, buffer, error);
  close (fd);
  if (len < 0)
    {
      wipe_and_free (buffer);
      return NULL;
    }

  return g_bytes_new_with_free_func (buffer, len, wipe_and_free, buffer);
}

void
quipu_key_store_clear_datum (gnutls_datum_t *datum)
{
  if (datum->data != NULL)
    gnutls_memset (datum->data, 0, datum->size);
  gnutls_free (datum->data);
  datum->data = NULL;
  datum->size = 0;
}

QuipuIdentity *
quipu_key_store_identity_from_x509 (gnutls_x509_privkey_t   x509,
                                    GError                **error)
{
  gnutls_datum_t seed = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  QuipuIdentity *identity = NULL;

  if (gnutls_x509_privkey_get_pk_algorithm (x509) == GNUTLS_PK_EDDSA_ED25519 &&
      gnutls_x509_privkey_export_ecc_raw (x509, &curve, NULL, NULL, &seed) >= 0)
    identity = quipu_identity_new_from_seed (seed.data, seed.size, error);
  else
    g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                         "not an Ed25519 private key");

  quipu_key_store_clear_datum (&seed);
  return identity;
}

gboolean
quipu_key_store_identity_to_x509 (QuipuIdentity          *identity,
                                  gnutls_x509_privkey_t  *x509,
                                  GError                **error)
{
  g_autoptr(GBytes) seed = quipu_identity_dup_seed (identity);
  gnutls_datum_t x = { (unsigned char *) quipu_identity_get_public_key (identity), QUIPU_KEY_SIZE };
  gnutls_datum_t k = { (unsigned char *) g_bytes_get_data (seed, NULL), QUIPU_SEED_SIZE };
  int ret;

  ret = gnutls_x509_privkey_init (x509);
  if (ret >= 0)
    {
      ret = gnutls_x509_privkey_import_ecc_raw (*x509, GNUTLS_ECC_CURVE_ED25519, &x, NULL, &k);
      if (ret < 0)
        g_clear_pointer (x509, gnutls_x509_privkey_deinit);
    }
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot encode the identity key: %s", gnutls_strerror (ret));
      return FALSE;
    }

  return TRUE;
}

static QuipuIdentity *
identity_from_pem (const char  *path,
                   GBytes      *pem,
                   GError     **error)
{
  gnutls_datum_t datum = { (unsigned char *) g_bytes_get_data (pem, NULL), g_bytes_get_size (pem) };
  gnutls_x509_privkey_t x509;
  QuipuIdentity *identity = NULL;
  int ret;

  ret = gnutls_x509_privkey_init (&x509);
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot allocate a private key: %s", gnutls_strerror (ret));
      return NULL;
    }

  if (gnutls_x509_privkey_import2 (x509, &datum, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN) >= 0)
    identity = quipu_key_store_identity_from_x509 (x509, NULL);
  if (identity == NULL)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                 "identity file %s does not hold an Ed25519 private key", path);

  gnutls_x509_privkey_deinit (x509);
  return identity;
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

/* Writes @data to a new 0600 file in @dir; returns its path. */
static char *
write_temp_file (const char    *dir,
                 const guint8  *data,
                 gsize          len,
                 GError       **error)
{
  g_autofree char *tmp_path = g_build_filename (dir, ".quipu-key-XXXXXX", NULL);
  gboolean written;
  int saved_errno;
  int fd;

  /* mkstemp creates the file 0600 from the start, whatever the umask. */
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      set_errno_error (error, errno, "cannot create a file in", dir);
      return NULL;
    }

  written = write_all (fd, data, len) && fsync (fd) == 0;
  saved_errno = errno;
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

gboolean
quipu_key_file_write_new (const char    *path,
                          const guint8  *data,
                          gsize          len,
                          GError       **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tmp_path = write_temp_file (dir, data, len, error);

  if (tmp_path == NULL)
    return FALSE;

  /* NOREPLACE: never clobber a key that is already there. */
  if (renameat2 (AT_FDCWD, tmp_path, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
    {
      int saved_errno = errno;

      g_unlink (tmp_path);
      if (saved_errno == EEXIST)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s already exists", path);
      else
        set_errno_error (error, saved_errno, "cannot create identity file", path);
      return FALSE;
    }
  sync_directory (dir);

  return TRUE;
}

gboolean
quipu_key_file_store (const char     *path,
                      QuipuIdentity  *identity,
                      GError        **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  gnutls_x509_privkey_t x509;
  gnutls_datum_t pem = { NULL, 0 };
  gboolean stored;
  int ret;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    return set_errno_error (error, errno, "cannot create directory", dir);

  if (!quipu_key_store_identity_to_x509 (identity, &x509, error))
    return FALSE;
  ret = gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem);
  gnutls_x509_privkey_deinit (x509);
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot encode the identity key: %s", gnutls_strerror (ret));
      return FALSE;
    }

  stored = quipu_key_file_write_new (path, pem.data, pem.size, error);
  quipu_key_store_clear_datum (&pem);
  return stored;
}

QuipuIdentity *
quipu_key_store_load_file (const char  *path,
                           gboolean     create,
                           gboolean    *created,
                           GError     **error)
{
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) pem = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (created != NULL)
    *created = FALSE;

  pem = quipu_key_file_read (path, TRUE, &local_error);
  if (pem != NULL)
    return identity_from_pem (path, pem, error);
  if (!create || !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  identity = quipu_identity_new_random (error);
  if (identity == NULL)
    return NULL;
  g_clear_error (&local_error);
  if (!quipu_key_file_store (path, identity, &local_error))
    {
      /* Another process created the file meanwhile: its identity wins and
       * is the one loaded, so both end up with the same key. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        return quipu_key_store_load_file (path, FALSE, created, error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  if (created != NULL)
    *created = TRUE;
  return g_steal_pointer (&identity);
}
