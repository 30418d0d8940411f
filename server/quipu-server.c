#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <errno.h>

#include <glib/gi18n.h>

#include "quipu-auth.h"
#include "quipu-batch.h"
#include "quipu-endpoint.h"
#include "quipu-error.h"
#include "quipu-event.h"
#include "quipu-fanout.h"
#include "quipu-history.h"
#include "quipu-room.h"
#include "quipu-server.h"
#include "quipu-session.h"
#include "quipu-store.h"
#include "quipu-tls.h"

#define PRUNE_INTERVAL_S  3600
#define LINGER_MS         1000

/* The server: accepts connections, turns each into a session, hands every
 * frame to its handler with the current batch, and ends each batch by
 * committing and sending. What the handlers do lives in quipu-auth.c
 * (CONNECT), quipu-fanout.c (MESSAGE), quipu-history.c (HISTORY) and
 * quipu-room.c (who is where). */
struct _QuipuServer {
  QuipuServerConfig       config;
  QuipuStore             *store;
  QuipuServerCredentials *credentials;
  QuipuEndpoint          *endpoint;
  GHashTable             *sessions;      /* QuipuConnection * -> QuipuSession * */
  QuipuRoster            *roster;
  QuipuBatch             *batch;
  QuipuLimits            *limits;
  guint                   prune_id;
};

static QuipuRequest
request_for (QuipuServer  *server,
             QuipuSession *session)
{
  return (QuipuRequest) { session, server->batch, server->store, server->roster, server->limits };
}

/* The room under its first spelling ever, recorded in the store so that it
 * survives restarts. */
static QuipuRoom *
ensure_room (QuipuRequest *request,
             const char   *name)
{
  QuipuRoom *room = quipu_roster_lookup_room (request->roster, name);
  g_autoptr(GError) error = NULL;
  g_autofree char *spelling = NULL;

  if (room != NULL)
    return room;
  if (quipu_batch_ensure_transaction (request->batch, &error))
    spelling = quipu_store_claim_room (request->store, name, &error);
  if (spelling == NULL)
    {
      /* The room still works; its first message records the spelling. */
      g_autofree char *quoted = quipu_log_quote (name);

      if (error->domain == QUIPU_PROTOCOL_ERROR && error->code == QUIPU_PROTOCOL_ERROR_SERVER)
        quipu_log_store_error (&quipu_limits_get_stats (request->limits)->store_failures,
                               "cannot record a room", error);
      else
        quipu_session_log (request->session, G_LOG_LEVEL_WARNING, "store-error",
                           "cannot record room %s: %s", quoted, error->message);
      spelling = g_strdup (name);
    }
  return quipu_roster_add_room (request->roster, spelling);
}

static void
handle_join (QuipuRequest     *request,
             const QuipuFrame *frame)
{
  g_autoptr(QuipuFrame) reply = quipu_frame_new (QUIPU_FRAME_JOIN);
  guint max_rooms = quipu_limits_get_config (request->limits)->max_rooms_per_connection;
  QuipuRoom *room;
  guint limit;

  if (max_rooms > 0 && request->session->rooms->len >= max_rooms &&
      quipu_roster_joined_room (request->roster, request->session, frame->room) == NULL)
    {
      g_autofree char *text = g_strdup_printf ("this connection is in %u rooms, the most it may join; "
                                               "leave one first", max_rooms);

      quipu_limits_get_stats (request->limits)->refused_rooms++;
      quipu_request_error (request, QUIPU_PROTOCOL_ERROR_BAD_REQUEST, text, frame);
      return;
    }
  room = ensure_room (request, frame->room);
  quipu_room_join (room, request->session, request->batch);

  quipu_frame_set_string (reply, QUIPU_FIELD_ROOM, room->name);
  quipu_frame_set_uint (reply, QUIPU_FIELD_SEQ, quipu_store_room_last_seq (request->store, room->name, NULL));
  quipu_room_add_users (room, reply, QUIPU_SERVER_MAX_ENTRIES);
  quipu_request_reply (request, reply, 0);

  if (quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ))
    {
      limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, QUIPU_SERVER_MAX_PAGE)
                                                          : QUIPU_SERVER_MAX_PAGE;
      quipu_history_send_page (request, room, QUIPU_FETCH_AFTER, frame->after_seq, MAX (limit, 1),
                               QUIPU_HISTORY_NEVER);
    }
  else
    {
      limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, QUIPU_SERVER_MAX_PAGE)
                                                          : QUIPU_SERVER_DEFAULT_PAGE;
      quipu_history_send_page (request, room, QUIPU_FETCH_BEFORE, G_MAXINT64, limit, QUIPU_HISTORY_ALWAYS);
    }
}

