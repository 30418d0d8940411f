#define G_LOG_DOMAIN "quipu-test-batch"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "quipu-batch.h"
#include "quipu-store.h"

/* The receive batch on its own: what it queues comes out after the commit,
 * in order, marked durable or not; its targets are released exactly once. */

typedef struct {
  char    *dir;
  char    *path;
  QuipuStore *store;
  GString *log;        /* what the release function saw, in order */
  guint    refs;       /* references the batch holds on targets */
} Fixture;

static Fixture *current;

static gpointer
target_ref (const char *name)
{
  current->refs++;
  return (gpointer) name;
}

static void
target_unref (gpointer target)
{
  g_assert_cmpuint (current->refs, >, 0);
  current->refs--;
}

static void
record (const QuipuOutgoing *out,
        gboolean             durable)
{
  if (out->bytes != NULL)
    g_string_append_printf (current->log, "%s:%s:%s:%" G_GUINT64_FORMAT ";", durable ? "ok" : "lost",
                            (const char *) out->target, (const char *) g_bytes_get_data (out->bytes, NULL),
                            out->inbox_seq);
  else
    g_string_append_printf (current->log, "%s:%s:close %" G_GUINT64_FORMAT " %s;", durable ? "ok" : "lost",
                            (const char *) out->target, out->close_code, out->close_reason);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fx->dir = g_dir_make_tmp ("quipu-batch-XXXXXX", &error);
  g_assert_no_error (error);
  fx->path = g_build_filename (fx->dir, "quipu.db", NULL);
  fx->store = quipu_store_open (fx->path, NULL, &error);
  g_assert_no_error (error);
  fx->log = g_string_new (NULL);
  current = fx;
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  const char *suffixes[] = { "", "-wal", "-shm" };

  g_assert_cmpuint (fx->refs, ==, 0);
  quipu_store_free (fx->store);
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (fx->path, suffixes[i], NULL);

      g_unlink (file);
    }
  g_assert_cmpint (g_rmdir (fx->dir), ==, 0);
  g_string_free (fx->log, TRUE);
  g_free (fx->path);
  g_free (fx->dir);
  current = NULL;
}

static void
queue_bytes (QuipuBatch *batch,
             const char *target,
             const char *text,
             guint64     inbox_seq)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, strlen (text) + 1);

  quipu_batch_queue (batch, target_ref (target), bytes, inbox_seq, 0, NULL);
}

static gboolean
registered (Fixture    *fx,
            const char *name)
{
  g_autoptr(GError) error = NULL;
  gint64 uid = 0;
  gboolean found = quipu_store_lookup_user (fx->store, name, &uid, NULL, NULL, &error);

  g_assert_no_error (error);
  return found;
}

static void
register_user (Fixture    *fx,
               const char *name)
{
  g_autoptr(GError) error = NULL;
  guint8 key[QUIPU_KEY_SIZE] = { name[0] };
  gint64 uid = 0;

  g_assert_cmpint (quipu_store_register_user (fx->store, name, key, &uid, NULL, &error),
                   ==, QUIPU_REGISTER_NEW);
  g_assert_no_error (error);
}

static void
test_order (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(QuipuBatch) batch = quipu_batch_new (fx->store, target_unref);
  g_autoptr(GError) error = NULL;

  g_assert_false (quipu_batch_is_open (batch));
  quipu_batch_open (batch);
  g_assert_true (quipu_batch_is_open (batch));
  queue_bytes (batch, "ann", "ack", 0);
  quipu_batch_queue (batch, target_ref ("ann"), NULL, 0, 7, "bye");
  queue_bytes (batch, "bob", "msg", 3);
  g_assert_cmpuint (fx->refs, ==, 3);
  g_assert_cmpstr (fx->log->str, ==, "");

  g_assert_true (quipu_batch_finish (batch, record, &error));
  g_assert_no_error (error);
  g_assert_false (quipu_batch_is_open (batch));
  g_assert_cmpstr (fx->log->str, ==, "ok:ann:ack:0;ok:ann:close 7 bye;ok:bob:msg:3;");
  g_assert_cmpuint (fx->refs, ==, 0);

  /* The next batch starts empty. */
  g_string_truncate (fx->log, 0);
  g_assert_true (quipu_batch_finish (batch, record, &error));
  g_assert_cmpstr (fx->log->str, ==, "");
}

