#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include <glib/gi18n.h>

#include "quipu-endpoint.h"
#include "quipu-error.h"
#include "quipu-identity.h"
#include "quipu-names.h"
#include "quipu-server.h"
#include "quipu-store.h"
#include "quipu-tls.h"
#include "quipu-wire.h"

#define DEFAULT_HISTORY   200
#define MAX_PAGE          1000
#define MAX_ENTRIES       256
#define PRUNE_INTERVAL_S  3600
#define LINGER_MS         1000
#define EXPORTER_LABEL    "EXPORTER-quipu-login"
#define EXPORTER_LEN      32

static const char * const supported_features[] = { "history", "presence", NULL };

typedef struct _Session Session;

typedef struct {
  char      *name;      /* as first seen by this process */
  GPtrArray *members;   /* Session *, not owned */
} Room;

typedef struct {
  gint64     uid;
  GPtrArray *sessions;  /* Session *, not owned */
} OnlineUser;

/* Stream offset after which an inbox message has reached the client. */
typedef struct {
  guint64 end_offset;
  guint64 seq;
} InboxMark;

struct _Session {
  int              ref_count;
  QuipuServer     *server;
  QuipuConnection *conn;
  gint64           uid;        /* 0 until logged in */
  char            *username;
  char            *user_id;
  guint8           key[QUIPU_KEY_SIZE];
  GPtrArray       *rooms;      /* Room *, joined */
  GQueue           marks;      /* InboxMark * */
  guint64          delivered;
  gboolean         refused;
  gboolean         closed;
};

/* What a batch causes, released after its commit: frame bytes, or (bytes
 * NULL) a close that must come after the frames queued before it. */
typedef struct {
  Session *session;
  GBytes  *bytes;
  guint64  inbox_seq;
  guint64  close_code;
  char    *close_reason;
} Outgoing;

struct _QuipuServer {
  QuipuServerConfig       config;
  QuipuStore             *store;
  QuipuServerCredentials *credentials;
  QuipuEndpoint          *endpoint;
  GHashTable             *sessions;      /* QuipuConnection * -> Session * */
  GHashTable             *online;        /* gint64 * uid -> OnlineUser * */
  GHashTable             *rooms;         /* folded name -> Room * */
  /* Frames of one receive batch: store writes share one transaction and
   * everything they cause is sent only after it commits. */
  gboolean                batching;
  gboolean                in_transaction;
  GArray                 *outgoing;      /* Outgoing */
  guint                   prune_id;
};

static void
log_event (GLogLevelFlags level, const char *event, Session *session, const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
log_event (GLogLevelFlags  level,
           const char     *event,
           Session        *session,
           const char     *format,
           ...)
{
  g_autofree char *message = NULL;
  const char *priority = level & G_LOG_LEVEL_WARNING ? "4" : level & G_LOG_LEVEL_MESSAGE ? "5" : "6";
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  {
    const GLogField fields[] = {
      { "PRIORITY", priority, -1 },
      { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
      { "MESSAGE", message, -1 },
      { "QUIPU_EVENT", event, -1 },
      { "QUIPU_PEER", session ? quipu_connection_get_peer (session->conn) : "", -1 },
      { "QUIPU_USER", session && session->username ? session->username : "", -1 },
    };

    g_log_structured_array (level, fields, G_N_ELEMENTS (fields));
  }
}

/* Sessions. */

static Session *
session_ref (Session *session)
{
  session->ref_count++;
  return session;
}

static void
session_unref (Session *session)
{
  if (--session->ref_count > 0)
    return;
  g_queue_clear_full (&session->marks, g_free);
  g_ptr_array_unref (session->rooms);
  quipu_connection_unref (session->conn);
  g_free (session->username);
  g_free (session->user_id);
  g_free (session);
}

static void
outgoing_clear (gpointer data)
{
  Outgoing *out = data;

  session_unref (out->session);
  g_clear_pointer (&out->bytes, g_bytes_unref);
  g_free (out->close_reason);
}

static void
deliver (Session *session, GBytes *bytes, guint64 inbox_seq)
{
  if (session->closed)
    return;

  if (!quipu_connection_queue_bytes (session->conn, bytes))
    {
      if (!quipu_connection_is_closing (session->conn))
        {
          /* A client that stops reading must not hold the server's memory. */
          log_event (G_LOG_LEVEL_WARNING, "slow-client", session,
                     "closing the connection of %s from %s: it stopped reading",
                     session->username ? session->username : "?", quipu_connection_get_peer (session->conn));
          quipu_connection_close (session->conn, QUIPU_PROTOCOL_ERROR_RATE_LIMITED,
                                  "too far behind", 0);
        }
      return;
    }

  if (inbox_seq > 0)
    {
      InboxMark *mark = g_new (InboxMark, 1);

      mark->end_offset = quipu_connection_get_queued_offset (session->conn);
      mark->seq = inbox_seq;
      g_queue_push_tail (&session->marks, mark);
    }
}

static void
session_send (Session *session, GBytes *bytes, guint64 inbox_seq)
{
  QuipuServer *server = session->server;

  if (session->closed)
    return;
  if (server->batching)
    {
      Outgoing out = { session_ref (session), g_bytes_ref (bytes), inbox_seq, 0, NULL };

      g_array_append_val (server->outgoing, out);
      return;
    }
  deliver (session, bytes, inbox_seq);
}

/* Closes after everything already sent to the session, in batch order. */
static void
session_close (Session *session, guint64 code, const char *reason)
{
  QuipuServer *server = session->server;

  if (server->batching)
    {
      Outgoing out = { session_ref (session), NULL, 0, code, g_strdup (reason) };

      g_array_append_val (server->outgoing, out);
      return;
    }
  quipu_connection_close (session->conn, code, reason, LINGER_MS);
}

static void
send_frame (Session *session, const QuipuFrame *frame, guint64 inbox_seq)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = quipu_frame_encode (frame, &error);

  if (bytes == NULL)
    {
      g_critical ("cannot encode %s: %s", quipu_frame_type_to_string (frame->type), error->message);
      return;
    }
  session_send (session, bytes, inbox_seq);
}

static void
send_error (Session *session, QuipuProtocolError code, const char *text, const QuipuFrame *about)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_ERROR);

  quipu_frame_set_uint (frame, QUIPU_FIELD_CODE, code);
  quipu_frame_set_string (frame, QUIPU_FIELD_TEXT, text);
  if (about != NULL && quipu_frame_has (about, QUIPU_FIELD_CLIENT_MSG_ID))
    quipu_frame_set_uint (frame, QUIPU_FIELD_CLIENT_MSG_ID, about->client_msg_id);
  if (about != NULL && about->room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, about->room);
  send_frame (session, frame, 0);
}

