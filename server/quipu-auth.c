#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <string.h>

#include "quipu-auth.h"
#include "quipu-error.h"
#include "quipu-event.h"
#include "quipu-history.h"
#include "quipu-identity.h"
#include "quipu-signing.h"


static const char * const supported_features[] = { "history", "presence", NULL };

static gboolean
offers_version (const QuipuFrame *frame,
                guint64           version)
{
  for (guint i = 0; i < frame->versions->len; i++)
    if (g_array_index (frame->versions, guint64, i) == version)
      return TRUE;
  return FALSE;
}

static void
send_welcome (QuipuRequest        *request,
              const QuipuFrame    *connect,
              QuipuRegisterResult  result)
{
  QuipuSession *session = request->session;
  g_autoptr(QuipuFrame) welcome = quipu_frame_new (QUIPU_FRAME_WELCOME);
  g_auto(GStrv) rooms = quipu_store_list_rooms (request->store, QUIPU_SERVER_MAX_ENTRIES, NULL);

  quipu_frame_add_uint (welcome, QUIPU_FIELD_VERSION, QUIPU_PROTOCOL_VERSION);
  for (guint i = 0; connect->features != NULL && i < connect->features->len; i++)
    if (g_strv_contains (supported_features, g_ptr_array_index (connect->features, i)))
      quipu_frame_add_string (welcome, QUIPU_FIELD_FEATURE, g_ptr_array_index (connect->features, i));
  quipu_frame_set_string (welcome, QUIPU_FIELD_USERNAME, session->username);
  quipu_frame_set_string (welcome, QUIPU_FIELD_USER_ID, session->user_id);
  quipu_frame_set_uint (welcome, QUIPU_FIELD_SEQ,
                        quipu_store_inbox_last_seq (request->store, session->uid, NULL));
  for (guint i = 0; rooms != NULL && rooms[i] != NULL; i++)
    quipu_frame_add_string (welcome, QUIPU_FIELD_ROOM_ENTRY, rooms[i]);
  quipu_roster_add_users (request->roster, welcome, QUIPU_SERVER_MAX_ENTRIES);
  if (result == QUIPU_REGISTER_NEW)
    {
      /* A new name lives in the batch's commit: without it the login has no
       * user behind it. */
      g_autoptr(GBytes) bytes = quipu_frame_encode (welcome, NULL);

      if (bytes != NULL)
        quipu_session_send_written (session, request->batch, bytes, 0, QUIPU_ON_FAILURE_CLOSE, NULL);
    }
  else
    quipu_request_reply (request, welcome, 0);
}

/* The proof must sign this very connection's exporter value: a proof lifted
 * from another connection does not verify here. */
static gboolean
check_proof (QuipuRequest     *request,
             const QuipuFrame *frame,
             const char       *claimed_id)
{
  QuipuSession *session = request->session;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) input = NULL;
  guint8 exporter[QUIPU_LOGIN_EXPORTER_LEN];

  if (!quipu_connection_export_keying_material (session->conn, QUIPU_LOGIN_EXPORTER_LABEL, exporter, sizeof exporter,
                                                &error))
    {
      quipu_session_refuse (session, request->batch, QUIPU_PROTOCOL_ERROR_SERVER, error->message);
      return FALSE;
    }
  input = quipu_login_proof_input (exporter, sizeof exporter, frame->username, frame->key);
  if (!quipu_signature_verify (frame->key, g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                               frame->proof))
    {
      g_autofree char *name = quipu_log_quote (frame->username);

      quipu_session_log (session, G_LOG_LEVEL_WARNING, "bad-proof",
                         "login as %s (key %s) from %s refused: the proof does not verify for this connection",
                         name, claimed_id, quipu_connection_get_peer (session->conn));
      quipu_session_refuse (session, request->batch, QUIPU_PROTOCOL_ERROR_BAD_PROOF,
                            "login proof does not verify for this connection");
      return FALSE;
    }
  return TRUE;
}

/* First come, first served: *uid and *display for a name that is free or
 * already this key's; FALSE after refusing the login otherwise. */