static void
handle_leave (QuipuRequest     *request,
              const QuipuFrame *frame)
{
  g_autoptr(QuipuFrame) reply = quipu_frame_new (QUIPU_FRAME_LEAVE);
  QuipuRoom *room = quipu_roster_joined_room (request->roster, request->session, frame->room);

  if (room != NULL)
    quipu_room_leave (room, request->session, request->batch);
  quipu_frame_set_string (reply, QUIPU_FIELD_ROOM, frame->room);
  quipu_request_reply (request, reply, 0);
}

/* A request past the user's rate is answered with rate-limited about that
 * very message or room, so the client can wait and send it again. */
static gboolean
within_rate (QuipuRequest     *request,
             const QuipuFrame *frame)
{
  QuipuUserBuckets *buckets = quipu_limits_user_buckets (request->limits, request->session->uid);
  gboolean ok;

  if (buckets == NULL)
    return TRUE;
  if (frame->type == QUIPU_FRAME_MESSAGE)
    ok = quipu_limits_take (request->limits, buckets, QUIPU_RATE_MESSAGES);
  else if (frame->type == QUIPU_FRAME_JOIN || frame->type == QUIPU_FRAME_LEAVE)
    ok = quipu_limits_take (request->limits, buckets, QUIPU_RATE_JOINS);
  else
    return TRUE;
  if (!ok)
    quipu_request_error (request, QUIPU_PROTOCOL_ERROR_RATE_LIMITED,
                         frame->type == QUIPU_FRAME_MESSAGE ? "too many messages: wait, then send it again"
                                                            : "too many joins and leaves: wait, then try again",
                         frame);
  return ok;
}

static void
dispatch (QuipuRequest *request,
          QuipuFrame   *frame)
{
  QuipuSession *session = request->session;

  if (session->uid == 0 && frame->type != QUIPU_FRAME_CONNECT && frame->type != QUIPU_FRAME_PING &&
      frame->type != QUIPU_FRAME_DISCONNECT)
    {
      quipu_session_violation (session, "%s before CONNECT", quipu_frame_type_to_string (frame->type));
      return;
    }

  if (!within_rate (request, frame))
    return;

  switch (frame->type)
    {
    case QUIPU_FRAME_CONNECT:
      quipu_auth_handle_connect (request, frame);
      break;
    case QUIPU_FRAME_MESSAGE:
      quipu_fanout_handle_message (request, frame);
      break;
    case QUIPU_FRAME_JOIN:
      handle_join (request, frame);
      break;
    case QUIPU_FRAME_LEAVE:
      handle_leave (request, frame);
      break;
    case QUIPU_FRAME_HISTORY:
      quipu_history_handle (request, frame);
      break;
    case QUIPU_FRAME_PING:
      {
        g_autoptr(QuipuFrame) pong = quipu_frame_new (QUIPU_FRAME_PONG);

        quipu_frame_set_uint (pong, QUIPU_FIELD_TOKEN, frame->token);
        quipu_request_reply (request, pong, 0);
      }
      break;
    case QUIPU_FRAME_PONG:
      break;
    case QUIPU_FRAME_DISCONNECT:
      quipu_session_log (session, G_LOG_LEVEL_INFO, "goodbye", "%s says goodbye",
                         session->username ? session->username : quipu_connection_get_peer (session->conn));
      quipu_session_close (session, request->batch, 0, "bye");
      break;
    case QUIPU_FRAME_ERROR:
      if (session->uid != 0 && !quipu_request_count_error (request))
        break;
      {
        g_autofree char *text = quipu_log_quote (frame->text);

        quipu_session_log (session, G_LOG_LEVEL_INFO, "client-error", "%s reports error %" G_GUINT64_FORMAT ": %s",
                           quipu_connection_get_peer (session->conn), frame->code, text);
      }
      break;
    case QUIPU_FRAME_WELCOME:
    case QUIPU_FRAME_ACK:
    case QUIPU_FRAME_PRESENCE:
    default:
      quipu_session_violation (session, "a client may not send %s", quipu_frame_type_to_string (frame->type));
      break;
    }
}

