#define G_LOG_DOMAIN "quipu-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <glib/gstdio.h>

#include "quipu-names.h"
#include "quipu-store-private.h"

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
  /* 2: when each name last logged in and each room was last joined, so
   * names unused for long and rooms that never had a message can go (see
   * quipu_store_prune_state). Existing ones count from now. */
  "ALTER TABLE users ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;"
  "UPDATE users SET last_seen = CAST (strftime ('%s', 'now') AS INTEGER) * 1000;"
  "ALTER TABLE rooms ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0;"
  "UPDATE rooms SET claimed = CAST (strftime ('%s', 'now') AS INTEGER) * 1000;"
  "CREATE INDEX messages_sender ON messages (sender);",
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

/* Every statement the store runs, by StmtId (quipu-store-private.h), kept
 * here next to the schema they query. */
static const char * const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_SAVEPOINT] = "SAVEPOINT quipu_op",
  [STMT_RELEASE] = "RELEASE quipu_op",
  [STMT_ROLLBACK_TO] = "ROLLBACK TO quipu_op",
  [STMT_USER_BY_FOLD] = "SELECT uid, name, key FROM users WHERE fold = ?1",
  [STMT_USER_INSERT] = "INSERT INTO users (name, fold, key, created, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
  /* At most one write a day per user: a login on a full disk still works. */
  [STMT_USER_SEEN] = "UPDATE users SET last_seen = ?2 WHERE uid = ?1 AND last_seen < ?2 - 86400000",
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
    "INSERT INTO rooms (name, fold, last_seq, claimed) VALUES (?1, ?2, 0, ?3)"
    " ON CONFLICT (fold) DO UPDATE SET claimed = excluded.claimed"
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
  /* The same rows as the fetches above, without their bodies. */
  [STMT_SEQS_ROOM_BEFORE] =
    "SELECT m.seq FROM messages m JOIN users u ON u.uid = m.sender"
    " WHERE m.rid = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3",
  [STMT_SEQS_INBOX_BEFORE] =
    "SELECT i.seq FROM inbox i JOIN messages m ON m.mid = i.mid JOIN users u ON u.uid = m.sender"
    " WHERE i.uid = ?1 AND i.seq < ?2 ORDER BY i.seq DESC LIMIT ?3",
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
  /* A name is given back once unused for the retention period and nothing
   * it sent is left: its inbox goes with it. */
  [STMT_PRUNE_NAMES_INBOX] =
    "DELETE FROM inbox WHERE uid IN (SELECT u.uid FROM users u WHERE u.last_seen < ?1"
    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.sender = u.uid))",
  [STMT_PRUNE_NAMES] =
    "DELETE FROM users WHERE last_seen < ?1"
    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.sender = users.uid)",
  /* Inbox sequences are gap-free like rooms': the newest N are above
   * inbox_seq - N. */
  [STMT_PRUNE_INBOX_COUNT] =
    "DELETE FROM inbox WHERE seq <= (SELECT u.inbox_seq FROM users u WHERE u.uid = inbox.uid) - ?1",
  /* A direct message lives as long as one inbox holds it. */
  [STMT_PRUNE_DIRECT] =
    "DELETE FROM messages WHERE rid IS NULL AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.mid = messages.mid)",
  /* Rooms not joined for a while that never got a message: no sequence to
   * keep, and the spelling is only worth keeping while someone uses it. */
  [STMT_PRUNE_EMPTY_ROOMS] = "DELETE FROM rooms WHERE last_seq = 0 AND claimed < ?1",
};

void
_quipu_store_set_db_error (QuipuStore  *store,
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

StoreStmt *
_quipu_store_stmt (QuipuStore  *store,
                   StmtId       id,
                   GError     **error)
{
  if (store->stmts[id] == NULL
      && sqlite3_prepare_v3 (store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                             &store->stmts[id], NULL) != SQLITE_OK)
    {
      _quipu_store_set_db_error (store, error, "cannot prepare statement “%s”", stmt_sql[id]);
      return NULL;
    }

  return store->stmts[id];
}

StepResult
_quipu_store_step (QuipuStore   *store,
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
      _quipu_store_set_db_error (store, error, "%s", doing);
      return STEP_ERROR;
    }
}

static gboolean
exec_cached (QuipuStore  *store,
             StmtId       id,
             GError     **error)
{
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, id, error);

  return stmt != NULL && _quipu_store_step (store, stmt, stmt_sql[id], error) == STEP_DONE;
}

