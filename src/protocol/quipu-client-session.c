#define G_LOG_DOMAIN "quipu-client"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>

#include "quipu-client-private.h"
#include "quipu-enums.h"
#include "quipu-error-private.h"
#include "quipu-message-private.h"
#include "quipu-signing.h"
#include "quipu-tls.h"

/* The session on the wire: the login, every frame the server sends, and the
 * frames that send, join and resync. */

#define LOGIN_TIMEOUT_S      10
/* Unacknowledged stream data the outbox may add to: well under the
 * connection's 8 MiB backlog limit, so control frames always fit, and far
 * above what loopback or a long fat path holds in flight. */
#define OUTBOX_WINDOW        (1024 * 1024)
/* Waits after a rate-limited MESSAGE; the server's default refill is
 * 200 messages a second, so the first step mostly suffices. */
#define RATE_BACKOFF_MIN_MS  250
#define RATE_BACKOFF_MAX_MS  8000
/* After a rate-limited, messages in flight start again at one and double
 * with each ACK up to this, when the byte window alone applies again: a
 * window of refusals at every wait would only load the server. */
#define RATE_CAP_MAX         1024

static const char * const offered_features[] = { "history", "presence", NULL };

/* Sending. */

void
quipu_client_queue_frame (QuipuClient *self, const QuipuFrame *frame)
{
  if (self->conn != NULL)
    quipu_connection_queue_frame (self->conn, frame);
}

guint64
quipu_client_random_id (void)
{
  guint64 id = 0;

  while (id == 0)
    {
      if (gnutls_rnd (GNUTLS_RND_NONCE, &id, sizeof id) != 0)
        g_error ("gnutls_rnd failed");
      id &= QUIPU_VARINT_MAX;
    }
  return id;
}

/* Signs at each transmission, with the name the server knows us by;
 * Ed25519 is deterministic, so a resend carries the same signature. */
QuipuFrame *
quipu_client_build_message (QuipuClient *self, QuipuMessage *msg, GError **error)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_MESSAGE);
  const char * const *recipients = quipu_message_get_recipients (msg);

  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, self->username);
  if (quipu_message_get_room (msg) != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, quipu_message_get_room (msg));
  for (guint i = 0; recipients != NULL && recipients[i] != NULL; i++)
    quipu_frame_add_string (frame, QUIPU_FIELD_RECIPIENT, recipients[i]);
  quipu_frame_set_uint (frame, QUIPU_FIELD_CLIENT_MSG_ID, quipu_message_get_client_msg_id (msg));
  quipu_frame_set_uint (frame, QUIPU_FIELD_TIMESTAMP, quipu_message_get_timestamp (msg));
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY, quipu_message_get_body (msg));

  if (!quipu_identity_sign_message (self->identity, frame, error))
    return NULL;
  return g_steal_pointer (&frame);
}

gboolean
quipu_client_outbox_may_send (QuipuClient *self)
{
  return self->state == QUIPU_STATE_CONNECTED && self->conn != NULL &&
         !quipu_timer_is_active (&self->rate_timer) &&
         (self->rate_cap == 0 || quipu_outbox_get_n_sent (self->outbox) < self->rate_cap) &&
         quipu_connection_get_queued_offset (self->conn) - self->stream_acked < OUTBOX_WINDOW;
}

/* Back-pressure: a connection refuses data past its backlog limit, and a
 * message it refused would be lost for that connection's life. So the
 * outbox sends a window ahead of what the server acknowledged and the rest
 * as the stream drains (on_acked), each message once per connection. */
void
quipu_client_pump_outbox (QuipuClient *self)
{
  QuipuMessage *msg;

  while (quipu_client_outbox_may_send (self) &&
         (msg = quipu_outbox_next_unsent (self->outbox)) != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QuipuFrame) frame = quipu_client_build_message (self, msg, &error);

      if (frame == NULL)
        g_warning ("cannot sign message: %s", error->message);
      /* Closing, or its backlog is full of other frames: the next ack or
       * the next connection sends it. */
      else if (!quipu_connection_queue_frame (self->conn, frame))
        return;
      quipu_outbox_mark_sent (self->outbox);
    }
}