/* How many users a second connection sees: what others can read. */
static int
users_seen_outside (Fixture *fx)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int count;

  g_assert_cmpint (sqlite3_open_v2 (fx->path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT count(*) FROM users", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  count = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return count;
}

/* Writes of an open batch share one transaction: nothing is visible to a
 * second connection before the commit. */
static void
test_transaction (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(QuipuBatch) batch = quipu_batch_new (fx->store, target_unref);
  g_autoptr(GError) error = NULL;

  /* Closed: a write is its own transaction, visible at once. */
  g_assert_true (quipu_batch_ensure_transaction (batch, &error));
  register_user (fx, "ann");
  g_assert_cmpint (users_seen_outside (fx), ==, 1);

  quipu_batch_open (batch);
  g_assert_true (quipu_batch_ensure_transaction (batch, &error));
  g_assert_true (quipu_batch_ensure_transaction (batch, &error));
  register_user (fx, "bob");
  register_user (fx, "cy");
  queue_bytes (batch, "bob", "welcome", 0);
  g_assert_cmpint (users_seen_outside (fx), ==, 1);

  g_assert_true (quipu_batch_finish (batch, record, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (fx->log->str, ==, "ok:bob:welcome:0;");
  g_assert_cmpint (users_seen_outside (fx), ==, 3);
}

/* A batch whose commit fails hands everything back as not durable, and its
 * writes are gone. The failure is staged as SQLite sees a failing disk: an
 * error that rolls the whole transaction back under the batch, here raised
 * by a trigger, so that the COMMIT then fails. */
static void
test_failed_commit (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(QuipuBatch) batch = quipu_batch_new (fx->store, target_unref);
  g_autoptr(GError) error = NULL;
  guint8 key[QUIPU_KEY_SIZE] = { 0 };
  gint64 uid = 0;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (fx->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TRIGGER doom BEFORE INSERT ON users WHEN NEW.name = 'doomed'"
                                     " BEGIN SELECT RAISE (ROLLBACK, 'the disk is on fire'); END",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  quipu_batch_open (batch);
  g_assert_true (quipu_batch_ensure_transaction (batch, &error));
  register_user (fx, "cy");
  queue_bytes (batch, "cy", "ack", 1);
  quipu_batch_queue (batch, target_ref ("cy"), NULL, 0, 0, "bye");
  g_assert_cmpint (quipu_store_register_user (fx->store, "doomed", key, &uid, NULL, &error),
                   ==, QUIPU_REGISTER_TAKEN);
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_false (quipu_batch_finish (batch, record, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (fx->log->str, ==, "lost:cy:ack:1;lost:cy:close 0 bye;");
  g_assert_cmpuint (fx->refs, ==, 0);
  g_assert_false (registered (fx, "cy"));

  /* The store goes on: the next batch commits. */
  g_clear_error (&error);
  quipu_batch_open (batch);
  g_assert_true (quipu_batch_ensure_transaction (batch, &error));
  register_user (fx, "cy");
  g_assert_true (quipu_batch_finish (batch, record, &error));
  g_assert_no_error (error);
  g_assert_true (registered (fx, "cy"));
}

/* A batch freed with items queued (server shutdown) releases its targets. */
static void
test_free_releases (Fixture       *fx,
                    gconstpointer  data)
{
  QuipuBatch *batch = quipu_batch_new (fx->store, target_unref);

  quipu_batch_open (batch);
  queue_bytes (batch, "dee", "late", 0);
  g_assert_cmpuint (fx->refs, ==, 1);
  quipu_batch_free (batch);
  g_assert_cmpuint (fx->refs, ==, 0);
  g_assert_cmpstr (fx->log->str, ==, "");
}

#define add_test(path, func) \
  g_test_add ("/quipu/server/batch/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add_test ("order", test_order);
  add_test ("transaction", test_transaction);
  add_test ("failed-commit", test_failed_commit);
  add_test ("free-releases", test_free_releases);

  return g_test_run ();
}
