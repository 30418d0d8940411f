#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <errno.h>
#include <fcntl.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "quipu-backup.h"

#define BUSY_TIMEOUT_MS 10000

static void
set_sqlite_error (GError     **error,
                  sqlite3     *db,
                  const char  *doing,
                  const char  *path)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s", doing, path,
               db ? sqlite3_errmsg (db) : "out of memory");
}

static sqlite3 *
open_db (const char  *path,
         int          flags,
         GError     **error)
{
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (path, &db, flags, NULL) != SQLITE_OK)
    {
      set_sqlite_error (error, db, _("cannot open database"), path);
      sqlite3_close (db);
      return NULL;
    }
  sqlite3_busy_timeout (db, BUSY_TIMEOUT_MS);
  return db;
}

/* The copy is checked and counted from the file itself, not the source:
 * what is reported is what the backup holds. */
static gboolean
verify_copy (const char  *dest,
             guint64     *n_messages,
             GError     **error)
{
  sqlite3 *db = open_db (dest, SQLITE_OPEN_READONLY, error);
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (db == NULL)
    return FALSE;
  ok = sqlite3_prepare_v2 (db, "SELECT count(*) FROM messages", -1, &stmt, NULL) == SQLITE_OK &&
       sqlite3_step (stmt) == SQLITE_ROW;
  if (ok)
    *n_messages = sqlite3_column_int64 (stmt, 0);
  else
    set_sqlite_error (error, db, _("cannot read the backup"), dest);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return ok;
}

static gboolean
sync_file (const char  *path,
           GError     **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  int saved;

  if (fd >= 0 && g_fsync (fd) == 0)
    return g_close (fd, error);
  saved = errno;
  if (fd >= 0)
    g_close (fd, NULL);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               _("cannot write %s: %s"), path, g_strerror (saved));
  return FALSE;
}

gboolean
quipu_backup_database (const char  *db_path,
                       const char  *dest,
                       guint64     *n_messages,
                       GError     **error)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gboolean ok;
  int fd, saved;

  g_return_val_if_fail (db_path != NULL && dest != NULL, FALSE);

  if (!g_file_test (db_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("no database at %s"), db_path);
      return FALSE;
    }

  /* VACUUM INTO fills an empty file: made here, so it is private from the
   * start and an existing file is never overwritten. */
  fd = g_open (dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("cannot create backup file %s: %s"), dest, g_strerror (saved));
      return FALSE;
    }
  g_close (fd, NULL);

  /* Read-write but never written: a WAL reader needs the shared-memory
   * index, and without OPEN_CREATE a mistyped path is not made a database. */
  db = open_db (db_path, SQLITE_OPEN_READWRITE, error);
  ok = db != NULL;
  if (ok)
    {
      ok = sqlite3_prepare_v2 (db, "VACUUM INTO ?1", -1, &stmt, NULL) == SQLITE_OK &&
           sqlite3_bind_text (stmt, 1, dest, -1, SQLITE_STATIC) == SQLITE_OK &&
           sqlite3_step (stmt) == SQLITE_DONE;
      if (!ok)
        set_sqlite_error (error, db, _("cannot back up database"), db_path);
      sqlite3_finalize (stmt);
      sqlite3_close (db);
    }

  ok = ok && sync_file (dest, error) && verify_copy (dest, n_messages, error);
  if (!ok)
    g_unlink (dest);
  return ok;
}
