#pragma once

/* What the parts of the store share: the handle, its cached statements and
 * the helpers every query uses. quipu-store.c opens, migrates and prunes;
 * quipu-store-names.c holds users and room spellings, quipu-store-messages.c
 * adds messages, quipu-store-history.c reads them back. Nothing outside
 * quipu-store*.c includes this. */

#include <sqlite3.h>

#include "quipu-store.h"

G_BEGIN_DECLS

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
  STMT_SEQS_ROOM_BEFORE,
  STMT_SEQS_INBOX_BEFORE,
  STMT_LIST_ROOMS,
  STMT_PRUNE_AGE,
  STMT_PRUNE_COUNT,
  STMT_USER_SEEN,
  STMT_PRUNE_NAMES_INBOX,
  STMT_PRUNE_NAMES,
  STMT_PRUNE_INBOX_COUNT,
  STMT_PRUNE_DIRECT,
  STMT_PRUNE_EMPTY_ROOMS,
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

static inline void
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

void        _quipu_store_set_db_error   (QuipuStore  *store,
                                         GError     **error,
                                         const char  *format,
                                         ...) G_GNUC_PRINTF (3, 4);
StoreStmt  *_quipu_store_stmt           (QuipuStore  *store,
                                         StmtId       id,
                                         GError     **error);
StepResult  _quipu_store_step           (QuipuStore   *store,
                                         StoreStmt    *stmt,
                                         const char   *doing,
                                         GError      **error);
void        _quipu_store_bind_uint64    (StoreStmt *stmt,
                                         int        index,
                                         guint64    value);
gint64      _quipu_store_now_ms         (void);
/* The fold of a valid name, or NULL with QUIPU_PROTOCOL_ERROR_BAD_NAME. */
char       *_quipu_store_fold_valid_name (const char  *name,
                                          GError     **error);
/* FALSE if the column is not a blob of exactly `size` bytes. */
gboolean    _quipu_store_copy_blob      (StoreStmt *stmt,
                                         int        column,
                                         guint8    *dest,
                                         gsize      size);

/* Every mutating call is atomic: a savepoint inside a batch, else its own
 * write transaction. _quipu_store_op_end commits (ok) or rolls back (not ok). */
gboolean    _quipu_store_op_begin       (QuipuStore  *store,
                                         GError     **error);
gboolean    _quipu_store_op_end         (QuipuStore  *store,
                                         gboolean     ok,
                                         GError     **error);

G_END_DECLS
