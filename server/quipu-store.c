#define G_LOG_DOMAIN "quipu-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "quipu-names.h"
#include "quipu-store.h"

#define BUSY_TIMEOUT_MS 5000
#define MS_PER_DAY      (G_GUINT64_CONSTANT (24) * 60 * 60 * 1000)

/* Applied in order, each in its own transaction; migrations[i] takes the
 * schema from user_version i to i + 1. Never edit a shipped entry (that is why
 * the key and signature sizes are literals here): append a new one. */
static const char * const migrations[] = {
  "CREATE TABLE users ("
  "  uid           INTEGER PRIMARY KEY,"
  "  name          TEXT NOT NULL,"
  "  fold          TEXT NOT NULL UNIQUE,"
  "  key           BLOB NOT NULL CHECK (length (key) = 32),"
  "  created       INTEGER NOT NULL,"
  "  inbox_seq     INTEGER NOT NULL DEFAULT 0,"
  "  delivered_seq INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE rooms ("
  "  rid      INTEGER PRIMARY KEY,"
  "  name     TEXT NOT NULL,"
  "  fold     TEXT NOT NULL UNIQUE,"
  "  last_seq INTEGER NOT NULL"
  ");"
  /* A room message has rid and seq; a direct message has recipients (names
   * joined by ',', which names cannot contain) and lives in inboxes. */
  "CREATE TABLE messages ("
  "  mid           INTEGER PRIMARY KEY,"
  "  sender        INTEGER NOT NULL REFERENCES users (uid),"
  "  client_msg_id INTEGER NOT NULL,"
  "  rid           INTEGER REFERENCES rooms (rid),"
  "  seq           INTEGER,"
  "  recipients    TEXT,"
  "  body          TEXT NOT NULL,"
  "  ts            INTEGER NOT NULL,"
  "  received      INTEGER NOT NULL,"
  "  signature     BLOB NOT NULL CHECK (length (signature) = 64),"
  "  UNIQUE (sender, client_msg_id),"
  "  CHECK ((rid IS NULL) = (seq IS NULL)"
  "         AND (rid IS NULL) = (recipients IS NOT NULL))"
  ");"
  "CREATE UNIQUE INDEX messages_room_seq ON messages (rid, seq) WHERE rid IS NOT NULL;"
  /* Lets pruning by age find old messages without scanning the table. */
  "CREATE INDEX messages_received ON messages (received);"
  "CREATE TABLE inbox ("
  "  uid INTEGER NOT NULL REFERENCES users (uid),"
  "  seq INTEGER NOT NULL,"
  "  mid INTEGER NOT NULL REFERENCES messages (mid) ON DELETE CASCADE,"
  "  PRIMARY KEY (uid, seq)"
  ") WITHOUT ROWID;"
  /* The cascade and the duplicate path both look inbox rows up by message. */
  "CREATE INDEX inbox_message ON inbox (mid);",
};

typedef enum {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_SAVEPOINT,
  STMT_RELEASE,
  STMT_ROLLBACK_TO,
  STMT_USER_BY_FOLD,
  STMT_USER_INSERT,
  STMT_PRIOR_MESSAGE,
  STMT_ROOM_BY_FOLD,
  STMT_ROOM_NEXT_SEQ,
  STMT_ROOM_CLAIM,
  STMT_MESSAGE_INSERT,
  STMT_INBOX_NEXT_SEQ,
  STMT_INBOX_INSERT,
  STMT_INBOX_SEQ_OF,
  STMT_INBOX_STATE,
  STMT_SET_DELIVERED,
  STMT_FETCH_ROOM_BEFORE,
  STMT_FETCH_ROOM_AFTER,
  STMT_FETCH_INBOX_BEFORE,
  STMT_FETCH_INBOX_AFTER,
  STMT_LIST_ROOMS,
  STMT_PRUNE_AGE,
  STMT_PRUNE_COUNT,
  N_STMTS
} StmtId;

/* Column order of every fetch statement, read by read_message(). */
enum {
  COL_MID,
  COL_SENDER_UID,
  COL_SENDER,
  COL_SENDER_KEY,
  COL_ROOM,
  COL_RECIPIENTS,
  COL_CLIENT_MSG_ID,
  COL_SEQ,
  COL_BODY,
  COL_TIMESTAMP,
  COL_SIGNATURE,
};

#define FETCH_ROOM \
  "SELECT m.mid, m.sender, u.name, u.key, r.name, m.recipients, m.client_msg_id, m.seq," \
  " m.body, m.ts, m.signature" \
  " FROM messages m JOIN users u ON u.uid = m.sender JOIN rooms r ON r.rid = m.rid" \
  " WHERE m.rid = ?1 "
#define FETCH_INBOX \
  "SELECT m.mid, m.sender, u.name, u.key, NULL, m.recipients, m.client_msg_id, i.seq," \
  " m.body, m.ts, m.signature" \
  " FROM inbox i JOIN messages m ON m.mid = i.mid JOIN users u ON u.uid = m.sender" \
  " WHERE i.uid = ?1 "