/* Refuses a login: ERROR, then close; the close carries the same code and
 * text, so the client learns why even if the ERROR frame is lost. */
static void
refuse (Session *session, QuipuProtocolError code, const char *text)
{
  send_error (session, code, text, NULL);
  session->refused = TRUE;
  session_close (session, code, text);
}

static void
violation (Session *session, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
violation (Session *session, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  log_event (G_LOG_LEVEL_WARNING, "protocol-violation", session, "protocol violation from %s: %s",
             quipu_connection_get_peer (session->conn), text);
  session->refused = TRUE;
  quipu_connection_fail (session->conn, g_error_new_literal (QUIPU_PROTOCOL_ERROR,
                                                             QUIPU_PROTOCOL_ERROR_PROTOCOL, text));
}

static gboolean
ensure_transaction (QuipuServer *server, GError **error)
{
  if (!server->batching || server->in_transaction)
    return TRUE;
  if (!quipu_store_begin (server->store, error))
    return FALSE;
  server->in_transaction = TRUE;
  return TRUE;
}

/* Rooms and presence. */

static void
room_free (gpointer data)
{
  Room *room = data;

  g_free (room->name);
  g_ptr_array_unref (room->members);
  g_free (room);
}

static Room *
room_get (QuipuServer *server, const char *name, gboolean create)
{
  g_autofree char *fold = quipu_name_fold (name);
  Room *room = g_hash_table_lookup (server->rooms, fold);

  if (room == NULL && create)
    {
      room = g_new0 (Room, 1);
      room->name = g_strdup (name);
      room->members = g_ptr_array_new ();
      g_hash_table_insert (server->rooms, g_steal_pointer (&fold), room);
    }
  return room;
}

static gboolean
room_has_user (Room *room, gint64 uid, Session *except)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      Session *member = g_ptr_array_index (room->members, i);

      if (member != except && member->uid == uid)
        return TRUE;
    }
  return FALSE;
}

static void
broadcast_presence (Room *room, Session *subject, QuipuPresenceStatus status)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_PRESENCE);
  g_autoptr(GBytes) bytes = NULL;

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room->name);
  quipu_frame_add_user (frame, subject->username, subject->key);
  quipu_frame_set_uint (frame, QUIPU_FIELD_STATUS, status);
  bytes = quipu_frame_encode (frame, NULL);
  for (guint i = 0; bytes != NULL && i < room->members->len; i++)
    {
      Session *member = g_ptr_array_index (room->members, i);

      if (member->uid != subject->uid)
        session_send (member, bytes, 0);
    }
}

static void
add_room_users (QuipuFrame *frame, Room *room)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < room->members->len && g_hash_table_size (seen) < MAX_ENTRIES; i++)
    {
      Session *member = g_ptr_array_index (room->members, i);

      if (g_hash_table_add (seen, &member->uid))
        quipu_frame_add_user (frame, member->username, member->key);
    }
}

static void
leave_room (Session *session, Room *room)
{
  g_ptr_array_remove (room->members, session);
  g_ptr_array_remove (session->rooms, room);
  if (!room_has_user (room, session->uid, NULL))
    broadcast_presence (room, session, QUIPU_PRESENCE_OFFLINE);
}

/* Messages out of the store. */

static QuipuFrame *
relay_frame_from_stored (const QuipuStoredMessage *msg, const char *room_name, guint64 flags)
{
  QuipuFrame *frame = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, msg->sender);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, msg->sender_key, QUIPU_KEY_SIZE);
  if (msg->room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room_name ? room_name : msg->room);
  for (guint i = 0; msg->recipients != NULL && msg->recipients[i] != NULL; i++)
    quipu_frame_add_string (frame, QUIPU_FIELD_RECIPIENT, msg->recipients[i]);
  quipu_frame_set_uint (frame, QUIPU_FIELD_CLIENT_MSG_ID, msg->client_msg_id);
  quipu_frame_set_uint (frame, QUIPU_FIELD_SEQ, msg->seq);
  quipu_frame_set_uint (frame, QUIPU_FIELD_TIMESTAMP, msg->timestamp);
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY, msg->body);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_SIGNATURE, msg->signature, QUIPU_SIGNATURE_SIZE);
  if (flags != 0)
    quipu_frame_set_uint (frame, QUIPU_FIELD_FLAGS, flags);
  return frame;
}