/* Connection callbacks get the server; the session is found by connection. */
static void
on_frame (QuipuConnection *conn,
          QuipuFrame      *frame,
          gpointer         user_data)
{
  QuipuServer *server = user_data;
  /* Held for the whole dispatch: a frame that closes the connection frees
   * the session from the table before its handler returns. */
  g_autoptr(QuipuSession) session = quipu_session_ref (g_hash_table_lookup (server->sessions, conn));
  QuipuRequest request = request_for (server, session);

  quipu_batch_open (server->batch);
  if (!session->refused)
    dispatch (&request, frame);
}

static void
on_acked (QuipuConnection *conn,
          guint64          offset,
          gpointer         user_data)
{
  QuipuServer *server = user_data;
  QuipuSession *session = g_hash_table_lookup (server->sessions, conn);
  guint64 delivered = quipu_session_acked (session, offset);

  if (delivered > session->delivered && quipu_batch_ensure_transaction (server->batch, NULL) &&
      quipu_store_set_delivered (server->store, session->uid, delivered, NULL))
    session->delivered = delivered;
}

static void
on_closed (QuipuConnection *conn,
           const GError    *error,
           gpointer         user_data)
{
  QuipuServer *server = user_data;
  QuipuSession *session = g_hash_table_lookup (server->sessions, conn);
  const char *who = session->username ? session->username : "a client";

  quipu_session_mark_closed (session);
  quipu_session_stop_deadline (session);
  quipu_roster_go_offline (server->roster, session, server->batch);
  if (session->counted)
    quipu_limits_close_connection (server->limits, session->address);

  /* Frames that do not even decode are refused by the connection itself;
   * they are attacks or bugs an admin wants to see, like other violations. */
  if (error != NULL && error->domain == QUIPU_PROTOCOL_ERROR && !session->refused &&
      (error->code == QUIPU_PROTOCOL_ERROR_PROTOCOL || error->code == QUIPU_PROTOCOL_ERROR_TOO_LARGE))
    quipu_session_log (session, G_LOG_LEVEL_WARNING, "protocol-violation", "%s from %s disconnected: %s",
                       who, quipu_connection_get_peer (conn), error->message);
  else
    quipu_session_log (session, G_LOG_LEVEL_INFO, "disconnect", "%s from %s disconnected%s%s",
                       who, quipu_connection_get_peer (conn), error ? ": " : "", error ? error->message : "");
  g_hash_table_remove (server->sessions, conn);
}

static const QuipuConnectionCallbacks session_callbacks = {
  .frame = on_frame,
  .acked = on_acked,
  .closed = on_closed,
};

static void
on_accepted (QuipuEndpoint   *endpoint,
             QuipuConnection *conn,
             gpointer         user_data)
{
  QuipuServer *server = user_data;
  QuipuSession *session = quipu_session_new (conn, server->limits);

  g_hash_table_insert (server->sessions, conn, session);
  quipu_connection_set_callbacks (conn, &session_callbacks, server);
  quipu_session_log (session, G_LOG_LEVEL_INFO, "connect", "connection from %s",
                     quipu_connection_get_peer (conn));

  session->counted = quipu_limits_open_connection (server->limits, session->address);
  if (!session->counted)
    {
      /* Said, not silent: the client can tell its user the server is busy. */
      quipu_session_log (session, G_LOG_LEVEL_WARNING, "busy",
                         "refusing a connection from %s: its address has %u connections already",
                         quipu_connection_get_peer (conn),
                         quipu_limits_get_config (server->limits)->max_connections_per_address);
      quipu_session_refuse (session, NULL, QUIPU_PROTOCOL_ERROR_RATE_LIMITED,
                            "server busy: too many connections from your address");
      return;
    }
  quipu_session_start_deadline (session, quipu_limits_get_config (server->limits)->login_timeout);
}