static const char * const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_SAVEPOINT] = "SAVEPOINT quipu_op",
  [STMT_RELEASE] = "RELEASE quipu_op",
  [STMT_ROLLBACK_TO] = "ROLLBACK TO quipu_op",
  [STMT_USER_BY_FOLD] = "SELECT uid, name, key FROM users WHERE fold = ?1",
  [STMT_USER_INSERT] = "INSERT INTO users (name, fold, key, created) VALUES (?1, ?2, ?3, ?4)",
  /* No row: no such sender. A row with a NULL mid: the message is new. */
  [STMT_PRIOR_MESSAGE] =
    "SELECT m.mid, m.seq, m.rid IS NOT NULL, r.fold FROM users u"
    " LEFT JOIN messages m ON m.sender = u.uid AND m.client_msg_id = ?2"
    " LEFT JOIN rooms r ON r.rid = m.rid"
    " WHERE u.uid = ?1",
  [STMT_ROOM_BY_FOLD] = "SELECT rid, last_seq FROM rooms WHERE fold = ?1",
  [STMT_ROOM_NEXT_SEQ] =
    "INSERT INTO rooms (name, fold, last_seq) VALUES (?1, ?2, 1)"
    " ON CONFLICT (fold) DO UPDATE SET last_seq = last_seq + 1"
    " RETURNING rid, last_seq",
  /* The no-op update makes RETURNING give the row that was there first. */
  [STMT_ROOM_CLAIM] =
    "INSERT INTO rooms (name, fold, last_seq) VALUES (?1, ?2, 0)"
    " ON CONFLICT (fold) DO UPDATE SET fold = excluded.fold"
    " RETURNING name",
  [STMT_MESSAGE_INSERT] =
    "INSERT INTO messages (sender, client_msg_id, rid, seq, recipients, body, ts, received, signature)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
  [STMT_INBOX_NEXT_SEQ] = "UPDATE users SET inbox_seq = inbox_seq + 1 WHERE uid = ?1 RETURNING inbox_seq",
  [STMT_INBOX_INSERT] = "INSERT INTO inbox (uid, seq, mid) VALUES (?1, ?2, ?3)",
  [STMT_INBOX_SEQ_OF] = "SELECT seq FROM inbox WHERE mid = ?1 AND uid = ?2",
  [STMT_INBOX_STATE] = "SELECT inbox_seq, delivered_seq FROM users WHERE uid = ?1",
  [STMT_SET_DELIVERED] =
    "UPDATE users SET delivered_seq = max (delivered_seq, ?2) WHERE uid = ?1 AND ?2 <= inbox_seq",
  [STMT_FETCH_ROOM_BEFORE] = FETCH_ROOM "AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3",
  [STMT_FETCH_ROOM_AFTER] = FETCH_ROOM "AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3",
  [STMT_FETCH_INBOX_BEFORE] = FETCH_INBOX "AND i.seq < ?2 ORDER BY i.seq DESC LIMIT ?3",
  [STMT_FETCH_INBOX_AFTER] = FETCH_INBOX "AND i.seq > ?2 ORDER BY i.seq ASC LIMIT ?3",
  /* Recency is the id of the room's newest message: strictly ordered, unlike
   * a millisecond clock, and free to keep. Pruned-out rooms come last. */
  [STMT_LIST_ROOMS] =
    "SELECT r.name FROM rooms r WHERE r.last_seq > 0"
    " ORDER BY (SELECT m.mid FROM messages m WHERE m.rid = r.rid AND m.seq = r.last_seq) DESC,"
    " r.rid DESC LIMIT ?1",
  [STMT_PRUNE_AGE] = "DELETE FROM messages WHERE received < ?1",
  /* Sequences are gap-free, so a room's newest N are those above last_seq - N.
   * CROSS JOIN keeps rooms outside, so each room is an index range. */
  [STMT_PRUNE_COUNT] =
    "DELETE FROM messages WHERE mid IN (SELECT m.mid FROM rooms r"
    " CROSS JOIN messages m ON m.rid = r.rid AND m.seq <= r.last_seq - ?1"
    " WHERE r.last_seq > ?1)",
};

/* Used from one thread only, hence SQLITE_OPEN_NOMUTEX. */
struct _QuipuStore
{
  sqlite3           *db;
  char              *path;
  QuipuStoreOptions  options;
  int                schema_version;
  gboolean           in_batch;
  sqlite3_stmt      *stmts[N_STMTS];
};

/* A cached statement borrowed for one use: the cleanup resets it, it is not
 * finalized. */
typedef sqlite3_stmt StoreStmt;

static void
stmt_release (StoreStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StoreStmt, stmt_release)

typedef enum {
  STEP_ERROR,
  STEP_ROW,
  STEP_DONE,
} StepResult;

static void
set_db_error (QuipuStore  *store,
              GError     **error,
              const char  *format,
              ...) G_GNUC_PRINTF (3, 4);

static void
set_db_error (QuipuStore  *store,
              GError     **error,
              const char  *format,
              ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
               "%s: %s", what, sqlite3_errmsg (store->db));
}

static StoreStmt *
store_stmt (QuipuStore  *store,
            StmtId       id,
            GError     **error)
{
  if (store->stmts[id] == NULL
      && sqlite3_prepare_v3 (store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                             &store->stmts[id], NULL) != SQLITE_OK)
    {
      set_db_error (store, error, "cannot prepare statement “%s”", stmt_sql[id]);
      return NULL;
    }

  return store->stmts[id];
}

static StepResult
store_step (QuipuStore   *store,
            StoreStmt    *stmt,
            const char   *doing,
            GError      **error)
{
  switch (sqlite3_step (stmt))
    {
    case SQLITE_ROW:
      return STEP_ROW;
    case SQLITE_DONE:
      return STEP_DONE;
    default:
      set_db_error (store, error, "%s", doing);
      return STEP_ERROR;
    }
}

static gboolean
exec_cached (QuipuStore  *store,
             StmtId       id,
             GError     **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, id, error);

  return stmt != NULL && store_step (store, stmt, stmt_sql[id], error) == STEP_DONE;
}