void
_quipu_store_bind_uint64 (StoreStmt *stmt,
                          int        index,
                          guint64    value)
{
  /* SQLite integers are signed 64-bit; the cast round-trips every value. */
  sqlite3_bind_int64 (stmt, index, (gint64) value);
}

gint64
_quipu_store_now_ms (void)
{
  return g_get_real_time () / 1000;
}

char *
_quipu_store_fold_valid_name (const char  *name,
                              GError     **error)
{
  if (!quipu_name_validate (name, -1, error))
    return NULL;
  return quipu_name_fold (name);
}

gboolean
_quipu_store_copy_blob (StoreStmt *stmt,
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
      _quipu_store_set_db_error (store, error, "database %s", store->path);
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
    _quipu_store_set_db_error (store, error, "database %s", store->path);

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
      _quipu_store_set_db_error (store, error, "cannot open database %s", path);
      return NULL;
    }

  if (!configure (store, error) || !migrate (store, error))
    return NULL;

  /* After the migrations, which must not be the ones to find the disk full. */
  if (store->options.max_pages > 0)
    {
      g_autofree char *sql = g_strdup_printf ("PRAGMA max_page_count = %u", store->options.max_pages);

      if (!query_one (store, sql, NULL, NULL, error))
        return NULL;
    }

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
gboolean
_quipu_store_op_begin (QuipuStore  *store,
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

gboolean
_quipu_store_op_end (QuipuStore  *store,
                     gboolean     ok,
                     GError     **error)
{
  if (ok && exec_cached (store, store->in_batch ? STMT_RELEASE : STMT_COMMIT, error))
    return TRUE;

  op_abort (store);
  return FALSE;
}

/* Retention */

/* One DELETE taking ?1; adds the rows it removed itself (not those a
 * cascade removed) to *removed unless NULL. */
static gboolean
run_prune (QuipuStore  *store,
           StmtId       id,
           gint64       value,
           guint64     *removed,
           GError     **error)
{
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, id, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, value);
  if (_quipu_store_step (store, stmt, "cannot apply retention", error) != STEP_DONE)
    return FALSE;

  if (removed != NULL)
    *removed += sqlite3_changes64 (store->db);
  return TRUE;
}

static gboolean
prune (QuipuStore  *store,
       guint64      now,
       guint64     *removed,
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

static gboolean
prune_state (QuipuStore       *store,
             guint64           now,
             QuipuPruneCounts *counts,
             GError          **error)
{
  guint64 span = store->options.name_days * MS_PER_DAY;

  if (store->options.inbox_max_per_user > 0 &&
      !run_prune (store, STMT_PRUNE_INBOX_COUNT, store->options.inbox_max_per_user,
                        &counts->inbox_entries, error))
    return FALSE;
  if (store->options.name_days > 0 && now > span)
    {
      gint64 cutoff = (gint64) MIN (now - span, (guint64) G_MAXINT64);

      if (!run_prune (store, STMT_PRUNE_NAMES_INBOX, cutoff, &counts->inbox_entries, error) ||
          !run_prune (store, STMT_PRUNE_NAMES, cutoff, &counts->names, error))
        return FALSE;
    }
  span = store->options.empty_room_days * MS_PER_DAY;
  if (store->options.empty_room_days > 0 && now > span &&
      !run_prune (store, STMT_PRUNE_EMPTY_ROOMS, (gint64) MIN (now - span, (guint64) G_MAXINT64),
                        &counts->rooms, error))
    return FALSE;
  return run_prune (store, STMT_PRUNE_DIRECT, 0, NULL, error);
}

gboolean
quipu_store_prune_state (QuipuStore       *store,
                         guint64           now_ms,
                         QuipuPruneCounts *counts,
                         GError          **error)
{
  gboolean ok;

  g_return_val_if_fail (store != NULL, FALSE);

  *counts = (QuipuPruneCounts) { 0 };
  if (!_quipu_store_op_begin (store, error))
    return FALSE;
  ok = prune_state (store, now_ms, counts, error);
  return _quipu_store_op_end (store, ok, ok ? error : NULL);
}

gint64
quipu_store_prune (QuipuStore  *store,
                   guint64      now,
                   GError     **error)
{
  guint64 removed = 0;
  gboolean ok;

  g_return_val_if_fail (store != NULL, -1);

  if (!_quipu_store_op_begin (store, error))
    return -1;
  ok = prune (store, now, &removed, error);
  if (!_quipu_store_op_end (store, ok, ok ? error : NULL))
    return -1;

  if (removed > 0)
    g_debug ("database %s: pruned %" G_GUINT64_FORMAT " messages", store->path, removed);
  return (gint64) removed;
}