void
quipu_client_send_join (QuipuClient *self, QuipuSequencer *conv)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_JOIN);

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, conv->room);
  if (conv->has_state)
    {
      quipu_frame_set_uint (frame, QUIPU_FIELD_AFTER_SEQ, conv->contiguous);
      quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, QUIPU_CLIENT_RESYNC_PAGE);
      conv->syncing = TRUE;
    }
  else
    quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, self->history_limit);
  quipu_client_queue_frame (self, frame);
}

static void
request_after (QuipuClient *self, QuipuSequencer *conv)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_HISTORY);

  if (conv->room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, conv->room);
  else
    quipu_frame_set_uint (frame, QUIPU_FIELD_FLAGS, QUIPU_FLAG_INBOX);
  quipu_frame_set_uint (frame, QUIPU_FIELD_AFTER_SEQ, conv->contiguous);
  quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, QUIPU_CLIENT_RESYNC_PAGE);
  conv->syncing = TRUE;
  quipu_client_queue_frame (self, frame);
}

/* Shows the held messages that no gap separates from the rest any more. */
static void
release_held (QuipuClient *self, QuipuSequencer *conv)
{
  QuipuMessage *ready;

  while ((ready = quipu_sequencer_pop_ready (conv)) != NULL)
    {
      g_autoptr(QuipuMessage) msg = ready;

      g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_MESSAGE_RECEIVED], 0, msg);
    }
}

/* After login: rejoin rooms with a resync, then resend what was never
 * acknowledged, in the order it was written. */
void
quipu_client_resume_session (QuipuClient *self)
{
  GHashTableIter iter;
  QuipuSequencer *conv;

  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conv))
    if (conv->room != NULL && conv->joined)
      quipu_client_send_join (self, conv);

  quipu_outbox_rewind (self->outbox);
  quipu_client_pump_outbox (self);
}

/* Connection callbacks. */

static gboolean
login_timeout_cb (gpointer data)
{
  QuipuClient *self = data;

  quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TIMED_OUT,
                           "%s did not answer the login", self->server));
  return G_SOURCE_REMOVE;
}

static void
on_established (QuipuConnection *conn, gpointer user_data)
{
  QuipuClient *self = user_data;
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_CONNECT);
  g_autoptr(GError) error = NULL;
  const guint8 *key = quipu_identity_get_public_key (self->identity);
  guint8 exporter[QUIPU_LOGIN_EXPORTER_LEN];
  guint8 proof[QUIPU_SIGNATURE_SIZE];
  QuipuSequencer *inbox = quipu_client_conversation (self, NULL);

  /* A new stream: nothing of it is acknowledged yet. */
  self->stream_acked = 0;
  if (self->trust_via != quipu_connection_get_trust_via (conn))
    {
      self->trust_via = quipu_connection_get_trust_via (conn);
      g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_TRUST_VIA]);
    }
  if (g_strcmp0 (self->server_fingerprint, quipu_connection_get_peer_fingerprint (conn)) != 0)
    {
      g_free (self->server_fingerprint);
      self->server_fingerprint = g_strdup (quipu_connection_get_peer_fingerprint (conn));
      g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_SERVER_FINGERPRINT]);
    }

  /* The proof signs a value only this TLS session has, so it is worthless
   * on any other connection. */
  if (!quipu_connection_export_keying_material (conn, QUIPU_LOGIN_EXPORTER_LABEL,
                                                exporter, sizeof exporter, &error) ||
      !quipu_identity_sign_login_proof (self->identity, exporter, sizeof exporter,
                                        self->username, proof, &error))
    {
      quipu_client_fail (self, g_steal_pointer (&error));
      return;
    }

  quipu_frame_add_uint (frame, QUIPU_FIELD_VERSION, QUIPU_PROTOCOL_VERSION);
  for (guint i = 0; offered_features[i] != NULL; i++)
    quipu_frame_add_string (frame, QUIPU_FIELD_FEATURE, offered_features[i]);
  quipu_frame_set_string (frame, QUIPU_FIELD_USERNAME, self->username);
  quipu_frame_set_string (frame, QUIPU_FIELD_CLIENT, self->client_name);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_KEY, key, QUIPU_KEY_SIZE);
  quipu_frame_set_bytes (frame, QUIPU_FIELD_PROOF, proof, sizeof proof);
  if (inbox->has_state)
    {
      quipu_frame_set_uint (frame, QUIPU_FIELD_AFTER_SEQ, inbox->contiguous);
      inbox->syncing = TRUE;
    }
  quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, self->history_limit);
  quipu_client_queue_frame (self, frame);

  quipu_timer_start (&self->login_timer, self->context, LOGIN_TIMEOUT_S * 1000, login_timeout_cb, self);
}