static void
bind_uint64 (StoreStmt *stmt,
             int        index,
             guint64    value)
{
  /* SQLite integers are signed 64-bit; the cast round-trips every value. */
  sqlite3_bind_int64 (stmt, index, (gint64) value);
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static char *
fold_valid_name (const char  *name,
                 GError     **error)
{
  if (!quipu_name_validate (name, -1, error))
    return NULL;
  return quipu_name_fold (name);
}

static gboolean
copy_blob (StoreStmt *stmt,
           int        column,
           guint8    *dest,
           gsize      size)
{
  const void *blob = sqlite3_column_blob (stmt, column);

  if (blob == NULL || (gsize) sqlite3_column_bytes (stmt, column) != size)
    return FALSE;
  memcpy (dest, blob, size);
  return TRUE;
}

/* Opening */

static gboolean
create_private_file (const char  *path,
                     GError     **error)
{
  /* Creating the file ourselves gives it 0600 whatever the umask, without
   * touching the process-wide umask; SQLite gives its -wal and -shm files the
   * same mode. An existing file keeps the mode its owner chose. */
  int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int saved_errno = errno;

  if (fd < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "cannot open database %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  g_close (fd, NULL);
  return TRUE;
}

static gboolean
exec_sql (QuipuStore  *store,
          const char  *sql,
          GError     **error)
{
  if (sqlite3_exec (store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    {
      set_db_error (store, error, "database %s", store->path);
      return FALSE;
    }
  return TRUE;
}

/* Runs a one-off statement returning one row and gives its first column. */
static gboolean
query_one (QuipuStore    *store,
           const char    *sql,
           gint64        *as_int,
           char         **as_text,
           GError       **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  ok = sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) == SQLITE_OK
       && sqlite3_step (stmt) == SQLITE_ROW;
  if (ok && as_int != NULL)
    *as_int = sqlite3_column_int64 (stmt, 0);
  if (ok && as_text != NULL)
    *as_text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  if (!ok)
    set_db_error (store, error, "database %s", store->path);

  sqlite3_finalize (stmt);
  return ok;
}

static gboolean
configure (QuipuStore  *store,
           GError     **error)
{
  g_autofree char *journal_mode = NULL;

  sqlite3_busy_timeout (store->db, BUSY_TIMEOUT_MS);

  /* The first statement that reads the file: it reports a file that is not
   * a database. */
  if (!query_one (store, "PRAGMA journal_mode = WAL", NULL, &journal_mode, error))
    return FALSE;
  if (g_strcmp0 (journal_mode, "wal") != 0)
    g_warning ("database %s: journal mode is %s, not WAL; writers will block readers",
               store->path, journal_mode);

  return exec_sql (store,
                   store->options.synchronous_full
                   ? "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"
                   : "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                   error);
}

/* Called inside a write transaction, so two servers opening the same file
 * cannot both apply a migration. */
static gboolean
apply_next_migration (QuipuStore  *store,
                      gboolean    *done,
                      GError     **error)
{
  const gint64 latest = G_N_ELEMENTS (migrations);
  g_autofree char *bump = NULL;
  gint64 version;

  if (!query_one (store, "PRAGMA user_version", &version, NULL, error))
    return FALSE;

  if (version < 0 || version > latest)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "database %s has schema version %" G_GINT64_FORMAT
                   "; this quipu-server knows up to %" G_GINT64_FORMAT,
                   store->path, version, latest);
      return FALSE;
    }

  store->schema_version = version;
  *done = version == latest;
  if (*done)
    return TRUE;

  g_debug ("database %s: migrating schema to version %" G_GINT64_FORMAT,
           store->path, version + 1);
  bump = g_strdup_printf ("PRAGMA user_version = %" G_GINT64_FORMAT, version + 1);
  return exec_sql (store, migrations[version], error) && exec_sql (store, bump, error);
}

static gboolean
migrate (QuipuStore  *store,
         GError     **error)
{
  gboolean done = FALSE;

  while (!done)
    {
      if (!exec_sql (store, "BEGIN IMMEDIATE", error))
        return FALSE;
      if (!apply_next_migration (store, &done, error)
          || !exec_sql (store, "COMMIT", error))
        {
          sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
apply_synchronous (QuipuStore  *store,
                   GError     **error)
{
  return exec_sql (store,
                   store->options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                   error);
}

gboolean
quipu_store_set_options (QuipuStore               *store,
                         const QuipuStoreOptions  *options,
                         GError                  **error)
{
  gboolean sync_changed;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (!store->in_batch, FALSE);

  sync_changed = store->options.synchronous_full != options->synchronous_full;
  store->options = *options;
  return !sync_changed || apply_synchronous (store, error);
}

QuipuStore *
quipu_store_open (const char               *path,
                  const QuipuStoreOptions  *options,
                  GError                  **error)
{
  g_autoptr(QuipuStore) store = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  store = g_new0 (QuipuStore, 1);
  store->path = g_strdup (path);
  if (options != NULL)
    store->options = *options;

  if (!create_private_file (path, error))
    return NULL;

  if (sqlite3_open_v2 (path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       NULL) != SQLITE_OK)
    {
      set_db_error (store, error, "cannot open database %s", path);
      return NULL;
    }

  if (!configure (store, error) || !migrate (store, error))
    return NULL;

  return g_steal_pointer (&store);
}

void
quipu_store_free (QuipuStore *store)
{
  if (store == NULL)
    return;

  for (guint i = 0; i < N_STMTS; i++)
    sqlite3_finalize (store->stmts[i]);
  /* Rolls back a batch left open. */
  sqlite3_close_v2 (store->db);
  g_free (store->path);
  g_free (store);
}

int
quipu_store_schema_version (QuipuStore *store)
{
  g_return_val_if_fail (store != NULL, 0);

  return store->schema_version;
}

/* Transactions */

gboolean
quipu_store_begin (QuipuStore  *store,
                   GError     **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (!store->in_batch, FALSE);

  if (!exec_cached (store, STMT_BEGIN, error))
    return FALSE;
  store->in_batch = TRUE;
  return TRUE;
}

gboolean
quipu_store_commit (QuipuStore  *store,
                    GError     **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (store->in_batch, FALSE);

  /* On failure the batch stays open for the caller to roll back. */
  if (!exec_cached (store, STMT_COMMIT, error))
    return FALSE;
  store->in_batch = FALSE;
  return TRUE;
}

static void
rollback_quietly (QuipuStore *store,
                  StmtId      id)
{
  g_autoptr(GError) error = NULL;

  if (!exec_cached (store, id, &error))
    g_warning ("database %s: %s", store->path, error->message);
}

void
quipu_store_rollback (QuipuStore *store)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (store->in_batch);

  /* SQLite may have rolled back already (a failed COMMIT, SQLITE_FULL…). */
  if (!sqlite3_get_autocommit (store->db))
    rollback_quietly (store, STMT_ROLLBACK);
  store->in_batch = FALSE;
}

/* Every mutating call is atomic. Inside a batch it runs in a savepoint, so a
 * call that fails leaves the batch as it was and the caller may go on;
 * outside, it is its own write transaction. */
static gboolean
op_begin (QuipuStore  *store,
          GError     **error)
{
  if (!store->in_batch)
    return exec_cached (store, STMT_BEGIN, error);

  if (sqlite3_get_autocommit (store->db))
    {
      /* Going on would write outside the batch the caller will roll back. */
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "database %s: the batch was rolled back by an earlier error",
                   store->path);
      return FALSE;
    }
  return exec_cached (store, STMT_SAVEPOINT, error);
}

static void
op_abort (QuipuStore *store)
{
  if (sqlite3_get_autocommit (store->db))
    return;

  if (store->in_batch)
    {
      rollback_quietly (store, STMT_ROLLBACK_TO);
      rollback_quietly (store, STMT_RELEASE);
    }
  else
    rollback_quietly (store, STMT_ROLLBACK);
}

static gboolean
op_end (QuipuStore  *store,
        gboolean     ok,
        GError     **error)
{
  if (ok && exec_cached (store, store->in_batch ? STMT_RELEASE : STMT_COMMIT, error))
    return TRUE;

  op_abort (store);
  return FALSE;
}

/* Room spellings */

static char *
claim_room (QuipuStore  *store,
            const char  *name,
            GError     **error)
{
  g_autofree char *fold = fold_valid_name (name, error);
  g_autoptr(StoreStmt) stmt = NULL;

  if (fold == NULL || (stmt = store_stmt (store, STMT_ROOM_CLAIM, error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, fold, -1, SQLITE_STATIC);
  if (store_step (store, stmt, "cannot record a room", error) != STEP_ROW)
    return NULL;
  return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
}

char *
quipu_store_claim_room (QuipuStore  *store,
                        const char  *name,
                        GError     **error)
{
  g_autofree char *spelling = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!op_begin (store, error))
    return NULL;
  spelling = claim_room (store, name, error);
  if (!op_end (store, spelling != NULL, spelling != NULL ? error : NULL))
    return NULL;
  return g_steal_pointer (&spelling);
}

/* Name registry */

static QuipuRegisterResult
register_user (QuipuStore    *store,
               const char    *name,
               const char    *fold,
               const guint8   key[QUIPU_KEY_SIZE],
               gint64        *uid,
               char         **display_name,
               GError       **error)
{
  g_autoptr(StoreStmt) find = store_stmt (store, STMT_USER_BY_FOLD, error);
  g_autoptr(StoreStmt) insert = NULL;
  guint8 known_key[QUIPU_KEY_SIZE];

  if (find == NULL)
    return QUIPU_REGISTER_TAKEN;

  sqlite3_bind_text (find, 1, fold, -1, SQLITE_STATIC);
  switch (store_step (store, find, "cannot look up a user", error))
    {
    case STEP_ERROR:
      return QUIPU_REGISTER_TAKEN;

    case STEP_ROW:
      /* A malformed stored key matches no one: fail closed. */
      if (!copy_blob (find, 2, known_key, sizeof known_key)
          || memcmp (known_key, key, QUIPU_KEY_SIZE) != 0)
        return QUIPU_REGISTER_TAKEN;
      *uid = sqlite3_column_int64 (find, 0);
      *display_name = g_strdup ((const char *) sqlite3_column_text (find, 1));
      return QUIPU_REGISTER_KNOWN;

    case STEP_DONE:
    default:
      break;
    }

  insert = store_stmt (store, STMT_USER_INSERT, error);
  if (insert == NULL)
    return QUIPU_REGISTER_TAKEN;

  sqlite3_bind_text (insert, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 2, fold, -1, SQLITE_STATIC);
  sqlite3_bind_blob (insert, 3, key, QUIPU_KEY_SIZE, SQLITE_STATIC);
  sqlite3_bind_int64 (insert, 4, now_ms ());
  if (store_step (store, insert, "cannot register a user", error) != STEP_DONE)
    return QUIPU_REGISTER_TAKEN;

  *uid = sqlite3_last_insert_rowid (store->db);
  *display_name = g_strdup (name);
  return QUIPU_REGISTER_NEW;
}

QuipuRegisterResult
quipu_store_register_user (QuipuStore    *store,
                           const char    *name,
                           const guint8   key[QUIPU_KEY_SIZE],
                           gint64        *uid,
                           char         **display_name,
                           GError       **error)
{
  g_autofree char *fold = NULL;
  g_autofree char *display = NULL;
  g_autoptr(GError) local_error = NULL;
  QuipuRegisterResult result;
  gint64 id = 0;

  g_return_val_if_fail (store != NULL, QUIPU_REGISTER_TAKEN);
  g_return_val_if_fail (name != NULL, QUIPU_REGISTER_TAKEN);
  g_return_val_if_fail (key != NULL, QUIPU_REGISTER_TAKEN);

  fold = fold_valid_name (name, error);
  if (fold == NULL || !op_begin (store, error))
    return QUIPU_REGISTER_TAKEN;

  result = register_user (store, name, fold, key, &id, &display, &local_error);
  if (!op_end (store, local_error == NULL, local_error == NULL ? error : NULL))
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      return QUIPU_REGISTER_TAKEN;
    }

  if (result != QUIPU_REGISTER_TAKEN)
    {
      if (uid != NULL)
        *uid = id;
      if (display_name != NULL)
        *display_name = g_steal_pointer (&display);
    }
  return result;
}

gboolean
quipu_store_lookup_user (QuipuStore  *store,
                         const char  *name,
                         gint64      *uid,
                         char       **display_name,
                         guint8       key[QUIPU_KEY_SIZE],
                         GError     **error)
{
  g_autofree char *fold = NULL;
  g_autoptr(StoreStmt) stmt = NULL;
  guint8 found_key[QUIPU_KEY_SIZE];

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  fold = fold_valid_name (name, error);
  if (fold == NULL || (stmt = store_stmt (store, STMT_USER_BY_FOLD, error)) == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, fold, -1, SQLITE_STATIC);
  if (store_step (store, stmt, "cannot look up a user", error) != STEP_ROW)
    return FALSE;

  if (!copy_blob (stmt, 2, found_key, sizeof found_key))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "database %s: user %s has a malformed key", store->path, name);
      return FALSE;
    }

  if (uid != NULL)
    *uid = sqlite3_column_int64 (stmt, 0);
  if (display_name != NULL)
    *display_name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  if (key != NULL)
    memcpy (key, found_key, QUIPU_KEY_SIZE);
  return TRUE;
}

/* Messages */

typedef struct {
  gboolean  exists;
  gint64    mid;
  guint64   seq;        /* room sequence; 0 for a direct message */
  char     *room_fold;  /* NULL for a direct message */
} PriorMessage;

static void
prior_message_clear (PriorMessage *prior)
{
  g_clear_pointer (&prior->room_fold, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PriorMessage, prior_message_clear)

/* Finds the message `sender_uid` already stored under `client_msg_id`, and
 * checks that the sender exists. */
static gboolean
find_prior_message (QuipuStore    *store,
                    gint64         sender_uid,
                    guint64        client_msg_id,
                    PriorMessage  *prior,
                    GError       **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, STMT_PRIOR_MESSAGE, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, sender_uid);
  bind_uint64 (stmt, 2, client_msg_id);
  switch (store_step (store, stmt, "cannot look for a duplicate message", error))
    {
    case STEP_ERROR:
      return FALSE;

    case STEP_DONE:
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "no user with id %" G_GINT64_FORMAT, sender_uid);
      return FALSE;

    case STEP_ROW:
    default:
      break;
    }

  prior->exists = sqlite3_column_type (stmt, 0) != SQLITE_NULL;
  prior->mid = sqlite3_column_int64 (stmt, 0);
  prior->seq = sqlite3_column_int64 (stmt, 1);
  if (sqlite3_column_int (stmt, 2))
    prior->room_fold = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  return TRUE;
}

