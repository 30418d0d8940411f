#define G_LOG_DOMAIN "quipu-known-users"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "quipu-known-users.h"
#include "quipu-names.h"

#define MAX_FILE_SIZE (16 * 1024 * 1024)

char *
quipu_known_users_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "quipu", "known-users", NULL);
}

GHashTable *
quipu_known_users_load (const char *path,
                        const char *server)
{
  g_autoptr(GHashTable) pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                      (GDestroyNotify) g_bytes_unref);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, NULL) || length > MAX_FILE_SIZE)
    return g_steal_pointer (&pins);

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], " ", -1);
      g_autofree guint8 *key = NULL;
      gsize key_len = 0;

      if (g_strv_length (fields) != 3 || g_strcmp0 (fields[0], server) != 0 ||
          !quipu_name_validate (fields[1], -1, NULL) || g_hash_table_contains (pins, fields[1]))
        continue;
      key = g_base64_decode (fields[2], &key_len);
      if (key_len != QUIPU_KEY_SIZE)
        continue;
      g_hash_table_insert (pins, g_strdup (fields[1]), g_bytes_new (key, key_len));
    }
  return g_steal_pointer (&pins);
}

char *
quipu_known_users_format (const char   *server,
                          const char   *name,
                          const guint8  key[QUIPU_KEY_SIZE])
{
  g_autofree char *encoded = g_base64_encode (key, QUIPU_KEY_SIZE);

  return g_strdup_printf ("%s %s %s\n", server, name, encoded);
}

gboolean
quipu_known_users_add (const char    *path,
                       const char    *server,
                       const char    *name,
                       const guint8   key[QUIPU_KEY_SIZE],
                       GError       **error)
{
  g_autofree char *line = quipu_known_users_format (server, name, key);

  return quipu_known_users_append (path, line, strlen (line), error);
}

gboolean
quipu_known_users_append (const char  *path,
                          const char  *lines,
                          gsize        len,
                          GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create %s: %s", dir, g_strerror (saved));
      return FALSE;
    }

  /* One O_APPEND write for the whole batch, so concurrent clients
   * interleave whole lines. */
  fd = g_open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, lines, len) != (gssize) len)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot write %s: %s", path, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  return g_close (fd, error);
}