static void
set_room_directory (QuipuClient *self, GPtrArray *rooms)
{
  g_auto(GStrv) directory = g_new0 (char *, (rooms ? rooms->len : 0) + 1);

  for (guint i = 0; rooms != NULL && i < rooms->len; i++)
    directory[i] = g_strdup (g_ptr_array_index (rooms, i));
  if (self->room_directory != NULL && g_strv_equal ((const char * const *) directory,
                                                    (const char * const *) self->room_directory))
    return;
  g_strfreev (self->room_directory);
  self->room_directory = g_steal_pointer (&directory);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_ROOM_DIRECTORY]);
}

static void
handle_welcome (QuipuClient *self, QuipuFrame *frame)
{
  guint64 version = g_array_index (frame->versions, guint64, 0);

  if (self->state != QUIPU_STATE_CONNECTING)
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s sent a second WELCOME", self->server));
      return;
    }
  if (version != QUIPU_PROTOCOL_VERSION)
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION,
                               "%s chose protocol version %" G_GUINT64_FORMAT ", which this client does not speak",
                               self->server, version));
      return;
    }
  if (g_strcmp0 (frame->user_id, quipu_identity_get_user_id (self->identity)) != 0)
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s reported user id %s, but our key gives %s", self->server,
                               frame->user_id, quipu_identity_get_user_id (self->identity)));
      return;
    }

  quipu_timer_stop (&self->login_timer);
  if (g_strcmp0 (self->username, frame->username) != 0)
    {
      g_free (self->username);
      self->username = g_strdup (frame->username);
      g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_USERNAME]);
    }
  set_room_directory (self, frame->room_entries);
  if (quipu_frame_has (frame, QUIPU_FIELD_SEQ))
    quipu_sequencer_baseline (quipu_client_conversation (self, NULL), frame->seq);
  self->ever_logged_in = TRUE;
  quipu_backoff_reset (&self->backoff);
  quipu_client_clear_error (self);
  quipu_client_dispatch_event (self, QUIPU_EVENT_ESTABLISHED);
}

static QuipuMessage *
outbox_take (QuipuClient *self, guint64 client_msg_id)
{
  QuipuMessage *msg = quipu_outbox_take (self->outbox, client_msg_id);

  if (msg != NULL)
    g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_N_PENDING]);
  return msg;
}

static void
acknowledge (QuipuClient *self, QuipuMessage *msg, guint64 seq)
{
  QuipuSequencer *conv = quipu_client_conversation (self, quipu_message_get_room (msg));

  quipu_sequencer_mark (conv, seq);
  quipu_message_set_seq (msg, seq);
  quipu_message_set_status (msg, QUIPU_MESSAGE_ACKED);
  g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_MESSAGE_ACKED], 0, msg);
  release_held (self, conv);
}

static void
handle_ack (QuipuClient *self, QuipuFrame *frame)
{
  g_autoptr(QuipuMessage) msg = outbox_take (self, frame->client_msg_id);

  /* A duplicate ACK for something settled already needs nothing. */
  if (msg == NULL)
    return;
  quipu_backoff_reset (&self->rate_backoff);
  acknowledge (self, msg, frame->seq);
  if (self->rate_cap != 0)
    {
      self->rate_cap = self->rate_cap < RATE_CAP_MAX ? self->rate_cap * 2 : 0;
      quipu_client_pump_outbox (self);
    }
}