static void
set_reused_id_error (GError     **error,
                     guint64      client_msg_id,
                     const char  *used_for)
{
  g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_REQUEST,
               "client message id %" G_GUINT64_FORMAT " was already used for %s",
               client_msg_id, used_for);
}

static gboolean
insert_message (QuipuStore    *store,
                gint64         sender_uid,
                guint64        client_msg_id,
                gint64         rid,
                guint64        seq,
                const char    *recipients,
                const char    *body,
                guint64        timestamp,
                const guint8  *signature,
                gint64        *mid,
                GError       **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, STMT_MESSAGE_INSERT, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, sender_uid);
  bind_uint64 (stmt, 2, client_msg_id);
  if (recipients == NULL)
    {
      sqlite3_bind_int64 (stmt, 3, rid);
      bind_uint64 (stmt, 4, seq);
    }
  else
    sqlite3_bind_text (stmt, 5, recipients, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, body, -1, SQLITE_STATIC);
  bind_uint64 (stmt, 7, timestamp);
  sqlite3_bind_int64 (stmt, 8, now_ms ());
  sqlite3_bind_blob (stmt, 9, signature, QUIPU_SIGNATURE_SIZE, SQLITE_STATIC);

  if (store_step (store, stmt, "cannot store a message", error) != STEP_DONE)
    return FALSE;

  *mid = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