static void
on_handshake_failed (QuipuEndpoint *endpoint,
                     const char    *peer,
                     const GError  *error,
                     gpointer       user_data)
{
  /* Routine on an open port (scanners, other protocols, clients that refuse
   * our certificate): worth a line, not a warning about this server. */
  quipu_log_event (G_LOG_LEVEL_MESSAGE, "handshake-failed", peer, NULL,
                   "connection from %s refused: %s", peer, error->message);
}

/* After a batch: make it durable, then let out what it caused. */
static void
on_batch_end (QuipuEndpoint *endpoint,
              gpointer       user_data)
{
  QuipuServer *server = user_data;
  g_autoptr(GError) error = NULL;

  quipu_roster_flush_presence (server->roster, server->batch);
  if (!quipu_batch_finish (server->batch, quipu_session_release_outgoing, &error))
    quipu_log_store_error (&quipu_limits_get_stats (server->limits)->store_failures,
                           "cannot commit to the store, refusing the writes of a batch", error);
}

void
quipu_server_log_stats (QuipuServer *server)
{
  QuipuServerStats *stats = quipu_limits_get_stats (server->limits);
  QuipuEndpointStats endpoint_stats;
  g_autofree char *line = NULL;
  GHashTableIter iter;
  QuipuSession *session;

  /* The gauges are counted when asked: nothing to keep in step. */
  stats->connections = g_hash_table_size (server->sessions);
  stats->pending = 0;
  g_hash_table_iter_init (&iter, server->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    if (session->uid == 0)
      stats->pending++;
  stats->rooms = quipu_roster_count_rooms (server->roster);
  stats->users_online = quipu_roster_count_users (server->roster);
  quipu_roster_get_presence_counts (server->roster, &stats->presence_sent, &stats->presence_coalesced);
  line = quipu_limits_format_stats (server->limits);
  /* What the endpoint refused before any session existed. */
  quipu_endpoint_get_stats (server->endpoint, &endpoint_stats);
  quipu_log_event (G_LOG_LEVEL_MESSAGE, "stats", NULL, NULL,
                   "stats: %s handshakes-in-progress=%u retries-sent=%" G_GUINT64_FORMAT
                   " refused-handshakes=%" G_GUINT64_FORMAT, line, endpoint_stats.handshakes,
                   endpoint_stats.retries_sent, endpoint_stats.refused_handshakes);
}

static gboolean
prune_cb (gpointer data)
{
  QuipuServer *server = data;
  g_autoptr(GError) error = NULL;
  gint64 removed = quipu_store_prune (server->store, g_get_real_time () / 1000, &error);
  QuipuPruneCounts counts;

  if (removed < 0)
    quipu_log_event (G_LOG_LEVEL_WARNING, "store-error", NULL, NULL,
                     "cannot apply history retention: %s", error->message);
  else if (removed > 0)
    quipu_log_event (G_LOG_LEVEL_INFO, "prune", NULL, NULL,
                     "removed %" G_GINT64_FORMAT " messages past retention", removed);
  g_clear_error (&error);
  if (!quipu_store_prune_state (server->store, g_get_real_time () / 1000, &counts, &error))
    quipu_log_event (G_LOG_LEVEL_WARNING, "store-error", NULL, NULL,
                     "cannot apply name, inbox and room retention: %s", error->message);
  else if (counts.names + counts.inbox_entries + counts.rooms > 0)
    quipu_log_event (G_LOG_LEVEL_INFO, "prune", NULL, NULL,
                     "gave back %" G_GUINT64_FORMAT " unused names, removed %" G_GUINT64_FORMAT
                     " inbox entries and %" G_GUINT64_FORMAT " rooms that never had a message",
                     counts.names, counts.inbox_entries, counts.rooms);
  quipu_limits_sweep (server->limits);
  return G_SOURCE_CONTINUE;
}

static gboolean
hourly_cb (gpointer data)
{
  QuipuServer *server = data;

  prune_cb (server);
  quipu_server_log_stats (server);
  return G_SOURCE_CONTINUE;
}

static const QuipuEndpointCallbacks endpoint_callbacks = {
  .accepted = on_accepted,
  .handshake_failed = on_handshake_failed,
  .batch_end = on_batch_end,
};

static QuipuStoreOptions
store_options_from (const QuipuServerConfig *config)
{
  return (QuipuStoreOptions) {
    .history_days = config->history_days,
    .history_max_per_room = config->history_max_per_room,
    .synchronous_full = !config->sync_normal,
    .max_pages = config->store_max_pages,
    .name_days = config->limits.name_retention_days,
    .inbox_max_per_user = config->limits.inbox_max_per_user,
    .empty_room_days = config->limits.empty_room_days,
  };
}

QuipuServer *
quipu_server_new (const QuipuServerConfig *config,
                  GError                 **error)
{
  g_autoptr(QuipuServer) server = g_new0 (QuipuServer, 1);
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autofree char *db_path = NULL;
  QuipuServerOptions options = {
    .require_retry = config->require_retry,
    .max_handshakes_per_address = config->limits.max_handshakes_per_address,
    .retry_threshold = config->limits.retry_threshold,
  };
  QuipuStoreOptions store_options = store_options_from (config);

  quipu_server_config_copy (&server->config, config);
  if (server->config.listen == NULL)
    server->config.listen = g_strdup ("[::]:7447");
  server->sessions = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) quipu_session_unref);
  server->roster = quipu_roster_new ();
  server->limits = quipu_limits_new (&config->limits);

  address = quipu_config_parse_listen (server->config.listen, error);
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
  server->batch = quipu_batch_new (server->store, (GDestroyNotify) quipu_session_unref);
  prune_cb (server);
  server->prune_id = g_timeout_add_seconds (PRUNE_INTERVAL_S, hourly_cb, server);

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
  if (server->sessions != NULL)
    {
      GHashTableIter iter;
      QuipuSession *session;

      /* A pending deadline holds its session. */
      g_hash_table_iter_init (&iter, server->sessions);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
        quipu_session_stop_deadline (session);
    }
  /* Sessions go first: they hold connections that point at the endpoint. */
  g_clear_pointer (&server->sessions, g_hash_table_unref);
  g_clear_pointer (&server->batch, quipu_batch_free);
  g_clear_pointer (&server->endpoint, quipu_endpoint_free);
  g_clear_pointer (&server->roster, quipu_roster_free);
  g_clear_pointer (&server->limits, quipu_limits_free);
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