static QuipuVerification
verify_message (QuipuClient *self, QuipuFrame *frame, const QuipuPin *pin, gboolean key_changed)
{
  if (key_changed)
    return QUIPU_VERIFICATION_KEY_CHANGED;
  if (!self->verify_signatures)
    return QUIPU_VERIFICATION_SKIPPED;
  if (!quipu_message_frame_verify (frame, pin->key))
    return QUIPU_VERIFICATION_INVALID;
  return QUIPU_VERIFICATION_VALID;
}

static void
handle_message (QuipuClient *self, QuipuFrame *frame)
{
  g_autoptr(QuipuMessage) msg = NULL;
  QuipuSequencer *conv;
  gboolean own, key_changed;
  const QuipuPin *pin;

  if (!quipu_frame_has (frame, QUIPU_FIELD_SENDER) || !quipu_frame_has (frame, QUIPU_FIELD_KEY) ||
      !quipu_frame_has (frame, QUIPU_FIELD_SEQ))
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s relayed a message without sender, key or sequence", self->server));
      return;
    }

  conv = quipu_client_conversation (self, frame->room);
  if (!quipu_sequencer_mark (conv, frame->seq))
    return;

  own = g_strcmp0 (frame->sender, self->username) == 0 &&
        memcmp (frame->key, quipu_identity_get_public_key (self->identity), QUIPU_KEY_SIZE) == 0;
  if (own)
    {
      g_autoptr(QuipuMessage) pending = outbox_take (self, frame->client_msg_id);

      /* Our own message came back in a resync before its ACK did. */
      if (pending != NULL)
        {
          acknowledge (self, pending, frame->seq);
          return;
        }
    }

  pin = quipu_pins_lookup_or_add (self->pins, frame->sender, frame->key, &key_changed);
  msg = quipu_message_new_from_frame (frame, pin->user_id, self->username, own);
  quipu_message_set_verification (msg, verify_message (self, frame, pin, key_changed));

  /* Live messages overtake a catch-up that needs more than one page; any
   * other gap is filled by asking for what follows the last complete
   * sequence. Either way the message waits for the ones before it. */
  if (quipu_sequencer_must_hold (conv, frame->seq))
    {
      quipu_sequencer_hold (conv, msg);
      if (!conv->syncing)
        request_after (self, conv);
      return;
    }
  g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_MESSAGE_RECEIVED], 0, msg);
  release_held (self, conv);
}

static void
handle_presence (QuipuClient *self, QuipuFrame *frame)
{
  QuipuUserInfo *user = g_ptr_array_index (frame->users, 0);
  g_autofree char *user_id = NULL;
  gboolean changed = FALSE;

  if (user->has_key)
    user_id = g_strdup (quipu_pins_lookup_or_add (self->pins, user->name, user->key, &changed)->user_id);
  if (changed)
    g_warning ("%s announced a different key for %s than it did before", self->server, user->name);
  g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_PRESENCE_CHANGED], 0, frame->room, user->name, user_id,
                 frame->status == QUIPU_PRESENCE_ONLINE);
}

static void
handle_join (QuipuClient *self, QuipuFrame *frame)
{
  QuipuSequencer *conv;
  gboolean changed;

  if (!quipu_frame_has (frame, QUIPU_FIELD_SEQ))
    return;
  conv = quipu_client_conversation (self, frame->room);
  quipu_sequencer_baseline (conv, frame->seq);
  conv->confirmed = TRUE;
  for (guint i = 0; frame->users != NULL && i < frame->users->len; i++)
    {
      QuipuUserInfo *user = g_ptr_array_index (frame->users, i);

      if (user->has_key)
        quipu_pins_lookup_or_add (self->pins, user->name, user->key, &changed);
    }
  quipu_conversation_list_joined (self->conversation_list, frame->room, frame->users);
  g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_JOINED], 0, frame->room);
  {
    g_autofree char *key = quipu_sequencer_key (frame->room);

    quipu_waiters_succeed (self->join_waiters, key);
  }
}