static gboolean
add_room_message (QuipuStore    *store,
                  gint64         sender_uid,
                  const char    *room,
                  const char    *fold,
                  guint64        client_msg_id,
                  const char    *body,
                  guint64        timestamp,
                  const guint8  *signature,
                  guint64       *seq,
                  gboolean      *duplicate,
                  GError       **error)
{
  g_auto(PriorMessage) prior = { 0, };
  g_autoptr(StoreStmt) next_seq = NULL;
  gint64 rid, mid;

  if (!find_prior_message (store, sender_uid, client_msg_id, &prior, error))
    return FALSE;

  if (prior.exists)
    {
      /* A retransmission; the same id elsewhere is a client bug that a
       * sequence from another room or inbox would only hide. */
      if (g_strcmp0 (prior.room_fold, fold) != 0)
        {
          set_reused_id_error (error, client_msg_id,
                               prior.room_fold != NULL ? "another room" : "a direct message");
          return FALSE;
        }
      *seq = prior.seq;
      *duplicate = TRUE;
      return TRUE;
    }

  next_seq = store_stmt (store, STMT_ROOM_NEXT_SEQ, error);
  if (next_seq == NULL)
    return FALSE;
  sqlite3_bind_text (next_seq, 1, room, -1, SQLITE_STATIC);
  sqlite3_bind_text (next_seq, 2, fold, -1, SQLITE_STATIC);
  if (store_step (store, next_seq, "cannot advance the room sequence", error) != STEP_ROW)
    return FALSE;
  rid = sqlite3_column_int64 (next_seq, 0);
  *seq = sqlite3_column_int64 (next_seq, 1);

  *duplicate = FALSE;
  return insert_message (store, sender_uid, client_msg_id, rid, *seq, NULL,
                         body, timestamp, signature, &mid, error);
}