typedef enum {
  HISTORY_NEVER,          /* resync: what the client missed is news */
  HISTORY_ALWAYS,         /* join, scroll-back */
  HISTORY_IF_DELIVERED,   /* inbox at login: news only if no client of the user had it */
} HistoryMode;

/* Sends a page of a room (room != NULL) or of the session's inbox, then the
 * HISTORY frame that closes it (PROTOCOL.md, "History"). */
static void
send_page (Session             *session,
           Room                *room,
           QuipuFetchDirection  direction,
           guint64              seq,
           guint                limit,
           HistoryMode          mode)
{
  QuipuServer *server = session->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(QuipuFrame) end = quipu_frame_new (QUIPU_FRAME_HISTORY);
  guint64 delivered = 0, last, covered;
  gboolean more = FALSE;
  guint64 flags = 0;

  if (mode == HISTORY_IF_DELIVERED)
    delivered = quipu_store_get_delivered (server->store, session->uid, NULL);
  last = room ? quipu_store_room_last_seq (server->store, room->name, NULL)
              : quipu_store_inbox_last_seq (server->store, session->uid, NULL);

  messages = limit > 0 ? quipu_store_fetch (server->store, room ? room->name : NULL, session->uid,
                                            direction, seq, limit, &more, &error)
                       : g_ptr_array_new ();
  if (messages == NULL)
    {
      log_event (G_LOG_LEVEL_WARNING, "store-error", session, "cannot read history: %s", error->message);
      send_error (session, QUIPU_PROTOCOL_ERROR_SERVER, "cannot read history", NULL);
      return;
    }

  for (guint i = 0; i < messages->len; i++)
    {
      QuipuStoredMessage *msg = g_ptr_array_index (messages, i);
      gboolean history = mode == HISTORY_ALWAYS || (mode == HISTORY_IF_DELIVERED && msg->seq <= delivered);
      g_autoptr(QuipuFrame) frame =
        relay_frame_from_stored (msg, room ? room->name : NULL, history ? QUIPU_FLAG_HISTORY : 0);

      send_frame (session, frame, room ? 0 : msg->seq);
    }

  if (room != NULL)
    quipu_frame_set_string (end, QUIPU_FIELD_ROOM, room->name);
  else
    flags |= QUIPU_FLAG_INBOX;
  if (more)
    flags |= QUIPU_FLAG_MORE;
  quipu_frame_set_uint (end, QUIPU_FIELD_COUNT, messages->len);
  if (direction == QUIPU_FETCH_AFTER)
    {
      /* Everything up to `covered` that exists has now been sent. */
      covered = more ? ((QuipuStoredMessage *) g_ptr_array_index (messages, messages->len - 1))->seq
                     : MAX (last, seq);
      quipu_frame_set_uint (end, QUIPU_FIELD_AFTER_SEQ, seq);
    }
  else
    {
      covered = messages->len > 0 ? ((QuipuStoredMessage *) g_ptr_array_index (messages, 0))->seq
                                  : MIN (seq, last + 1);
      quipu_frame_set_uint (end, QUIPU_FIELD_BEFORE_SEQ, MIN (seq, (guint64) QUIPU_VARINT_MAX));
    }
  quipu_frame_set_uint (end, QUIPU_FIELD_SEQ, covered);
  if (flags != 0)
    quipu_frame_set_uint (end, QUIPU_FIELD_FLAGS, flags);
  send_frame (session, end, 0);
}

/* Frame handlers. */

static gboolean
offers_version (const QuipuFrame *frame, guint64 version)
{
  for (guint i = 0; i < frame->versions->len; i++)
    if (g_array_index (frame->versions, guint64, i) == version)
      return TRUE;
  return FALSE;
}

static void
go_online (Session *session)
{
  QuipuServer *server = session->server;
  OnlineUser *user = g_hash_table_lookup (server->online, &session->uid);

  if (user == NULL)
    {
      user = g_new0 (OnlineUser, 1);
      user->uid = session->uid;
      user->sessions = g_ptr_array_new ();
      g_hash_table_insert (server->online, &user->uid, user);
    }
  g_ptr_array_add (user->sessions, session);
}

static void
go_offline (Session *session)
{
  QuipuServer *server = session->server;
  OnlineUser *user = g_hash_table_lookup (server->online, &session->uid);

  if (user == NULL)
    return;
  g_ptr_array_remove (user->sessions, session);
  if (user->sessions->len == 0)
    g_hash_table_remove (server->online, &session->uid);
}

static void
online_user_free (gpointer data)
{
  OnlineUser *user = data;

  g_ptr_array_unref (user->sessions);
  g_free (user);
}