static void
handle_history (QuipuClient *self, QuipuFrame *frame)
{
  QuipuSequencer *conv;
  gboolean more = (frame->flags & QUIPU_FLAG_MORE) != 0;

  if (frame->room == NULL && !(frame->flags & QUIPU_FLAG_INBOX))
    return;
  conv = quipu_client_conversation (self, frame->room);

  if (quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ))
    {
      /* Everything up to SEQ in that range was sent, pruned gaps included. */
      quipu_sequencer_complete_through (conv, frame->seq);
      release_held (self, conv);
      if (more)
        request_after (self, conv);
      else
        conv->syncing = FALSE;
      return;
    }

  if (quipu_frame_has (frame, QUIPU_FIELD_SEQ) && frame->seq < conv->lowest)
    conv->lowest = frame->seq;
  conv->loading_older = FALSE;
  g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_HISTORY_LOADED], 0, frame->room, (guint) frame->count, more);
}

static gboolean
rate_wait_over_cb (gpointer data)
{
  quipu_client_pump_outbox (data);
  return G_SOURCE_REMOVE;
}

/* Nothing of the message was stored: it stays pending (the UI shows it so)
 * and goes again, with the same id, after a wait that grows while the
 * server keeps refusing. Those sent after it were most likely refused too;
 * they go again after it, and the server drops the copies of any it stored. */
static void
rate_limited (QuipuClient *self, guint64 client_msg_id)
{
  guint ms;

  /* Those sent after a refused one are refused in turn: one wait for all. */
  if (!quipu_outbox_rewind_to (self->outbox, client_msg_id) || quipu_timer_is_active (&self->rate_timer))
    return;
  ms = quipu_backoff_next (&self->rate_backoff, RATE_BACKOFF_MIN_MS, RATE_BACKOFF_MAX_MS);
  self->rate_cap = 1;
  g_debug ("%s: rate-limited, sending again in %u ms", self->server, ms);
  quipu_timer_start (&self->rate_timer, self->context, ms, rate_wait_over_cb, self);
}

static void
handle_error (QuipuClient *self, QuipuFrame *frame)
{
  QuipuProtocolError code = quipu_error_code_from_wire (frame->code);
  const char *text = frame->text ? frame->text : quipu_error_code_to_string (frame->code);

  if (quipu_frame_has (frame, QUIPU_FIELD_CLIENT_MSG_ID) && code == QUIPU_PROTOCOL_ERROR_RATE_LIMITED)
    {
      rate_limited (self, frame->client_msg_id);
      return;
    }
  if (quipu_frame_has (frame, QUIPU_FIELD_CLIENT_MSG_ID))
    {
      g_autoptr(QuipuMessage) msg = outbox_take (self, frame->client_msg_id);
      g_autoptr(GError) error = NULL;

      if (msg == NULL)
        return;
      error = g_error_new_literal (QUIPU_PROTOCOL_ERROR, code, text ? text : "refused");
      quipu_message_set_failed (msg, error);
      g_signal_emit (self, quipu_client_signals[QUIPU_CLIENT_MESSAGE_FAILED], 0, msg, error);
      return;
    }

  if (self->state == QUIPU_STATE_CONNECTING)
    {
      /* A refused login; the server closes right after. */
      quipu_client_fail (self, g_error_new_literal (QUIPU_PROTOCOL_ERROR, code, text ? text : "login refused"));
      return;
    }

  g_message ("%s: %s", self->server, text ? text : "error");
}