static void
note_uint (GString    *changed,
           const char *key,
           guint       before,
           guint       after)
{
  if (before != after)
    g_string_append_printf (changed, "%s%s from %u to %u", changed->len ? ", " : "", key, before, after);
}

static void
note_str (GString    *changed,
          const char *key,
          const char *before,
          const char *after)
{
  if (g_strcmp0 (before, after) != 0)
    g_string_append_printf (changed, "%s%s from %s to %s", changed->len ? ", " : "", key,
                            before ? before : "(none)", after ? after : "(none)");
}

static void
note_restart (GString    *restart,
              const char *key,
              gboolean    differs)
{
  if (differs)
    g_string_append_printf (restart, "%s%s", restart->len ? ", " : "", key);
}

void
quipu_server_reconfigure (QuipuServer             *server,
                          const QuipuServerConfig *config)
{
  QuipuServerConfig *old = &server->config;
  QuipuStoreOptions store_options = store_options_from (config);
  g_autoptr(GString) changed = g_string_new (NULL);
  g_autoptr(GString) restart = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  gboolean retention_changed;

  /* The endpoint keeps its socket and credentials for its whole life. */
  note_restart (restart, "listen", g_strcmp0 (old->listen, config->listen ? config->listen : "[::]:7447") != 0);
  note_restart (restart, "data-dir", g_strcmp0 (old->data_dir, config->data_dir) != 0);
  note_restart (restart, "cert", g_strcmp0 (old->cert_path, config->cert_path) != 0);
  note_restart (restart, "key", g_strcmp0 (old->key_path, config->key_path) != 0);
  note_restart (restart, "retry", old->require_retry != config->require_retry);
  note_restart (restart, "store-max-pages", old->store_max_pages != config->store_max_pages);

  if (!quipu_store_set_options (server->store, &store_options, &error))
    {
      quipu_log_event (G_LOG_LEVEL_WARNING, "reload", NULL, NULL,
                       "cannot apply the reloaded configuration: %s; nothing changed", error->message);
      return;
    }
  retention_changed = old->history_days != config->history_days ||
                      old->history_max_per_room != config->history_max_per_room ||
                      old->limits.name_retention_days != config->limits.name_retention_days ||
                      old->limits.inbox_max_per_user != config->limits.inbox_max_per_user ||
                      old->limits.empty_room_days != config->limits.empty_room_days;
  note_uint (changed, "history-days", old->history_days, config->history_days);
  note_uint (changed, "history-max-per-room", old->history_max_per_room, config->history_max_per_room);
  note_str (changed, "sync", old->sync_normal ? "normal" : "full", config->sync_normal ? "normal" : "full");
  note_str (changed, "log-level", quipu_log_level_to_string (old->log_level),
            quipu_log_level_to_string (config->log_level));
  old->history_days = config->history_days;
  old->history_max_per_room = config->history_max_per_room;
  old->sync_normal = config->sync_normal;
  old->log_level = config->log_level;
  /* Limits apply from the next request; buckets keep what they hold. */
  for (guint i = 0; i < quipu_config_n_limit_keys; i++)
    note_uint (changed, quipu_config_limit_keys[i].key,
               quipu_limits_config_get (&old->limits, &quipu_config_limit_keys[i]),
               quipu_limits_config_get (&config->limits, &quipu_config_limit_keys[i]));
  old->limits = config->limits;
  quipu_limits_configure (server->limits, &old->limits);
  quipu_endpoint_set_handshake_limits (server->endpoint, old->limits.max_handshakes_per_address,
                                       old->limits.retry_threshold);

  quipu_log_event (G_LOG_LEVEL_MESSAGE, "reload", NULL, NULL, "configuration reloaded: %s%s%s%s",
                   changed->len ? "changed " : "nothing changed", changed->str,
                   restart->len ? "; needs a restart: " : "", restart->str);

  /* Shorter retention takes effect now, not at the next hourly prune. */
  if (retention_changed)
    prune_cb (server);
}

void
quipu_server_shutdown (QuipuServer *server,
                       GSourceFunc  done,
                       gpointer     data)
{
  g_autoptr(QuipuFrame) bye = quipu_frame_new (QUIPU_FRAME_DISCONNECT);
  g_autoptr(GBytes) bytes = NULL;
  GHashTableIter iter;
  QuipuSession *session;

  quipu_frame_set_uint (bye, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN);
  quipu_frame_set_string (bye, QUIPU_FIELD_TEXT, "the server is shutting down");
  bytes = quipu_frame_encode (bye, NULL);

  g_hash_table_iter_init (&iter, server->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    quipu_session_deliver (session, bytes, 0);

  quipu_log_event (G_LOG_LEVEL_INFO, "shutdown", NULL, NULL, "shutting down, closing %u connections",
             g_hash_table_size (server->sessions));
  quipu_endpoint_shutdown (server->endpoint, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN,
                           "the server is shutting down", LINGER_MS, done, data);
}