static void
send_welcome (Session *session, const QuipuFrame *connect)
{
  QuipuServer *server = session->server;
  g_autoptr(QuipuFrame) welcome = quipu_frame_new (QUIPU_FRAME_WELCOME);
  g_auto(GStrv) rooms = quipu_store_list_rooms (server->store, MAX_ENTRIES, NULL);
  GHashTableIter iter;
  OnlineUser *user;
  guint n_users = 0;

  quipu_frame_add_uint (welcome, QUIPU_FIELD_VERSION, QUIPU_PROTOCOL_VERSION);
  for (guint i = 0; connect->features != NULL && i < connect->features->len; i++)
    if (g_strv_contains (supported_features, g_ptr_array_index (connect->features, i)))
      quipu_frame_add_string (welcome, QUIPU_FIELD_FEATURE, g_ptr_array_index (connect->features, i));
  quipu_frame_set_string (welcome, QUIPU_FIELD_USERNAME, session->username);
  quipu_frame_set_string (welcome, QUIPU_FIELD_USER_ID, session->user_id);
  quipu_frame_set_uint (welcome, QUIPU_FIELD_SEQ, quipu_store_inbox_last_seq (server->store, session->uid, NULL));
  for (guint i = 0; rooms != NULL && rooms[i] != NULL; i++)
    quipu_frame_add_string (welcome, QUIPU_FIELD_ROOM_ENTRY, rooms[i]);

  g_hash_table_iter_init (&iter, server->online);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user) && n_users++ < MAX_ENTRIES)
    {
      Session *other = g_ptr_array_index (user->sessions, 0);

      quipu_frame_add_user (welcome, other->username, other->key);
    }
  send_frame (session, welcome, 0);
}

static void
handle_connect (Session *session, QuipuFrame *frame)
{
  QuipuServer *server = session->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) input = NULL;
  g_autofree char *display = NULL;
  g_autofree char *claimed_id = NULL;
  guint8 exporter[EXPORTER_LEN];
  QuipuRegisterResult result;
  gint64 uid = 0;

  if (session->uid != 0)
    {
      violation (session, "a second CONNECT on one connection");
      return;
    }
  if (!offers_version (frame, QUIPU_PROTOCOL_VERSION))
    {
      refuse (session, QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION,
              "none of the offered protocol versions is supported; this server speaks version 1");
      return;
    }

  /* The proof must sign this very connection's exporter value: a proof
   * lifted from another connection does not verify here. */
  claimed_id = quipu_user_id_from_key (frame->key);
  if (!quipu_connection_export_keying_material (session->conn, EXPORTER_LABEL, exporter, sizeof exporter, &error))
    {
      refuse (session, QUIPU_PROTOCOL_ERROR_SERVER, error->message);
      return;
    }
  input = quipu_login_proof_input (exporter, sizeof exporter, frame->username, frame->key);
  if (!quipu_signature_verify (frame->key, g_bytes_get_data (input, NULL), g_bytes_get_size (input), frame->proof))
    {
      log_event (G_LOG_LEVEL_WARNING, "bad-proof", session,
                 "login as %s (key %s) from %s refused: the proof does not verify for this connection",
                 frame->username, claimed_id, quipu_connection_get_peer (session->conn));
      refuse (session, QUIPU_PROTOCOL_ERROR_BAD_PROOF, "login proof does not verify for this connection");
      return;
    }

  if (!ensure_transaction (server, &error))
    {
      refuse (session, QUIPU_PROTOCOL_ERROR_SERVER, "the server cannot write its store");
      return;
    }
  result = quipu_store_register_user (server->store, frame->username, frame->key, &uid, &display, &error);
  if (error != NULL)
    {
      log_event (G_LOG_LEVEL_WARNING, "store-error", session, "cannot register %s: %s",
                 frame->username, error->message);
      refuse (session, error->code == QUIPU_PROTOCOL_ERROR_BAD_NAME ? QUIPU_PROTOCOL_ERROR_BAD_NAME
                                                                    : QUIPU_PROTOCOL_ERROR_SERVER,
              error->message);
      return;
    }
  if (result == QUIPU_REGISTER_TAKEN)
    {
      g_autofree char *text = g_strdup_printf ("the name %s is registered to another key", frame->username);

      log_event (G_LOG_LEVEL_WARNING, "impersonation", session,
                 "impersonation attempt: %s from %s presented key %s, but the name belongs to another key",
                 frame->username, quipu_connection_get_peer (session->conn), claimed_id);
      refuse (session, QUIPU_PROTOCOL_ERROR_NAME_TAKEN, text);
      return;
    }

  session->uid = uid;
  session->username = g_steal_pointer (&display);
  session->user_id = g_steal_pointer (&claimed_id);
  memcpy (session->key, frame->key, QUIPU_KEY_SIZE);
  session->delivered = quipu_store_get_delivered (server->store, uid, NULL);
  go_online (session);
  log_event (G_LOG_LEVEL_INFO, "login", session, "%s (%s%s) logged in from %s with %s",
             session->username, session->user_id, result == QUIPU_REGISTER_NEW ? ", new" : "",
             quipu_connection_get_peer (session->conn), frame->client ? frame->client : "an unnamed client");

  send_welcome (session, frame);

  if (quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ))
    send_page (session, NULL, QUIPU_FETCH_AFTER, frame->after_seq, MAX_PAGE, HISTORY_NEVER);
  else
    {
      guint64 last = quipu_store_inbox_last_seq (server->store, uid, NULL);
      guint64 undelivered = last - MIN (last, session->delivered);
      guint limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, MAX_PAGE) : DEFAULT_HISTORY;

      /* Everything not yet delivered to any client of the user, and at
       * least the usual page of context. */
      send_page (session, NULL, QUIPU_FETCH_BEFORE, G_MAXINT64, MIN (MAX (limit, undelivered), MAX_PAGE),
                 HISTORY_IF_DELIVERED);
    }
}

