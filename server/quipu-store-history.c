#define G_LOG_DOMAIN "quipu-store"

#include "config.h"

#include <string.h>

#include "quipu-names.h"
#include "quipu-store-private.h"

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
      || !_quipu_store_copy_blob (stmt, COL_SENDER_KEY, msg->sender_key, sizeof msg->sender_key)
      || !_quipu_store_copy_blob (stmt, COL_SIGNATURE, msg->signature, sizeof msg->signature))
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
  g_autofree char *fold = _quipu_store_fold_valid_name (room, error);
  g_autoptr(StoreStmt) stmt = NULL;

  if (fold == NULL || (stmt = _quipu_store_stmt (store, STMT_ROOM_BY_FOLD, error)) == NULL)
    return FALSE;

  sqlite3_bind_text (stmt, 1, fold, -1, SQLITE_STATIC);
  switch (_quipu_store_step (store, stmt, "cannot look up a room", error))
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

  stmt = _quipu_store_stmt (store, fetch_stmt_id (room != NULL, direction), error);
  if (stmt == NULL)
    return NULL;

  sqlite3_bind_int64 (stmt, 1, key);
  /* Larger values cannot be sequences; G_MAXUINT64 works like G_MAXINT64. */
  sqlite3_bind_int64 (stmt, 2, (gint64) MIN (seq, (guint64) G_MAXINT64));
  /* One extra row tells whether there is more. */
  sqlite3_bind_int64 (stmt, 3, (gint64) limit + 1);

  while ((step = _quipu_store_step (store, stmt, "cannot fetch messages", error)) == STEP_ROW)
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

gboolean
quipu_store_page_floor (QuipuStore  *store,
                        const char  *room,
                        gint64       inbox_uid,
                        guint64      before_seq,
                        guint        limit,
                        guint64     *floor_seq,
                        guint       *count,
                        gboolean    *more,
                        GError     **error)
{
  g_autoptr(StoreStmt) stmt = NULL;
  gint64 key = inbox_uid;
  StepResult step;

  g_return_val_if_fail (store != NULL, FALSE);

  *floor_seq = 0;
  *count = 0;
  *more = FALSE;
  if (room != NULL)
    {
      guint64 last_seq;

      if (!find_room (store, room, &key, &last_seq, error))
        return FALSE;
      if (key == 0)
        return TRUE;
    }

  stmt = _quipu_store_stmt (store, room != NULL ? STMT_SEQS_ROOM_BEFORE : STMT_SEQS_INBOX_BEFORE, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, key);
  sqlite3_bind_int64 (stmt, 2, (gint64) MIN (before_seq, (guint64) G_MAXINT64));
  sqlite3_bind_int64 (stmt, 3, (gint64) limit + 1);

  while ((step = _quipu_store_step (store, stmt, "cannot fetch messages", error)) == STEP_ROW)
    {
      if (*count == limit)
        {
          *more = TRUE;
          break;
        }
      *floor_seq = sqlite3_column_int64 (stmt, 0);
      (*count)++;
    }
  return step != STEP_ERROR;
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
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, STMT_INBOX_STATE, error);

  *inbox_seq = *delivered_seq = 0;
  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, uid);
  switch (_quipu_store_step (store, stmt, "cannot read an inbox", error))
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
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, STMT_SET_DELIVERED, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, uid);
  _quipu_store_bind_uint64 (stmt, 2, MIN (seq, (guint64) G_MAXINT64));
  if (_quipu_store_step (store, stmt, "cannot record a delivery", error) != STEP_DONE)
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

  if (!_quipu_store_op_begin (store, error))
    return FALSE;
  ok = set_delivered (store, uid, seq, error);
  return _quipu_store_op_end (store, ok, ok ? error : NULL);
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

  stmt = _quipu_store_stmt (store, STMT_LIST_ROOMS, error);
  if (stmt == NULL)
    return NULL;

  names = g_strv_builder_new ();
  sqlite3_bind_int64 (stmt, 1, limit);
  while ((step = _quipu_store_step (store, stmt, "cannot list rooms", error)) == STEP_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (stmt, 0);

      if (name != NULL)
        g_strv_builder_add (names, name);
    }
  if (step == STEP_ERROR)
    return NULL;

  return g_strv_builder_end (names);
}