static gboolean
register_name (QuipuRequest         *request,
               const QuipuFrame     *frame,
               const char           *claimed_id,
               gint64               *uid,
               char                **display,
               QuipuRegisterResult  *result)
{
  QuipuSession *session = request->session;
  g_autoptr(GError) error = NULL;

  if (!quipu_batch_ensure_transaction (request->batch, &error))
    {
      quipu_session_refuse (session, request->batch, QUIPU_PROTOCOL_ERROR_SERVER,
                            "the server cannot write its store");
      return FALSE;
    }
  /* A name not seen before costs its address one registration. */
  if (!quipu_store_lookup_user (request->store, frame->username, uid, NULL, NULL, &error) && error == NULL &&
      !quipu_limits_allow_registration (request->limits, session->address))
    {
      quipu_session_log (session, G_LOG_LEVEL_WARNING, "registration-limit",
                         "refusing a new name from %s: its address registered %u names in the last hour",
                         quipu_connection_get_peer (session->conn),
                         quipu_limits_get_config (request->limits)->registrations_per_hour);
      quipu_session_refuse (session, request->batch, QUIPU_PROTOCOL_ERROR_RATE_LIMITED,
                            "too many new names from your address; try again later");
      return FALSE;
    }
  g_clear_error (&error);
  *result = quipu_store_register_user (request->store, frame->username, frame->key, uid, display, &error);
  if (error != NULL)
    {
      g_autofree char *name = quipu_log_quote (frame->username);

      if (error->code == QUIPU_PROTOCOL_ERROR_BAD_NAME)
        quipu_session_log (session, G_LOG_LEVEL_INFO, "bad-name", "cannot register %s: %s",
                           name, error->message);
      else
        quipu_log_store_error (&quipu_limits_get_stats (request->limits)->store_failures,
                               "cannot register a name", error);
      quipu_session_refuse (session, request->batch,
                            error->code == QUIPU_PROTOCOL_ERROR_BAD_NAME ? QUIPU_PROTOCOL_ERROR_BAD_NAME
                                                                         : QUIPU_PROTOCOL_ERROR_SERVER,
                            error->message);
      return FALSE;
    }
  if (*result == QUIPU_REGISTER_TAKEN)
    {
      g_autofree char *text = g_strdup_printf ("the name %s is registered to another key", frame->username);
      g_autofree char *name = quipu_log_quote (frame->username);

      quipu_session_log (session, G_LOG_LEVEL_WARNING, "impersonation",
                         "impersonation attempt: %s from %s presented key %s, but the name belongs to another key",
                         name, quipu_connection_get_peer (session->conn), claimed_id);
      quipu_session_refuse (session, request->batch, QUIPU_PROTOCOL_ERROR_NAME_TAKEN, text);
      return FALSE;
    }
  return TRUE;
}

void
quipu_auth_handle_connect (QuipuRequest     *request,
                           const QuipuFrame *frame)
{
  QuipuSession *session = request->session;
  g_autofree char *display = NULL;
  g_autofree char *claimed_id = NULL;
  g_autofree char *software = NULL;
  QuipuRegisterResult result;
  gint64 uid = 0;

  if (session->uid != 0)
    {
      quipu_session_violation (session, "a second CONNECT on one connection");
      return;
    }
  if (!offers_version (frame, QUIPU_PROTOCOL_VERSION))
    {
      quipu_session_refuse (session, request->batch, QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION,
                            "none of the offered protocol versions is supported; this server speaks version 1");
      return;
    }

  claimed_id = quipu_user_id_from_key (frame->key);
  if (!check_proof (request, frame, claimed_id) ||
      !register_name (request, frame, claimed_id, &uid, &display, &result))
    return;

  session->uid = uid;
  quipu_session_stop_deadline (session);
  /* Kept alive from WELCOME on, not before: a connection that never logs
   * in times out by itself (and by the login deadline). Set here, where the
   * session is known to live: a refused CONNECT may have freed it. */
  quipu_connection_set_keep_alive (session->conn, TRUE);
  session->username = g_steal_pointer (&display);
  session->user_id = g_steal_pointer (&claimed_id);
  memcpy (session->key, frame->key, QUIPU_KEY_SIZE);
  session->delivered = quipu_store_get_delivered (request->store, uid, NULL);
  quipu_roster_go_online (request->roster, session);
  /* CLIENT is free text chosen by the peer: quoted, or it could write lines
   * of its own into the log. */
  software = frame->client ? quipu_log_quote (frame->client) : g_strdup ("an unnamed client");
  quipu_session_log (session, G_LOG_LEVEL_INFO, "login", "%s (%s%s) logged in from %s with %s",
                     session->username, session->user_id, result == QUIPU_REGISTER_NEW ? ", new" : "",
                     quipu_connection_get_peer (session->conn),
                     software);

  send_welcome (request, frame, result);

  if (quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ))
    quipu_history_send_page (request, NULL, QUIPU_FETCH_AFTER, frame->after_seq, QUIPU_SERVER_MAX_PAGE,
                             QUIPU_HISTORY_NEVER);
  else
    {
      guint64 last = quipu_store_inbox_last_seq (request->store, uid, NULL);
      guint64 undelivered = last - MIN (last, session->delivered);
      guint limit = quipu_frame_has (frame, QUIPU_FIELD_LIMIT) ? MIN (frame->limit, QUIPU_SERVER_MAX_PAGE)
                                                                : QUIPU_SERVER_DEFAULT_PAGE;

      /* Everything not yet delivered to any client of the user, and at
       * least the usual page of context. */
      quipu_history_send_page (request, NULL, QUIPU_FETCH_BEFORE, G_MAXINT64,
                               MIN (MAX (limit, undelivered), QUIPU_SERVER_MAX_PAGE),
                               QUIPU_HISTORY_IF_DELIVERED);
    }
}