static void
handle_join (Session *session, QuipuFrame *frame)
{
  QuipuServer *server = session->server;
  g_autoptr(QuipuFrame) reply = quipu_frame_new (QUIPU_FRAME_JOIN);
  Room *room = room_get (server, frame->room, TRUE);
  guint limit;

  if (!g_ptr_array_find (room->members, session, NULL))
    {
      gboolean was_present = room_has_user (room, session->uid, NULL);

      g_ptr_array_add (room->members, session);
      g_ptr_array_add (session->rooms, room);
      if (!was_present)
        broadcast_presence (room, session, QUIPU_PRESENCE_ONLINE);
    }

  quipu_frame_set_string (reply, QUIPU_FIELD_ROOM, room->name);
  quipu_frame_set_uint (reply, QUIPU_FIELD_SEQ, quipu_store_room_last_seq (server->store, room->name, NULL));
  add_room_users (reply, room);
  send_frame (session, reply, 0);

  if (quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ))
    {
      limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, MAX_PAGE) : MAX_PAGE;
      send_page (session, room, QUIPU_FETCH_AFTER, frame->after_seq, MAX (limit, 1), HISTORY_NEVER);
    }
  else
    {
      limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, MAX_PAGE) : DEFAULT_HISTORY;
      send_page (session, room, QUIPU_FETCH_BEFORE, G_MAXINT64, limit, HISTORY_ALWAYS);
    }
}

static void
handle_leave (Session *session, QuipuFrame *frame)
{
  g_autoptr(QuipuFrame) reply = quipu_frame_new (QUIPU_FRAME_LEAVE);
  Room *room = room_get (session->server, frame->room, FALSE);

  if (room != NULL && g_ptr_array_find (session->rooms, room, NULL))
    leave_room (session, room);
  quipu_frame_set_string (reply, QUIPU_FIELD_ROOM, frame->room);
  send_frame (session, reply, 0);
}

static Room *
joined_room (Session *session, const char *name)
{
  Room *room = room_get (session->server, name, FALSE);

  return room != NULL && g_ptr_array_find (session->rooms, room, NULL) ? room : NULL;
}

static void
handle_history (Session *session, QuipuFrame *frame)
{
  gboolean before = quipu_frame_has (frame, QUIPU_FIELD_BEFORE_SEQ);
  gboolean after = quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ);
  guint limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, MAX_PAGE) : DEFAULT_HISTORY;
  Room *room = NULL;

  if (before == after)
    {
      send_error (session, QUIPU_PROTOCOL_ERROR_BAD_REQUEST,
                  "HISTORY needs exactly one of before-seq and after-seq", frame);
      return;
    }
  if (frame->room != NULL && (room = joined_room (session, frame->room)) == NULL)
    {
      send_error (session, QUIPU_PROTOCOL_ERROR_NOT_JOINED, "join the room before reading its history", frame);
      return;
    }

  if (before)
    send_page (session, room, QUIPU_FETCH_BEFORE, MIN (frame->before_seq, (guint64) G_MAXINT64),
               limit, HISTORY_ALWAYS);
  else
    send_page (session, room, QUIPU_FETCH_AFTER, frame->after_seq, MAX (limit, 1), HISTORY_NEVER);
}

/* Sends a stored direct message to the online connections of one user. */
static void
relay_to_user (Session *session, QuipuFrame *frame, gint64 uid, guint64 seq)
{
  OnlineUser *user = g_hash_table_lookup (session->server->online, &uid);
  g_autoptr(GBytes) bytes = NULL;

  if (user == NULL)
    return;
  quipu_frame_set_uint (frame, QUIPU_FIELD_SEQ, seq);
  bytes = quipu_frame_encode (frame, NULL);
  for (guint j = 0; bytes != NULL && j < user->sessions->len; j++)
    {
      Session *target = g_ptr_array_index (user->sessions, j);

      if (target != session)
        session_send (target, bytes, seq);
    }
}

/* Each inbox has its own sequence, so each recipient gets its own encoding;
 * the sender's other connections get the message too, with the sender's. */
static void
relay_direct (Session *session, QuipuFrame *frame, const gint64 *uids, const guint64 *seqs,
              guint n, guint64 sender_seq)
{
  g_autoptr(GHashTable) done = g_hash_table_new (g_int64_hash, g_int64_equal);

  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, session->key, QUIPU_KEY_SIZE);
  g_hash_table_add (done, &session->uid);
  for (guint i = 0; i < n; i++)
    if (g_hash_table_add (done, (gpointer) &uids[i]))
      relay_to_user (session, frame, uids[i], seqs[i]);
  relay_to_user (session, frame, session->uid, sender_seq);
}

