#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "quipu-test-util.h"

void
quipu_test_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        quipu_test_remove_tree (child);
      else
        g_assert_no_errno (g_unlink (child));
    }
  g_assert_no_errno (g_rmdir (path));
}

void
quipu_test_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

guint
quipu_test_start_ticker (void)
{
  return g_timeout_add (20, tick_cb, NULL);
}

QuipuServer *
quipu_test_start_server (const char  *data_dir,
                         char       **address)
{
  g_auto(QuipuServerConfig) config = { 0 };
  g_autoptr(GError) error = NULL;
  QuipuServer *server;

  config.listen = g_strdup ("127.0.0.1:0");
  config.data_dir = g_strdup (data_dir);
  config.sync_normal = TRUE;
  server = quipu_server_new (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (server);
  *address = quipu_server_dup_address (server);
  return server;
}

QuipuIdentity *
quipu_test_identity_from_seed (guint8 fill)
{
  g_autoptr(GError) error = NULL;
  guint8 seed[QUIPU_SEED_SIZE];
  QuipuIdentity *identity;

  memset (seed, fill, sizeof seed);
  identity = quipu_identity_new_from_seed (seed, sizeof seed, &error);
  g_assert_no_error (error);
  return identity;
}

void
quipu_test_server_setup (QuipuTestServer *ts,
                         const char      *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *template = g_strdup_printf ("quipu-%s-XXXXXX", name);
  g_autofree char *data_dir = NULL;

  ts->dir = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);
  ts->trust_path = g_build_filename (ts->dir, "known-servers", NULL);
  data_dir = g_build_filename (ts->dir, "server", NULL);
  ts->db_path = g_build_filename (data_dir, "quipu.db", NULL);
  ts->tick_id = quipu_test_start_ticker ();
  ts->server = quipu_test_start_server (data_dir, &ts->address);
}

void
quipu_test_server_teardown (QuipuTestServer *ts)
{
  g_clear_pointer (&ts->server, quipu_server_free);
  /* Let closed client connections leave their endpoints. */
  quipu_test_spin (100);
  g_clear_handle_id (&ts->tick_id, g_source_remove);
  quipu_test_remove_tree (ts->dir);
  g_free (ts->address);
  g_free (ts->db_path);
  g_free (ts->trust_path);
  g_free (ts->dir);
}

void
quipu_test_tamper (QuipuTestServer *ts,
                   const char      *sql,
                   const guint8    *blob,
                   gsize            blob_len)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (ts->db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (blob != NULL)
    g_assert_cmpint (sqlite3_bind_blob (stmt, 1, blob, blob_len, SQLITE_TRANSIENT), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_close (db), ==, SQLITE_OK);
}