gboolean
quipu_store_add_room_message (QuipuStore   *store,
                              gint64        sender_uid,
                              const char   *room,
                              guint64       client_msg_id,
                              const char   *body,
                              guint64       timestamp,
                              const guint8  signature[QUIPU_SIGNATURE_SIZE],
                              guint64      *seq,
                              gboolean     *duplicate,
                              GError      **error)
{
  g_autofree char *fold = NULL;
  guint64 stored_seq = 0;
  gboolean stored_duplicate = FALSE;
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);
  g_return_val_if_fail (signature != NULL, FALSE);

  fold = fold_valid_name (room, error);
  if (fold == NULL || !op_begin (store, error))
    return FALSE;

  ok = add_room_message (store, sender_uid, room, fold, client_msg_id, body, timestamp,
                         signature, &stored_seq, &stored_duplicate, error);
  if (!op_end (store, ok, ok ? error : NULL))
    return FALSE;

  if (seq != NULL)
    *seq = stored_seq;
  if (duplicate != NULL)
    *duplicate = stored_duplicate;
  return TRUE;
}

/* Appends message `mid` to user `uid`'s inbox. */
static gboolean
inbox_append (QuipuStore          *store,
              gint64               uid,
              gint64               mid,
              QuipuProtocolError   unknown_code,
              guint64             *seq,
              GError             **error)
{
  g_autoptr(StoreStmt) next_seq = store_stmt (store, STMT_INBOX_NEXT_SEQ, error);
  g_autoptr(StoreStmt) insert = NULL;

  if (next_seq == NULL)
    return FALSE;

  sqlite3_bind_int64 (next_seq, 1, uid);
  switch (store_step (store, next_seq, "cannot advance an inbox sequence", error))
    {
    case STEP_ERROR:
      return FALSE;

    case STEP_DONE:
      g_set_error (error, QUIPU_PROTOCOL_ERROR, unknown_code,
                   "no user with id %" G_GINT64_FORMAT, uid);
      return FALSE;

    case STEP_ROW:
    default:
      *seq = sqlite3_column_int64 (next_seq, 0);
      break;
    }

  insert = store_stmt (store, STMT_INBOX_INSERT, error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_int64 (insert, 1, uid);
  bind_uint64 (insert, 2, *seq);
  sqlite3_bind_int64 (insert, 3, mid);
  return store_step (store, insert, "cannot append to an inbox", error) == STEP_DONE;
}

static gboolean
inbox_seq_of (QuipuStore  *store,
              gint64       mid,
              gint64       uid,
              guint64     *seq,
              GError     **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, STMT_INBOX_SEQ_OF, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, mid);
  sqlite3_bind_int64 (stmt, 2, uid);
  switch (store_step (store, stmt, "cannot find an inbox entry", error))
    {
    case STEP_ERROR:
      return FALSE;

    case STEP_DONE:
      /* Pruned by age while the client was still retransmitting. */
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "message %" G_GINT64_FORMAT " is not in the inbox of user %" G_GINT64_FORMAT,
                   mid, uid);
      return FALSE;

    case STEP_ROW:
    default:
      *seq = sqlite3_column_int64 (stmt, 0);
      return TRUE;
    }
}

static gboolean
add_direct_message (QuipuStore         *store,
                    gint64              sender_uid,
                    const gint64       *recipient_uids,
                    guint               n_recipients,
                    const char         *recipients,
                    guint64             client_msg_id,
                    const char         *body,
                    guint64             timestamp,
                    const guint8       *signature,
                    guint64            *sender_seq,
                    guint64            *recipient_seqs,
                    gboolean           *duplicate,
                    GError            **error)
{
  g_auto(PriorMessage) prior = { 0, };
  gint64 mid;

  if (!find_prior_message (store, sender_uid, client_msg_id, &prior, error))
    return FALSE;

  if (prior.exists)
    {
      if (prior.room_fold != NULL)
        {
          set_reused_id_error (error, client_msg_id, "a room message");
          return FALSE;
        }
      *duplicate = TRUE;
      return inbox_seq_of (store, prior.mid, sender_uid, sender_seq, error);
    }

  *duplicate = FALSE;
  if (!insert_message (store, sender_uid, client_msg_id, 0, 0, recipients,
                       body, timestamp, signature, &mid, error)
      || !inbox_append (store, sender_uid, mid, QUIPU_PROTOCOL_ERROR_SERVER, sender_seq, error))
    return FALSE;

  for (guint i = 0; i < n_recipients; i++)
    {
      guint j;

      /* One inbox entry per user, however often they are named. */
      if (recipient_uids[i] == sender_uid)
        {
          recipient_seqs[i] = *sender_seq;
          continue;
        }
      for (j = 0; j < i && recipient_uids[j] != recipient_uids[i]; j++)
        ;
      if (j < i)
        recipient_seqs[i] = recipient_seqs[j];
      else if (!inbox_append (store, recipient_uids[i], mid,
                              QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT, &recipient_seqs[i], error))
        return FALSE;
    }

  return TRUE;
}

/* Validates the names and joins them for the recipients column. */
static char *
join_recipients (const char *const  *names,
                 guint               n_names,
                 GError            **error)
{
  g_autoptr(GString) joined = g_string_new (NULL);

  if (n_names == 0 || n_names > QUIPU_MAX_RECIPIENTS)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_REQUEST,
                   "a direct message needs 1 to %d recipients, not %u",
                   QUIPU_MAX_RECIPIENTS, n_names);
      return NULL;
    }

  for (guint i = 0; i < n_names; i++)
    {
      if (!quipu_name_validate (names[i], -1, error))
        return NULL;
      if (i > 0)
        g_string_append_c (joined, ',');
      g_string_append (joined, names[i]);
    }

  return g_string_free (g_steal_pointer (&joined), FALSE);
}