static void
handle_message (Session *session, QuipuFrame *frame)
{
  QuipuServer *server = session->server;
  g_autoptr(QuipuFrame) ack = quipu_frame_new (QUIPU_FRAME_ACK);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) input = NULL;
  g_autofree gint64 *uids = NULL;
  g_autofree guint64 *seqs = NULL;
  Room *room = NULL;
  gboolean duplicate = FALSE;
  guint64 seq = 0;
  guint n = 0;

  if (frame->room != NULL && (room = joined_room (session, frame->room)) == NULL)
    {
      send_error (session, QUIPU_PROTOCOL_ERROR_NOT_JOINED, "join the room before sending to it", frame);
      return;
    }

  if (frame->recipients != NULL)
    {
      n = frame->recipients->len;
      uids = g_new (gint64, n);
      seqs = g_new0 (guint64, n);
      for (guint i = 0; i < n; i++)
        {
          const char *name = g_ptr_array_index (frame->recipients, i);

          if (!quipu_store_lookup_user (server->store, name, &uids[i], NULL, NULL, &error))
            {
              g_autofree char *text = error ? g_strdup (error->message)
                                            : g_strdup_printf ("there is no user named %s here", name);

              send_error (session, error ? QUIPU_PROTOCOL_ERROR_SERVER : QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT,
                          text, frame);
              return;
            }
        }
    }

  /* The sender is who logged in on this connection, whatever the frame says;
   * the signature must hold for that name and the login key. */
  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, session->username);
  input = quipu_message_signing_input (frame);
  if (!quipu_signature_verify (session->key, g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                               frame->signature))
    {
      log_event (G_LOG_LEVEL_WARNING, "bad-signature", session,
                 "message %" G_GUINT64_FORMAT " from %s refused: its signature does not verify",
                 frame->client_msg_id, session->username);
      send_error (session, QUIPU_PROTOCOL_ERROR_BAD_SIGNATURE, "the message signature does not verify", frame);
      return;
    }

  if (ensure_transaction (server, &error))
    {
      if (room != NULL)
        quipu_store_add_room_message (server->store, session->uid, room->name, frame->client_msg_id,
                                      frame->body, frame->timestamp, frame->signature, &seq, &duplicate, &error);
      else
        quipu_store_add_direct_message (server->store, session->uid, uids,
                                        (const char * const *) frame->recipients->pdata, n,
                                        frame->client_msg_id, frame->body, frame->timestamp,
                                        frame->signature, &seq, seqs, &duplicate, &error);
    }
  if (error != NULL)
    {
      if (error->code == QUIPU_PROTOCOL_ERROR_SERVER)
        log_event (G_LOG_LEVEL_WARNING, "store-error", session, "cannot store a message: %s", error->message);
      send_error (session, error->code <= QUIPU_PROTOCOL_ERROR_LAST_WIRE_CODE ? error->code
                                                                             : QUIPU_PROTOCOL_ERROR_SERVER,
                  error->message, frame);
      return;
    }

  quipu_frame_set_uint (ack, QUIPU_FIELD_CLIENT_MSG_ID, frame->client_msg_id);
  quipu_frame_set_uint (ack, QUIPU_FIELD_SEQ, seq);
  if (room != NULL)
    quipu_frame_set_string (ack, QUIPU_FIELD_ROOM, room->name);
  if (room == NULL || duplicate)
    quipu_frame_set_uint (ack, QUIPU_FIELD_FLAGS, (room ? 0 : QUIPU_FLAG_INBOX) | (duplicate ? QUIPU_FLAG_DUPLICATE : 0));
  /* A direct message is in the sender's inbox too; once the ACK is through,
   * the sender has it, and a later login must not bring it as news. */
  send_frame (session, ack, room == NULL ? seq : 0);
  if (duplicate)
    return;

  if (room != NULL)
    {
      g_autoptr(GBytes) bytes = NULL;

      /* Encode once; every member's stream references the same bytes. */
      quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room->name);
      quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, session->key, QUIPU_KEY_SIZE);
      quipu_frame_set_uint (frame, QUIPU_FIELD_SEQ, seq);
      bytes = quipu_frame_encode (frame, NULL);
      for (guint i = 0; bytes != NULL && i < room->members->len; i++)
        {
          Session *member = g_ptr_array_index (room->members, i);

          if (member != session)
            session_send (member, bytes, 0);
        }
    }
  else
    relay_direct (session, frame, uids, seqs, n, seq);
}

static void
on_frame (QuipuConnection *conn, QuipuFrame *frame, gpointer user_data)
{
  Session *session = user_data;

  session->server->batching = TRUE;
  if (session->refused)
    return;

  if (session->uid == 0 && frame->type != QUIPU_FRAME_CONNECT && frame->type != QUIPU_FRAME_PING &&
      frame->type != QUIPU_FRAME_DISCONNECT)
    {
      violation (session, "%s before CONNECT", quipu_frame_type_to_string (frame->type));
      return;
    }

  switch (frame->type)
    {
    case QUIPU_FRAME_CONNECT:
      handle_connect (session, frame);
      break;
    case QUIPU_FRAME_MESSAGE:
      handle_message (session, frame);
      break;
    case QUIPU_FRAME_JOIN:
      handle_join (session, frame);
      break;
    case QUIPU_FRAME_LEAVE:
      handle_leave (session, frame);
      break;
    case QUIPU_FRAME_HISTORY:
      handle_history (session, frame);
      break;
    case QUIPU_FRAME_PING:
      {
        g_autoptr(QuipuFrame) pong = quipu_frame_new (QUIPU_FRAME_PONG);

        quipu_frame_set_uint (pong, QUIPU_FIELD_TOKEN, frame->token);
        send_frame (session, pong, 0);
      }
      break;
    case QUIPU_FRAME_PONG:
      break;
    case QUIPU_FRAME_DISCONNECT:
      log_event (G_LOG_LEVEL_INFO, "goodbye", session, "%s says goodbye",
                 session->username ? session->username : quipu_connection_get_peer (conn));
      session_close (session, 0, "bye");
      break;
    case QUIPU_FRAME_ERROR:
      log_event (G_LOG_LEVEL_INFO, "client-error", session, "%s reports error %" G_GUINT64_FORMAT ": %s",
                 quipu_connection_get_peer (conn), frame->code, frame->text ? frame->text : "");
      break;
    case QUIPU_FRAME_WELCOME:
    case QUIPU_FRAME_ACK:
    case QUIPU_FRAME_PRESENCE:
    default:
      violation (session, "a client may not send %s", quipu_frame_type_to_string (frame->type));
      break;
    }
}