static void
on_frame (QuipuConnection *conn, QuipuFrame *frame, gpointer user_data)
{
  QuipuClient *self = user_data;

  if (self->state == QUIPU_STATE_CONNECTING &&
      frame->type != QUIPU_FRAME_WELCOME && frame->type != QUIPU_FRAME_ERROR &&
      frame->type != QUIPU_FRAME_DISCONNECT && frame->type != QUIPU_FRAME_PING)
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s sent %s before WELCOME", self->server,
                               quipu_frame_type_to_string (frame->type)));
      return;
    }

  switch (frame->type)
    {
    case QUIPU_FRAME_WELCOME:
      handle_welcome (self, frame);
      break;
    case QUIPU_FRAME_MESSAGE:
      handle_message (self, frame);
      break;
    case QUIPU_FRAME_ACK:
      handle_ack (self, frame);
      break;
    case QUIPU_FRAME_PRESENCE:
      handle_presence (self, frame);
      break;
    case QUIPU_FRAME_JOIN:
      handle_join (self, frame);
      break;
    case QUIPU_FRAME_HISTORY:
      handle_history (self, frame);
      break;
    case QUIPU_FRAME_ERROR:
      handle_error (self, frame);
      break;
    case QUIPU_FRAME_PING:
      {
        g_autoptr(QuipuFrame) pong = quipu_frame_new (QUIPU_FRAME_PONG);

        quipu_frame_set_uint (pong, QUIPU_FIELD_TOKEN, frame->token);
        quipu_client_queue_frame (self, pong);
      }
      break;
    case QUIPU_FRAME_PONG:
      if (frame->token == self->probe_token)
        quipu_timer_stop (&self->probe_timer);
      break;
    case QUIPU_FRAME_DISCONNECT:
      if (frame->text != NULL)
        g_debug ("%s says goodbye: %s", self->server, frame->text);
      break;
    case QUIPU_FRAME_CONNECT:
    case QUIPU_FRAME_LEAVE:
    default:
      break;
    }
}

/* A refused certificate is reported under the code that says what to ask
 * the user (unknown server, changed certificate), and the fingerprint it
 * presented becomes the server-fingerprint property. */
static GError *
certificate_error (QuipuClient *self, const GError *error)
{
  GError *copy = g_error_copy (error);
  QuipuProtocolError problem = quipu_error_get_certificate_problem (error);
  const char *presented = quipu_error_get_presented_fingerprint (error);

  if (problem == QUIPU_PROTOCOL_ERROR_FAILED)
    return copy;
  copy->code = problem;
  if (presented != NULL && g_strcmp0 (self->server_fingerprint, presented) != 0)
    {
      g_free (self->server_fingerprint);
      self->server_fingerprint = g_strdup (presented);
      g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_SERVER_FINGERPRINT]);
    }
  return copy;
}

static void
on_closed (QuipuConnection *conn, const GError *error, gpointer user_data)
{
  QuipuClient *self = user_data;

  if (self->state == QUIPU_STATE_DISCONNECTING)
    {
      g_clear_pointer (&self->conn, quipu_connection_unref);
      quipu_client_dispatch_event (self, QUIPU_EVENT_CLOSED);
      return;
    }

  /* A refused login has already set a better error than the close. */
  if (self->error != NULL && self->state == QUIPU_STATE_CONNECTING)
    {
      quipu_client_dispatch_event (self, QUIPU_EVENT_FAILURE);
      return;
    }
  if (error == NULL)
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                                            "%s closed the connection", self->server));
      return;
    }
  quipu_client_fail (self, certificate_error (self, error));
}

static void
on_acked (QuipuConnection *conn, guint64 offset, gpointer user_data)
{
  QuipuClient *self = user_data;

  self->stream_acked = offset;
  quipu_client_pump_outbox (self);
}

const QuipuConnectionCallbacks quipu_client_session_callbacks = {
  .established = on_established,
  .frame = on_frame,
  .acked = on_acked,
  .closed = on_closed,
};

void
quipu_client_send_ping (QuipuClient *self)
{
  g_autoptr(QuipuFrame) ping = quipu_frame_new (QUIPU_FRAME_PING);

  self->probe_token = quipu_client_random_id ();
  quipu_frame_set_uint (ping, QUIPU_FIELD_TOKEN, self->probe_token);
  quipu_client_queue_frame (self, ping);
}