gboolean
quipu_store_add_direct_message (QuipuStore        *store,
                                gint64             sender_uid,
                                const gint64      *recipient_uids,
                                const char *const *recipient_names,
                                guint              n_recipients,
                                guint64            client_msg_id,
                                const char        *body,
                                guint64            timestamp,
                                const guint8       signature[QUIPU_SIGNATURE_SIZE],
                                guint64           *sender_seq,
                                guint64           *recipient_seqs,
                                gboolean          *duplicate,
                                GError           **error)
{
  g_autofree char *recipients = NULL;
  guint64 seqs[QUIPU_MAX_RECIPIENTS];
  guint64 stored_sender_seq = 0;
  gboolean stored_duplicate = FALSE;
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (recipient_uids != NULL || n_recipients == 0, FALSE);
  g_return_val_if_fail (recipient_names != NULL || n_recipients == 0, FALSE);
  g_return_val_if_fail (body != NULL, FALSE);
  g_return_val_if_fail (signature != NULL, FALSE);

  recipients = join_recipients (recipient_names, n_recipients, error);
  if (recipients == NULL || !op_begin (store, error))
    return FALSE;

  ok = add_direct_message (store, sender_uid, recipient_uids, n_recipients, recipients,
                           client_msg_id, body, timestamp, signature,
                           &stored_sender_seq, seqs, &stored_duplicate, error);
  if (!op_end (store, ok, ok ? error : NULL))
    return FALSE;

  if (sender_seq != NULL)
    *sender_seq = stored_sender_seq;
  if (recipient_seqs != NULL && !stored_duplicate)
    memcpy (recipient_seqs, seqs, n_recipients * sizeof *seqs);
  if (duplicate != NULL)
    *duplicate = stored_duplicate;
  return TRUE;
}

/* Reading */

void
quipu_stored_message_free (QuipuStoredMessage *msg)
{
  if (msg == NULL)
    return;

  g_free (msg->sender);
  g_free (msg->room);
  g_strfreev (msg->recipients);
  g_free (msg->body);
  g_free (msg);
}

static QuipuStoredMessage *
read_message (QuipuStore  *store,
              StoreStmt   *stmt,
              GError     **error)
{
  g_autoptr(QuipuStoredMessage) msg = g_new0 (QuipuStoredMessage, 1);
  const char *sender = (const char *) sqlite3_column_text (stmt, COL_SENDER);
  const char *room = (const char *) sqlite3_column_text (stmt, COL_ROOM);
  const char *recipients = (const char *) sqlite3_column_text (stmt, COL_RECIPIENTS);
  const char *body = (const char *) sqlite3_column_text (stmt, COL_BODY);

  msg->id = sqlite3_column_int64 (stmt, COL_MID);
  if (sender == NULL || body == NULL || (room == NULL) == (recipients == NULL)
      || !copy_blob (stmt, COL_SENDER_KEY, msg->sender_key, sizeof msg->sender_key)
      || !copy_blob (stmt, COL_SIGNATURE, msg->signature, sizeof msg->signature))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "database %s: message %" G_GINT64_FORMAT " is malformed",
                   store->path, msg->id);
      return NULL;
    }

  msg->sender_uid = sqlite3_column_int64 (stmt, COL_SENDER_UID);
  msg->sender = g_strdup (sender);
  msg->room = g_strdup (room);
  if (recipients != NULL)
    msg->recipients = g_strsplit (recipients, ",", -1);
  msg->client_msg_id = sqlite3_column_int64 (stmt, COL_CLIENT_MSG_ID);
  msg->seq = sqlite3_column_int64 (stmt, COL_SEQ);
  msg->body = g_strdup (body);
  msg->timestamp = sqlite3_column_int64 (stmt, COL_TIMESTAMP);
  return g_steal_pointer (&msg);
}

/* Looks up a room by name; *rid is 0 when there is no such room. */
static gboolean
find_room (QuipuStore  *store,
           const char  *room,
           gint64      *rid,
           guint64     *last_seq,
           GError     **error)
{
  g_autofree char *fold = fold_valid_name (room, error);
  g_autoptr(StoreStmt) stmt = NULL;

  if (fold == NULL || (stmt = store_stmt (store, STMT_ROOM_BY_FOLD, error)) == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, fold, -1, SQLITE_STATIC);
  switch (store_step (store, stmt, "cannot look up a room", error))
    {
    case STEP_ERROR:
      return FALSE;

    case STEP_DONE:
      *rid = 0;
      *last_seq = 0;
      return TRUE;

    case STEP_ROW:
    default:
      *rid = sqlite3_column_int64 (stmt, 0);
      *last_seq = sqlite3_column_int64 (stmt, 1);
      return TRUE;
    }
}

static void
ptr_array_reverse (GPtrArray *array)
{
  for (guint i = 0, j = array->len; i + 1 < j; i++, j--)
    {
      gpointer tmp = array->pdata[i];

      array->pdata[i] = array->pdata[j - 1];
      array->pdata[j - 1] = tmp;
    }
}

static StmtId
fetch_stmt_id (gboolean            room,
               QuipuFetchDirection direction)
{
  if (room)
    return direction == QUIPU_FETCH_BEFORE ? STMT_FETCH_ROOM_BEFORE : STMT_FETCH_ROOM_AFTER;
  return direction == QUIPU_FETCH_BEFORE ? STMT_FETCH_INBOX_BEFORE : STMT_FETCH_INBOX_AFTER;
}

GPtrArray *
quipu_store_fetch (QuipuStore          *store,
                   const char          *room,
                   gint64               inbox_uid,
                   QuipuFetchDirection  direction,
                   guint64              seq,
                   guint                limit,
                   gboolean            *more,
                   GError             **error)
{
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(StoreStmt) stmt = NULL;
  gint64 key = inbox_uid;
  gboolean has_more = FALSE;
  StepResult step;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (direction == QUIPU_FETCH_BEFORE || direction == QUIPU_FETCH_AFTER, NULL);

  messages = g_ptr_array_new_with_free_func ((GDestroyNotify) quipu_stored_message_free);

  if (room != NULL)
    {
      guint64 last_seq;

      if (!find_room (store, room, &key, &last_seq, error))
        return NULL;
      if (key == 0)
        {
          if (more != NULL)
            *more = FALSE;
          return g_steal_pointer (&messages);
        }
    }

  stmt = store_stmt (store, fetch_stmt_id (room != NULL, direction), error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, key);
  /* Larger values cannot be sequences; G_MAXUINT64 works like G_MAXINT64. */
  sqlite3_bind_int64 (stmt, 2, (gint64) MIN (seq, (guint64) G_MAXINT64));
  /* One extra row tells whether there is more. */
  sqlite3_bind_int64 (stmt, 3, (gint64) limit + 1);

  while ((step = store_step (store, stmt, "cannot fetch messages", error)) == STEP_ROW)
    {
      QuipuStoredMessage *msg;

      if (messages->len == limit)
        {
          has_more = TRUE;
          break;
        }
      if ((msg = read_message (store, stmt, error)) == NULL)
        return NULL;
      g_ptr_array_add (messages, msg);
    }
  if (step == STEP_ERROR)
    return NULL;

  if (direction == QUIPU_FETCH_BEFORE)
    ptr_array_reverse (messages);

  if (more != NULL)
    *more = has_more;
  return g_steal_pointer (&messages);
}