static void
on_acked (QuipuConnection *conn, guint64 offset, gpointer user_data)
{
  Session *session = user_data;
  QuipuServer *server = session->server;
  guint64 delivered = session->delivered;
  InboxMark *mark;

  while ((mark = g_queue_peek_head (&session->marks)) != NULL && mark->end_offset <= offset)
    {
      delivered = MAX (delivered, mark->seq);
      g_free (g_queue_pop_head (&session->marks));
    }
  if (delivered > session->delivered && ensure_transaction (server, NULL) &&
      quipu_store_set_delivered (server->store, session->uid, delivered, NULL))
    session->delivered = delivered;
}

static void
on_closed (QuipuConnection *conn, const GError *error, gpointer user_data)
{
  Session *session = user_data;
  QuipuServer *server = session->server;

  session->closed = TRUE;
  while (session->rooms->len > 0)
    leave_room (session, g_ptr_array_index (session->rooms, session->rooms->len - 1));
  if (session->uid != 0)
    go_offline (session);

  /* Frames that do not even decode are refused by the connection itself;
   * they are attacks or bugs an admin wants to see, like other violations. */
  if (error != NULL && error->domain == QUIPU_PROTOCOL_ERROR && !session->refused &&
      (error->code == QUIPU_PROTOCOL_ERROR_PROTOCOL || error->code == QUIPU_PROTOCOL_ERROR_TOO_LARGE))
    log_event (G_LOG_LEVEL_WARNING, "protocol-violation", session, "%s from %s disconnected: %s",
               session->username ? session->username : "a client", quipu_connection_get_peer (conn),
               error->message);
  else
    log_event (G_LOG_LEVEL_INFO, "disconnect", session, "%s from %s disconnected%s%s",
               session->username ? session->username : "a client", quipu_connection_get_peer (conn),
               error ? ": " : "", error ? error->message : "");
  g_hash_table_remove (server->sessions, conn);
}

static const QuipuConnectionCallbacks session_callbacks = {
  .frame = on_frame,
  .acked = on_acked,
  .closed = on_closed,
};

static void
on_accepted (QuipuEndpoint *endpoint, QuipuConnection *conn, gpointer user_data)
{
  QuipuServer *server = user_data;
  Session *session = g_new0 (Session, 1);

  session->ref_count = 1;
  session->server = server;
  session->conn = quipu_connection_ref (conn);
  session->rooms = g_ptr_array_new ();
  g_queue_init (&session->marks);
  g_hash_table_insert (server->sessions, conn, session);
  quipu_connection_set_callbacks (conn, &session_callbacks, session);
  log_event (G_LOG_LEVEL_INFO, "connect", session, "connection from %s", quipu_connection_get_peer (conn));
}

static void
on_handshake_failed (QuipuEndpoint *endpoint, const char *peer, const GError *error, gpointer user_data)
{
  const GLogField fields[] = {
    { "PRIORITY", "4", -1 },
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "MESSAGE", error->message, -1 },
    { "QUIPU_EVENT", "handshake-failed", -1 },
    { "QUIPU_PEER", peer, -1 },
  };
  g_autofree char *message = g_strdup_printf ("connection from %s refused: %s", peer, error->message);

  ((GLogField *) fields)[2].value = message;
  g_log_structured_array (G_LOG_LEVEL_WARNING, fields, G_N_ELEMENTS (fields));
}

/* After a batch: make it durable, then let out what it caused. */
static void
on_batch_end (QuipuEndpoint *endpoint, gpointer user_data)
{
  QuipuServer *server = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) outgoing = g_steal_pointer (&server->outgoing);
  gboolean durable = TRUE;

  server->outgoing = g_array_new (FALSE, FALSE, sizeof (Outgoing));
  g_array_set_clear_func (server->outgoing, outgoing_clear);
  server->batching = FALSE;

  if (server->in_transaction)
    {
      server->in_transaction = FALSE;
      if (!quipu_store_commit (server->store, &error))
        {
          quipu_store_rollback (server->store);
          durable = FALSE;
          log_event (G_LOG_LEVEL_CRITICAL, "store-error", NULL, "cannot commit to the store: %s", error->message);
        }
    }

  for (guint i = 0; i < outgoing->len; i++)
    {
      Outgoing *out = &g_array_index (outgoing, Outgoing, i);

      if (durable && out->bytes == NULL)
        quipu_connection_close (out->session->conn, out->close_code, out->close_reason, LINGER_MS);
      else if (durable)
        deliver (out->session, out->bytes, out->inbox_seq);
      else if (!out->session->closed && !quipu_connection_is_closing (out->session->conn))
        /* Nothing of this batch may be acknowledged; the clients resend. */
        quipu_connection_close (out->session->conn, QUIPU_PROTOCOL_ERROR_SERVER,
                                "the server could not store your messages", 0);
    }
}

static gboolean
prune_cb (gpointer data)
{
  QuipuServer *server = data;
  g_autoptr(GError) error = NULL;
  gint64 removed = quipu_store_prune (server->store, g_get_real_time () / 1000, &error);

  if (removed < 0)
    log_event (G_LOG_LEVEL_WARNING, "store-error", NULL, "cannot apply history retention: %s", error->message);
  else if (removed > 0)
    log_event (G_LOG_LEVEL_INFO, "prune", NULL, "removed %" G_GINT64_FORMAT " messages past retention", removed);
  return G_SOURCE_CONTINUE;
}

