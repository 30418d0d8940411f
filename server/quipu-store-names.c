#define G_LOG_DOMAIN "quipu-store"

#include "config.h"

#include <string.h>

#include "quipu-names.h"
#include "quipu-store-private.h"

/* Room spellings */

static char *
claim_room (QuipuStore  *store,
            const char  *name,
            GError     **error)
{
  g_autofree char *fold = _quipu_store_fold_valid_name (name, error);
  g_autoptr(StoreStmt) stmt = NULL;

  if (fold == NULL || (stmt = _quipu_store_stmt (store, STMT_ROOM_CLAIM, error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, fold, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, _quipu_store_now_ms ());
  if (_quipu_store_step (store, stmt, "cannot record a room", error) != STEP_ROW)
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

  if (!_quipu_store_op_begin (store, error))
    return NULL;
  spelling = claim_room (store, name, error);
  if (!_quipu_store_op_end (store, spelling != NULL, spelling != NULL ? error : NULL))
    return NULL;
  return g_steal_pointer (&spelling);
}

/* Name registry */

/* Best effort: a name's retention counts from its last login, but a login
 * must not fail because the disk is full. */
static void
note_seen (QuipuStore *store,
           gint64      uid)
{
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, STMT_USER_SEEN, NULL);

  if (stmt == NULL)
    return;
  sqlite3_bind_int64 (stmt, 1, uid);
  sqlite3_bind_int64 (stmt, 2, _quipu_store_now_ms ());
  _quipu_store_step (store, stmt, "cannot note a login", NULL);
}

static QuipuRegisterResult
register_user (QuipuStore    *store,
               const char    *name,
               const char    *fold,
               const guint8   key[QUIPU_KEY_SIZE],
               gint64        *uid,
               char         **display_name,
               GError       **error)
{
  g_autoptr(StoreStmt) find = _quipu_store_stmt (store, STMT_USER_BY_FOLD, error);
  g_autoptr(StoreStmt) insert = NULL;
  guint8 known_key[QUIPU_KEY_SIZE];

  if (find == NULL)
    return QUIPU_REGISTER_TAKEN;

  sqlite3_bind_text (find, 1, fold, -1, SQLITE_STATIC);
  switch (_quipu_store_step (store, find, "cannot look up a user", error))
    {
    case STEP_ERROR:
      return QUIPU_REGISTER_TAKEN;

    case STEP_ROW:
      /* A malformed stored key matches no one: fail closed. */
      if (!_quipu_store_copy_blob (find, 2, known_key, sizeof known_key)
          || memcmp (known_key, key, QUIPU_KEY_SIZE) != 0)
        return QUIPU_REGISTER_TAKEN;
      *uid = sqlite3_column_int64 (find, 0);
      *display_name = g_strdup ((const char *) sqlite3_column_text (find, 1));
      note_seen (store, *uid);
      return QUIPU_REGISTER_KNOWN;

    case STEP_DONE:
    default:
      break;
    }

  insert = _quipu_store_stmt (store, STMT_USER_INSERT, error);
  if (insert == NULL)
    return QUIPU_REGISTER_TAKEN;

  sqlite3_bind_text (insert, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 2, fold, -1, SQLITE_STATIC);
  sqlite3_bind_blob (insert, 3, key, QUIPU_KEY_SIZE, SQLITE_STATIC);
  sqlite3_bind_int64 (insert, 4, _quipu_store_now_ms ());
  if (_quipu_store_step (store, insert, "cannot register a user", error) != STEP_DONE)
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

  fold = _quipu_store_fold_valid_name (name, error);
  if (fold == NULL || !_quipu_store_op_begin (store, error))
    return QUIPU_REGISTER_TAKEN;

  result = register_user (store, name, fold, key, &id, &display, &local_error);
  if (!_quipu_store_op_end (store, local_error == NULL, local_error == NULL ? error : NULL))
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

  fold = _quipu_store_fold_valid_name (name, error);
  if (fold == NULL || (stmt = _quipu_store_stmt (store, STMT_USER_BY_FOLD, error)) == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, fold, -1, SQLITE_STATIC);
  if (_quipu_store_step (store, stmt, "cannot look up a user", error) != STEP_ROW)
    return FALSE;

  if (!_quipu_store_copy_blob (stmt, 2, found_key, sizeof found_key))
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