guint64
quipu_store_room_last_seq (QuipuStore  *store,
                           const char  *room,
                           GError     **error)
{
  gint64 rid;
  guint64 last_seq;

  g_return_val_if_fail (store != NULL, 0);
  g_return_val_if_fail (room != NULL, 0);

  if (!find_room (store, room, &rid, &last_seq, error))
    return 0;
  return last_seq;
}

static gboolean
inbox_state (QuipuStore  *store,
             gint64       uid,
             guint64     *inbox_seq,
             guint64     *delivered_seq,
             GError     **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, STMT_INBOX_STATE, error);

  *inbox_seq = *delivered_seq = 0;
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, uid);
  switch (store_step (store, stmt, "cannot read an inbox", error))
    {
    case STEP_ERROR:
      return FALSE;

    case STEP_ROW:
      *inbox_seq = sqlite3_column_int64 (stmt, 0);
      *delivered_seq = sqlite3_column_int64 (stmt, 1);
      return TRUE;

    case STEP_DONE:
    default:
      return TRUE;
    }
}

guint64
quipu_store_inbox_last_seq (QuipuStore  *store,
                            gint64       uid,
                            GError     **error)
{
  guint64 inbox_seq, delivered_seq;

  g_return_val_if_fail (store != NULL, 0);

  inbox_state (store, uid, &inbox_seq, &delivered_seq, error);
  return inbox_seq;
}

guint64
quipu_store_get_delivered (QuipuStore  *store,
                           gint64       uid,
                           GError     **error)
{
  guint64 inbox_seq, delivered_seq;

  g_return_val_if_fail (store != NULL, 0);

  inbox_state (store, uid, &inbox_seq, &delivered_seq, error);
  return delivered_seq;
}

static gboolean
set_delivered (QuipuStore  *store,
               gint64       uid,
               guint64      seq,
               GError     **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, STMT_SET_DELIVERED, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, uid);
  bind_uint64 (stmt, 2, MIN (seq, (guint64) G_MAXINT64));
  if (store_step (store, stmt, "cannot record a delivery", error) != STEP_DONE)
    return FALSE;

  if (sqlite3_changes (store->db) == 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER,
                   "user %" G_GINT64_FORMAT " has no inbox sequence %" G_GUINT64_FORMAT,
                   uid, seq);
      return FALSE;
    }
  return TRUE;
}

gboolean
quipu_store_set_delivered (QuipuStore  *store,
                           gint64       uid,
                           guint64      seq,
                           GError     **error)
{
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);

  if (!op_begin (store, error))
    return FALSE;
  ok = set_delivered (store, uid, seq, error);
  return op_end (store, ok, ok ? error : NULL);
}

GStrv
quipu_store_list_rooms (QuipuStore  *store,
                        guint        limit,
                        GError     **error)
{
  g_autoptr(GStrvBuilder) names = NULL;
  g_autoptr(StoreStmt) stmt = NULL;
  StepResult step;

  g_return_val_if_fail (store != NULL, NULL);

  stmt = store_stmt (store, STMT_LIST_ROOMS, error);
  if (stmt == NULL)
    return NULL;

  names = g_strv_builder_new ();
  sqlite3_bind_int64 (stmt, 1, limit);
  while ((step = store_step (store, stmt, "cannot list rooms", error)) == STEP_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (stmt, 0);

      if (name != NULL)
        g_strv_builder_add (names, name);
    }
  if (step == STEP_ERROR)
    return NULL;

  return g_strv_builder_end (names);
}

/* Retention */

static gboolean
run_prune (QuipuStore  *store,
           StmtId       id,
           gint64       value,
           gint64      *removed,
           GError     **error)
{
  g_autoptr(StoreStmt) stmt = store_stmt (store, id, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, value);
  if (store_step (store, stmt, "cannot prune messages", error) != STEP_DONE)
    return FALSE;

  /* Counts the messages only, not the inbox rows the cascade removed. */
  *removed += sqlite3_changes64 (store->db);
  return TRUE;
}

static gboolean
prune (QuipuStore  *store,
       guint64      now,
       gint64      *removed,
       GError     **error)
{
  guint64 span = store->options.history_days * MS_PER_DAY;

  if (store->options.history_days > 0 && now > span
      && !run_prune (store, STMT_PRUNE_AGE, (gint64) MIN (now - span, (guint64) G_MAXINT64),
                     removed, error))
    return FALSE;

  return store->options.history_max_per_room == 0
         || run_prune (store, STMT_PRUNE_COUNT, store->options.history_max_per_room,
                       removed, error);
}

gint64
quipu_store_prune (QuipuStore  *store,
                   guint64      now,
                   GError     **error)
{
  gint64 removed = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL, -1);

  if (!op_begin (store, error))
    return -1;
  ok = prune (store, now, &removed, error);
  if (!op_end (store, ok, ok ? error : NULL))
    return -1;

  if (removed > 0)
    g_debug ("database %s: pruned %" G_GINT64_FORMAT " messages", store->path, removed);
  return removed;
}