static const QuipuEndpointCallbacks endpoint_callbacks = {
  .accepted = on_accepted,
  .handshake_failed = on_handshake_failed,
  .batch_end = on_batch_end,
};

void
quipu_server_config_clear (QuipuServerConfig *config)
{
  g_clear_pointer (&config->listen, g_free);
  g_clear_pointer (&config->data_dir, g_free);
  g_clear_pointer (&config->cert_path, g_free);
  g_clear_pointer (&config->key_path, g_free);
}

static GInetSocketAddress *
parse_listen (const char *text, GError **error)
{
  g_autoptr(GSocketConnectable) connectable = g_network_address_parse (text, QUIPU_DEFAULT_PORT, NULL);
  g_autoptr(GInetAddress) address = NULL;
  const char *host;

  if (connectable != NULL)
    {
      host = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
      address = g_inet_address_new_from_string (host);
      if (address != NULL)
        return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address,
                                                                 g_network_address_get_port (G_NETWORK_ADDRESS (connectable))));
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("cannot listen on '%s': expected an IP address and port such as [::]:7447 or 127.0.0.1:7447"), text);
  return NULL;
}

QuipuServer *
quipu_server_new (const QuipuServerConfig *config,
                  GError                 **error)
{
  g_autoptr(QuipuServer) server = g_new0 (QuipuServer, 1);
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autofree char *db_path = NULL;
  QuipuServerOptions options = { .require_retry = config->require_retry };
  QuipuStoreOptions store_options = {
    .history_days = config->history_days,
    .history_max_per_room = config->history_max_per_room,
    .synchronous_full = !config->sync_normal,
  };

  server->config.listen = g_strdup (config->listen ? config->listen : "[::]:7447");
  server->config.data_dir = g_strdup (config->data_dir);
  server->sessions = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) session_unref);
  server->online = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, online_user_free);
  server->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, room_free);
  server->outgoing = g_array_new (FALSE, FALSE, sizeof (Outgoing));
  g_array_set_clear_func (server->outgoing, outgoing_clear);

  address = parse_listen (server->config.listen, error);
  if (address == NULL)
    return NULL;

  if (g_mkdir_with_parents (config->data_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("cannot create data directory %s: %s"), config->data_dir, g_strerror (saved));
      return NULL;
    }

  if (config->cert_path != NULL || config->key_path != NULL)
    {
      if (config->cert_path == NULL || config->key_path == NULL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("--cert and --key go together: give both or neither"));
          return NULL;
        }
      server->credentials = quipu_server_credentials_load (config->cert_path, config->key_path, error);
    }
  else
    server->credentials = quipu_server_credentials_ensure (config->data_dir, error);
  if (server->credentials == NULL)
    return NULL;

  db_path = g_build_filename (config->data_dir, "quipu.db", NULL);
  server->store = quipu_store_open (db_path, &store_options, error);
  if (server->store == NULL)
    return NULL;
  prune_cb (server);
  server->prune_id = g_timeout_add_seconds (PRUNE_INTERVAL_S, prune_cb, server);

  server->endpoint = quipu_endpoint_new_server (address, server->credentials, &options,
                                                &endpoint_callbacks, server, error);
  if (server->endpoint == NULL)
    return NULL;

  return g_steal_pointer (&server);
}

void
quipu_server_free (QuipuServer *server)
{
  g_clear_handle_id (&server->prune_id, g_source_remove);
  /* Sessions go first: they hold connections that point at the endpoint. */
  g_clear_pointer (&server->sessions, g_hash_table_unref);
  g_clear_pointer (&server->outgoing, g_array_unref);
  g_clear_pointer (&server->endpoint, quipu_endpoint_free);
  g_clear_pointer (&server->online, g_hash_table_unref);
  g_clear_pointer (&server->rooms, g_hash_table_unref);
  g_clear_pointer (&server->store, quipu_store_free);
  g_clear_pointer (&server->credentials, quipu_server_credentials_free);
  quipu_server_config_clear (&server->config);
  g_free (server);
}

const char *
quipu_server_get_fingerprint (QuipuServer *server)
{
  return quipu_server_credentials_get_fingerprint (server->credentials);
}

char *
quipu_server_dup_address (QuipuServer *server)
{
  g_autoptr(GInetSocketAddress) address = quipu_endpoint_get_local_address (server->endpoint);
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  guint16 port = g_inet_socket_address_get_port (address);

  if (g_socket_address_get_family (G_SOCKET_ADDRESS (address)) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

void
quipu_server_shutdown (QuipuServer *server,
                       GSourceFunc  done,
                       gpointer     data)
{
  g_autoptr(QuipuFrame) bye = quipu_frame_new (QUIPU_FRAME_DISCONNECT);
  g_autoptr(GBytes) bytes = NULL;
  GHashTableIter iter;
  Session *session;

  quipu_frame_set_uint (bye, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN);
  quipu_frame_set_string (bye, QUIPU_FIELD_TEXT, "the server is shutting down");
  bytes = quipu_frame_encode (bye, NULL);

  g_hash_table_iter_init (&iter, server->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    deliver (session, bytes, 0);

  log_event (G_LOG_LEVEL_INFO, "shutdown", NULL, "shutting down, closing %u connections",
             g_hash_table_size (server->sessions));
  quipu_endpoint_shutdown (server->endpoint, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN,
                           "the server is shutting down", LINGER_MS, done, data);
}
