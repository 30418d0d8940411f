#define G_LOG_DOMAIN "quipu-store"

#include "config.h"

#include <string.h>

#include "quipu-names.h"
#include "quipu-store-private.h"

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
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, STMT_PRIOR_MESSAGE, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, sender_uid);
  _quipu_store_bind_uint64 (stmt, 2, client_msg_id);
  switch (_quipu_store_step (store, stmt, "cannot look for a duplicate message", error))
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
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, STMT_MESSAGE_INSERT, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, sender_uid);
  _quipu_store_bind_uint64 (stmt, 2, client_msg_id);
  if (recipients == NULL)
    {
      sqlite3_bind_int64 (stmt, 3, rid);
      _quipu_store_bind_uint64 (stmt, 4, seq);
    }
  else
    sqlite3_bind_text (stmt, 5, recipients, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, body, -1, SQLITE_STATIC);
  _quipu_store_bind_uint64 (stmt, 7, timestamp);
  sqlite3_bind_int64 (stmt, 8, _quipu_store_now_ms ());
  sqlite3_bind_blob (stmt, 9, signature, QUIPU_SIGNATURE_SIZE, SQLITE_STATIC);

  if (_quipu_store_step (store, stmt, "cannot store a message", error) != STEP_DONE)
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

  next_seq = _quipu_store_stmt (store, STMT_ROOM_NEXT_SEQ, error);
  if (next_seq == NULL)
    return FALSE;
  sqlite3_bind_text (next_seq, 1, room, -1, SQLITE_STATIC);
  sqlite3_bind_text (next_seq, 2, fold, -1, SQLITE_STATIC);
  if (_quipu_store_step (store, next_seq, "cannot advance the room sequence", error) != STEP_ROW)
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

  fold = _quipu_store_fold_valid_name (room, error);
  if (fold == NULL || !_quipu_store_op_begin (store, error))
    return FALSE;

  ok = add_room_message (store, sender_uid, room, fold, client_msg_id, body, timestamp,
                         signature, &stored_seq, &stored_duplicate, error);
  if (!_quipu_store_op_end (store, ok, ok ? error : NULL))
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
  g_autoptr(StoreStmt) next_seq = _quipu_store_stmt (store, STMT_INBOX_NEXT_SEQ, error);
  g_autoptr(StoreStmt) insert = NULL;

  if (next_seq == NULL)
    return FALSE;

  sqlite3_bind_int64 (next_seq, 1, uid);
  switch (_quipu_store_step (store, next_seq, "cannot advance an inbox sequence", error))
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

  insert = _quipu_store_stmt (store, STMT_INBOX_INSERT, error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_int64 (insert, 1, uid);
  _quipu_store_bind_uint64 (insert, 2, *seq);
  sqlite3_bind_int64 (insert, 3, mid);
  return _quipu_store_step (store, insert, "cannot append to an inbox", error) == STEP_DONE;
}

static gboolean
inbox_seq_of (QuipuStore  *store,
              gint64       mid,
              gint64       uid,
              guint64     *seq,
              GError     **error)
{
  g_autoptr(StoreStmt) stmt = _quipu_store_stmt (store, STMT_INBOX_SEQ_OF, error);

  if (stmt == NULL)
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, mid);
  sqlite3_bind_int64 (stmt, 2, uid);
  switch (_quipu_store_step (store, stmt, "cannot find an inbox entry", error))
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
  if (recipients == NULL || !_quipu_store_op_begin (store, error))
    return FALSE;

  ok = add_direct_message (store, sender_uid, recipient_uids, n_recipients, recipients,
                           client_msg_id, body, timestamp, signature,
                           &stored_sender_seq, seqs, &stored_duplicate, error);
  if (!_quipu_store_op_end (store, ok, ok ? error : NULL))
    return FALSE;

  if (sender_seq != NULL)
    *sender_seq = stored_sender_seq;
  if (recipient_seqs != NULL && !stored_duplicate)
    memcpy (recipient_seqs, seqs, n_recipients * sizeof *seqs);
  if (duplicate != NULL)
    *duplicate = stored_duplicate;
  return TRUE;
}

