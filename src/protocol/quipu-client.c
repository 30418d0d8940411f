#define G_LOG_DOMAIN "quipu-client"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>

#include "quipu-client.h"
#include "quipu-conversation-list.h"
#include "quipu-endpoint.h"
#include "quipu-enums.h"
#include "quipu-error.h"
#include "quipu-known-users.h"
#include "quipu-message-private.h"
#include "quipu-names.h"
#include "quipu-signing.h"
#include "quipu-state-machine.h"
#include "quipu-tls.h"
#include "quipu-wire.h"

#define LOGIN_TIMEOUT_S      10
#define PROBE_TIMEOUT_S      5
#define BACKOFF_MIN_MS       500
#define BACKOFF_MAX_MS       30000
#define RESYNC_PAGE          1000

/* The public bound is the wire's. */
G_STATIC_ASSERT (QUIPU_SEQ_MAX == QUIPU_VARINT_MAX);

static const char * const offered_features[] = { "history", "presence", NULL };

/* What we know of one conversation: a room, or the inbox (room NULL).
 * Sequences <= contiguous and >= lowest have all been received; `ahead`
 * holds the ones received above contiguous, so nothing is shown twice.
 * Messages above a gap wait in `held` (QuipuMessage * keys, by sequence)
 * until the gap fills, so each conversation is shown in sequence order. */
typedef struct {
  char       *room;
  guint64     contiguous;
  guint64     lowest;
  GHashTable *ahead;
  GTree      *held;
  gboolean    joined;
  gboolean    has_state;
  gboolean    loading_older;
  gboolean    syncing;        /* a request for what follows contiguous is on its way */
} Conversation;

typedef struct {
  guint8  key[QUIPU_KEY_SIZE];
  char   *user_id;
} Pin;

struct _QuipuClient {
  GObject          parent_instance;

  QuipuIdentity   *identity;
  char            *username;        /* as the server registered it, after WELCOME */
  char            *server;
  char            *client_name;
  char            *pinned_fingerprint;
  char            *trust_store_path;
  char            *known_users_path;
  char            *pins_server;     /* the server `pins` were loaded for */
  char            *server_fingerprint;
  QuipuTrustVia    trust_via;
  gboolean         auto_reconnect;
  gboolean         verify_signatures;
  guint            history_limit;

  QuipuState       state;
  GError          *error;
  QuipuConnection *conn;
  GCancellable    *cancellable;
  guint            reconnect_id;
  guint            login_timeout_id;
  guint            probe_id;
  guint            backoff_ms;
  gboolean         ever_logged_in;
  guint64          probe_token;

  GQueue           outbox;          /* QuipuMessage *, oldest first */
  GHashTable      *conversations;   /* "#room" or "@" -> Conversation */
  GHashTable      *pins;            /* sender name -> Pin */
  QuipuConversationList *conversation_list;   /* the app-facing models */
  GStrv            room_directory;  /* ROOM_ENTRY of the last WELCOME */

  GNetworkMonitor *network_monitor;
  GDBusConnection *system_bus;
  guint            sleep_signal_id;
};

G_DEFINE_FINAL_TYPE (QuipuClient, quipu_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATE,
  PROP_SERVER,
  PROP_USERNAME,
  PROP_USER_ID,
  PROP_AUTO_RECONNECT,
  PROP_HISTORY_LIMIT,
  PROP_VERIFY_SIGNATURES,
  PROP_SERVER_FINGERPRINT,
  PROP_N_PENDING,
  PROP_ROOM_DIRECTORY,
  N_PROPS
};

enum {
  MESSAGE_RECEIVED,
  MESSAGE_ACKED,
  MESSAGE_FAILED,
  PRESENCE_CHANGED,
  HISTORY_LOADED,
  JOINED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void dispatch_event (QuipuClient *self, QuipuEvent event);

/* Conversations. */

static void
conversation_free (gpointer data)
{
  Conversation *conv = data;

  g_free (conv->room);
  g_hash_table_unref (conv->ahead);
  g_tree_unref (conv->held);
  g_free (conv);
}

static int
compare_seq (gconstpointer a, gconstpointer b, gpointer user_data)
{
  guint64 x = quipu_message_get_seq ((QuipuMessage *) a);
  guint64 y = quipu_message_get_seq ((QuipuMessage *) b);

  return x < y ? -1 : x > y;
}

static Conversation *
conversation_get (QuipuClient *self, const char *room)
{
  g_autofree char *key = room ? quipu_conversation_key_for_room (room) : g_strdup ("@");
  Conversation *conv = g_hash_table_lookup (self->conversations, key);

  if (conv == NULL)
    {
      conv = g_new0 (Conversation, 1);
      conv->room = g_strdup (room);
      conv->lowest = G_MAXUINT64;
      conv->ahead = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      conv->held = g_tree_new_full (compare_seq, NULL, g_object_unref, NULL);
      g_hash_table_insert (self->conversations, g_steal_pointer (&key), conv);
    }
  return conv;
}

/* First sight of the conversation in this session: everything up to `seq`
 * exists on the server; what we show of it comes as history. */
static void
conversation_baseline (Conversation *conv, guint64 seq)
{
  if (conv->has_state)
    return;
  conv->has_state = TRUE;
  conv->contiguous = seq;
  conv->lowest = seq + 1;
}

static void
conversation_advance (Conversation *conv)
{
  guint64 next = conv->contiguous + 1;

  while (g_hash_table_remove (conv->ahead, &next))
    next++;
  conv->contiguous = next - 1;
}

/* Records `seq` as shown; FALSE if it was shown before. */
static gboolean
conversation_mark (Conversation *conv, guint64 seq)
{
  if (seq < conv->lowest)
    return TRUE;   /* older history, asked for and delivered once */
  if (seq <= conv->contiguous)
    return FALSE;
  if (g_hash_table_contains (conv->ahead, &seq))
    return FALSE;
  g_hash_table_add (conv->ahead, g_memdup2 (&seq, sizeof seq));
  conversation_advance (conv);
  return TRUE;
}

static void
conversation_complete_through (Conversation *conv, guint64 seq)
{
  GHashTableIter iter;
  guint64 *key;

  if (seq <= conv->contiguous)
    return;
  conv->contiguous = seq;
  g_hash_table_iter_init (&iter, conv->ahead);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, NULL))
    if (*key <= seq)
      g_hash_table_iter_remove (&iter);
  conversation_advance (conv);
}

/* Pins: the first key seen for a sender name is the one expected after. */

static void
pin_free (gpointer data)
{
  Pin *pin = data;

  g_free (pin->user_id);
  g_free (pin);
}

static Pin *
pin_insert (QuipuClient *self, const char *name, const guint8 *key)
{
  Pin *pin = g_new0 (Pin, 1);

  memcpy (pin->key, key, QUIPU_KEY_SIZE);
  pin->user_id = quipu_user_id_from_key (key);
  g_hash_table_insert (self->pins, g_strdup (name), pin);
  return pin;
}

static const char *
known_users_path (QuipuClient *self)
{
  if (self->known_users_path == NULL)
    self->known_users_path = quipu_known_users_default_path ();
  return self->known_users_path;
}

/* Pins outlive the process: a key a server swaps between two runs shows up
 * as changed, not as a first sight. */
static void
load_pins (QuipuClient *self)
{
  g_autoptr(GHashTable) stored = NULL;
  GHashTableIter iter;
  const char *name;
  GBytes *key;

  if (g_strcmp0 (self->pins_server, self->server) == 0)
    return;
  g_free (self->pins_server);
  self->pins_server = g_strdup (self->server);
  g_hash_table_remove_all (self->pins);

  stored = quipu_known_users_load (known_users_path (self), self->server);
  g_hash_table_iter_init (&iter, stored);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, (gpointer *) &key))
    pin_insert (self, name, g_bytes_get_data (key, NULL));
}

static Pin *
pin_lookup_or_add (QuipuClient *self, const char *name, const guint8 *key, gboolean *changed)
{
  Pin *pin = g_hash_table_lookup (self->pins, name);

  *changed = FALSE;
  if (pin == NULL)
    {
      g_autoptr(GError) error = NULL;

      pin = pin_insert (self, name, key);
      if (!quipu_known_users_add (known_users_path (self), self->server, name, key, &error))
        g_warning ("cannot remember the key of %s: %s", name, error->message);
    }
  else if (memcmp (pin->key, key, QUIPU_KEY_SIZE) != 0)
    *changed = TRUE;
  return pin;
}

/* Sending. */

static void
queue_frame (QuipuClient *self, const QuipuFrame *frame)
{
  if (self->conn != NULL)
    quipu_connection_queue_frame (self->conn, frame);
}

static guint64
random_msg_id (void)
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
static QuipuFrame *
build_message_frame (QuipuClient *self, QuipuMessage *msg, GError **error)
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

static void
transmit (QuipuClient *self, QuipuMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuFrame) frame = build_message_frame (self, msg, &error);

  if (frame == NULL)
    {
      g_warning ("cannot sign message: %s", error->message);
      return;
    }
  queue_frame (self, frame);
}

static void
send_join (QuipuClient *self, Conversation *conv)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_JOIN);

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, conv->room);
  if (conv->has_state)
    {
      quipu_frame_set_uint (frame, QUIPU_FIELD_AFTER_SEQ, conv->contiguous);
      quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, RESYNC_PAGE);
      conv->syncing = TRUE;
    }
  else
    quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, self->history_limit);
  queue_frame (self, frame);
}

static void
request_after (QuipuClient *self, Conversation *conv)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_HISTORY);

  if (conv->room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, conv->room);
  else
    quipu_frame_set_uint (frame, QUIPU_FIELD_FLAGS, QUIPU_FLAG_INBOX);
  quipu_frame_set_uint (frame, QUIPU_FIELD_AFTER_SEQ, conv->contiguous);
  quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, RESYNC_PAGE);
  conv->syncing = TRUE;
  queue_frame (self, frame);
}

/* Shows the held messages that no gap separates from the rest any more. */
static void
release_held (QuipuClient *self, Conversation *conv)
{
  GTreeNode *first;

  while ((first = g_tree_node_first (conv->held)) != NULL &&
         quipu_message_get_seq (g_tree_node_key (first)) <= conv->contiguous)
    {
      g_autoptr(QuipuMessage) msg = g_tree_node_key (first);

      g_tree_steal (conv->held, msg);
      g_signal_emit (self, signals[MESSAGE_RECEIVED], 0, msg);
    }
}

/* After login: rejoin rooms with a resync, then resend what was never
 * acknowledged, in the order it was written. */
static void
resume_session (QuipuClient *self)
{
  GHashTableIter iter;
  Conversation *conv;

  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conv))
    if (conv->room != NULL && conv->joined)
      send_join (self, conv);

  for (GList *l = self->outbox.head; l != NULL; l = l->next)
    transmit (self, l->data);
}

/* State machine plumbing. */

static gboolean
is_retryable (const GError *error)
{
  if (error == NULL || error->domain != QUIPU_PROTOCOL_ERROR)
    return TRUE;
  switch (error->code)
    {
    case QUIPU_PROTOCOL_ERROR_UNTRUSTED:
    case QUIPU_PROTOCOL_ERROR_NAME_TAKEN:
    case QUIPU_PROTOCOL_ERROR_BAD_NAME:
    case QUIPU_PROTOCOL_ERROR_BAD_PROOF:
    case QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION:
    case QUIPU_PROTOCOL_ERROR_HANDSHAKE:
    case QUIPU_PROTOCOL_ERROR_BAD_KEY:
      return FALSE;
    default:
      return TRUE;
    }
}

static void
drop_connection (QuipuClient *self)
{
  g_clear_handle_id (&self->login_timeout_id, g_source_remove);
  g_clear_handle_id (&self->probe_id, g_source_remove);
  if (self->conn == NULL)
    return;
  quipu_connection_set_callbacks (self->conn, NULL, NULL);
  quipu_connection_abort (self->conn);
  g_clear_pointer (&self->conn, quipu_connection_unref);
}

static void
fail (QuipuClient *self, GError *error)
{
  g_clear_error (&self->error);
  self->error = error;
  g_debug ("%s: failure: %s", self->username, error->message);
  dispatch_event (self, QUIPU_EVENT_FAILURE);
}

static gboolean
reconnect_cb (gpointer data)
{
  QuipuClient *self = data;

  self->reconnect_id = 0;
  if (self->state == QUIPU_STATE_ERROR)
    quipu_client_connect (self);
  return G_SOURCE_REMOVE;
}

/* Exponential backoff with jitter, so a restarted server is not hit by every
 * client at the same instant. */
static void
schedule_reconnect (QuipuClient *self)
{
  guint delay;

  if (!self->auto_reconnect || !self->ever_logged_in || !is_retryable (self->error))
    return;

  self->backoff_ms = self->backoff_ms ? MIN (self->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
  delay = self->backoff_ms / 2 + g_random_int_range (0, self->backoff_ms / 2 + 1);
  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  self->reconnect_id = g_timeout_add (delay, reconnect_cb, self);
}

static void open_transport (QuipuClient *self);

static void
close_transport (QuipuClient *self)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_DISCONNECT);

  g_clear_handle_id (&self->login_timeout_id, g_source_remove);
  if (self->conn == NULL)
    {
      dispatch_event (self, QUIPU_EVENT_CLOSED);
      return;
    }
  quipu_frame_set_string (frame, QUIPU_FIELD_TEXT, "bye");
  queue_frame (self, frame);
  quipu_connection_close (self->conn, 0, "bye", 1000);
}

static void
dispatch_event (QuipuClient *self, QuipuEvent event)
{
  g_autoptr(GError) error = NULL;
  QuipuActions actions;
  QuipuState from = self->state, to;

  if (!quipu_state_transition (from, event, &to, &actions, &error))
    {
      g_debug ("%s", error->message);
      return;
    }

  g_object_ref (self);
  g_debug ("%s: %s -> %s", self->username, quipu_state_to_string (from), quipu_state_to_string (to));
  /* The actions run in the new state, so one that fails moves on from it.
   * Observers hear of the state once the actions are done: a session
   * announced Connected has rejoined its rooms and resent its outbox, so
   * whatever they send follows that. A state left meanwhile is not
   * announced; the event that left it announced its own. */
  self->state = to;
  if (actions & QUIPU_ACTION_CANCEL_RECONNECT)
    g_clear_handle_id (&self->reconnect_id, g_source_remove);
  if (actions & QUIPU_ACTION_ABORT_TRANSPORT)
    drop_connection (self);
  if (actions & QUIPU_ACTION_CLOSE_TRANSPORT)
    close_transport (self);
  if (actions & QUIPU_ACTION_OPEN_TRANSPORT)
    open_transport (self);
  if (actions & QUIPU_ACTION_RESEND_PENDING)
    resume_session (self);
  if (actions & QUIPU_ACTION_SCHEDULE_RECONNECT)
    schedule_reconnect (self);
  if (self->state == to && from != to)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  g_object_unref (self);
}

/* Connection callbacks. */

static gboolean
login_timeout_cb (gpointer data)
{
  QuipuClient *self = data;

  self->login_timeout_id = 0;
  fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TIMED_OUT,
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
  Conversation *inbox = conversation_get (self, NULL);

  self->trust_via = quipu_connection_get_trust_via (conn);
  if (g_strcmp0 (self->server_fingerprint, quipu_connection_get_peer_fingerprint (conn)) != 0)
    {
      g_free (self->server_fingerprint);
      self->server_fingerprint = g_strdup (quipu_connection_get_peer_fingerprint (conn));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVER_FINGERPRINT]);
    }

  /* The proof signs a value only this TLS session has, so it is worthless
   * on any other connection. */
  if (!quipu_connection_export_keying_material (conn, QUIPU_LOGIN_EXPORTER_LABEL,
                                                exporter, sizeof exporter, &error) ||
      !quipu_identity_sign_login_proof (self->identity, exporter, sizeof exporter,
                                        self->username, proof, &error))
    {
      fail (self, g_steal_pointer (&error));
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
  queue_frame (self, frame);

  g_clear_handle_id (&self->login_timeout_id, g_source_remove);
  self->login_timeout_id = g_timeout_add_seconds (LOGIN_TIMEOUT_S, login_timeout_cb, self);
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
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROOM_DIRECTORY]);
}

static void
handle_welcome (QuipuClient *self, QuipuFrame *frame)
{
  guint64 version = g_array_index (frame->versions, guint64, 0);

  if (self->state != QUIPU_STATE_CONNECTING)
    {
      fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s sent a second WELCOME", self->server));
      return;
    }
  if (version != QUIPU_PROTOCOL_VERSION)
    {
      fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION,
                               "%s chose protocol version %" G_GUINT64_FORMAT ", which this client does not speak",
                               self->server, version));
      return;
    }
  if (g_strcmp0 (frame->user_id, quipu_identity_get_user_id (self->identity)) != 0)
    {
      fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s reported user id %s, but our key gives %s", self->server,
                               frame->user_id, quipu_identity_get_user_id (self->identity)));
      return;
    }

  g_clear_handle_id (&self->login_timeout_id, g_source_remove);
  if (g_strcmp0 (self->username, frame->username) != 0)
    {
      g_free (self->username);
      self->username = g_strdup (frame->username);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USERNAME]);
    }
  if (quipu_frame_has (frame, QUIPU_FIELD_SEQ))
    conversation_baseline (conversation_get (self, NULL), frame->seq);
  set_room_directory (self, frame->room_entries);
  self->ever_logged_in = TRUE;
  self->backoff_ms = 0;
  g_clear_error (&self->error);
  dispatch_event (self, QUIPU_EVENT_ESTABLISHED);
}

static QuipuMessage *
outbox_take (QuipuClient *self, guint64 client_msg_id)
{
  for (GList *l = self->outbox.head; l != NULL; l = l->next)
    {
      QuipuMessage *msg = l->data;

      if (quipu_message_get_client_msg_id (msg) == client_msg_id)
        {
          g_queue_delete_link (&self->outbox, l);
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PENDING]);
          return msg;
        }
    }
  return NULL;
}

static void
acknowledge (QuipuClient *self, QuipuMessage *msg, guint64 seq)
{
  Conversation *conv = conversation_get (self, quipu_message_get_room (msg));

  conversation_mark (conv, seq);
  quipu_message_set_seq (msg, seq);
  quipu_message_set_status (msg, QUIPU_MESSAGE_ACKED);
  g_signal_emit (self, signals[MESSAGE_ACKED], 0, msg);
  release_held (self, conv);
}

static void
handle_ack (QuipuClient *self, QuipuFrame *frame)
{
  g_autoptr(QuipuMessage) msg = outbox_take (self, frame->client_msg_id);

  /* A duplicate ACK for something settled already needs nothing. */
  if (msg != NULL)
    acknowledge (self, msg, frame->seq);
}

static QuipuVerification
verify_message (QuipuClient *self, QuipuFrame *frame, Pin *pin, gboolean key_changed)
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
  Conversation *conv;
  gboolean own, key_changed;
  Pin *pin;

  if (!quipu_frame_has (frame, QUIPU_FIELD_SENDER) || !quipu_frame_has (frame, QUIPU_FIELD_KEY) ||
      !quipu_frame_has (frame, QUIPU_FIELD_SEQ))
    {
      fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               "%s relayed a message without sender, key or sequence", self->server));
      return;
    }

  conv = conversation_get (self, frame->room);
  if (!conversation_mark (conv, frame->seq))
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

  pin = pin_lookup_or_add (self, frame->sender, frame->key, &key_changed);
  msg = quipu_message_new_from_frame (frame, pin->user_id, self->username, own);
  quipu_message_set_verification (msg, verify_message (self, frame, pin, key_changed));

  /* Live messages overtake a catch-up that needs more than one page; any
   * other gap is filled by asking for what follows the last complete
   * sequence. Either way the message waits for the ones before it. */
  if (conv->has_state && frame->seq > conv->contiguous)
    {
      g_tree_insert (conv->held, g_steal_pointer (&msg), NULL);
      if (!conv->syncing)
        request_after (self, conv);
      return;
    }
  g_signal_emit (self, signals[MESSAGE_RECEIVED], 0, msg);
  release_held (self, conv);
}

static void
handle_presence (QuipuClient *self, QuipuFrame *frame)
{
  QuipuUserInfo *user = g_ptr_array_index (frame->users, 0);
  g_autofree char *user_id = NULL;
  gboolean changed = FALSE;

  if (user->has_key)
    user_id = g_strdup (pin_lookup_or_add (self, user->name, user->key, &changed)->user_id);
  if (changed)
    g_warning ("%s announced a different key for %s than it did before", self->server, user->name);
  g_signal_emit (self, signals[PRESENCE_CHANGED], 0, frame->room, user->name, user_id,
                 frame->status == QUIPU_PRESENCE_ONLINE);
}

static void
handle_join (QuipuClient *self, QuipuFrame *frame)
{
  Conversation *conv;
  gboolean changed;

  if (!quipu_frame_has (frame, QUIPU_FIELD_SEQ))
    return;
  conv = conversation_get (self, frame->room);
  conversation_baseline (conv, frame->seq);
  for (guint i = 0; frame->users != NULL && i < frame->users->len; i++)
    {
      QuipuUserInfo *user = g_ptr_array_index (frame->users, i);

      if (user->has_key)
        pin_lookup_or_add (self, user->name, user->key, &changed);
    }
  quipu_conversation_list_joined (self->conversation_list, frame->room, frame->users);
  g_signal_emit (self, signals[JOINED], 0, frame->room);
}

static void
handle_history (QuipuClient *self, QuipuFrame *frame)
{
  Conversation *conv;
  gboolean more = (frame->flags & QUIPU_FLAG_MORE) != 0;

  if (frame->room == NULL && !(frame->flags & QUIPU_FLAG_INBOX))
    return;
  conv = conversation_get (self, frame->room);

  if (quipu_frame_has (frame, QUIPU_FIELD_AFTER_SEQ))
    {
      /* Everything up to SEQ in that range was sent, pruned gaps included. */
      conversation_complete_through (conv, frame->seq);
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
  g_signal_emit (self, signals[HISTORY_LOADED], 0, frame->room, (guint) frame->count, more);
}

static void
handle_error (QuipuClient *self, QuipuFrame *frame)
{
  QuipuProtocolError code = quipu_error_code_from_wire (frame->code);
  const char *text = frame->text ? frame->text : quipu_error_code_to_string (frame->code);

  if (quipu_frame_has (frame, QUIPU_FIELD_CLIENT_MSG_ID))
    {
      g_autoptr(QuipuMessage) msg = outbox_take (self, frame->client_msg_id);
      g_autoptr(GError) error = NULL;

      if (msg == NULL)
        return;
      error = g_error_new_literal (QUIPU_PROTOCOL_ERROR, code, text ? text : "refused");
      quipu_message_set_failed (msg, error);
      g_signal_emit (self, signals[MESSAGE_FAILED], 0, msg, error);
      return;
    }

  if (self->state == QUIPU_STATE_CONNECTING)
    {
      /* A refused login; the server closes right after. */
      fail (self, g_error_new_literal (QUIPU_PROTOCOL_ERROR, code, text ? text : "login refused"));
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
      fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
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
        queue_frame (self, pong);
      }
      break;
    case QUIPU_FRAME_PONG:
      if (frame->token == self->probe_token)
        g_clear_handle_id (&self->probe_id, g_source_remove);
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

static void
on_closed (QuipuConnection *conn, const GError *error, gpointer user_data)
{
  QuipuClient *self = user_data;

  if (self->state == QUIPU_STATE_DISCONNECTING)
    {
      g_clear_pointer (&self->conn, quipu_connection_unref);
      dispatch_event (self, QUIPU_EVENT_CLOSED);
      return;
    }

  /* A refused login has already set a better error than the close. */
  if (self->error != NULL && self->state == QUIPU_STATE_CONNECTING)
    {
      dispatch_event (self, QUIPU_EVENT_FAILURE);
      return;
    }
  fail (self, error ? g_error_copy (error)
                    : g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                                   "%s closed the connection", self->server));
}

static const QuipuConnectionCallbacks connection_callbacks = {
  .established = on_established,
  .frame = on_frame,
  .closed = on_closed,
};

static void
start_connection (QuipuClient *self, GInetAddress *address, const char *hostname, guint16 port)
{
  g_autoptr(GSocketAddress) sockaddr = g_inet_socket_address_new (address, port);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (self->trust_store_path);
  g_autoptr(GError) error = NULL;
  QuipuTrustPolicy policy = {
    .hostname = hostname,
    .host_port = self->server,
    .pinned_fingerprint = self->pinned_fingerprint,
    .store = store,
  };

  self->conn = quipu_endpoint_connect (G_INET_SOCKET_ADDRESS (sockaddr), &policy, 0, &error);
  if (self->conn == NULL)
    {
      fail (self, g_steal_pointer (&error));
      return;
    }
  quipu_connection_set_callbacks (self->conn, &connection_callbacks, self);
}

typedef struct {
  QuipuClient *self;
  char        *hostname;
  guint16      port;
} Resolve;

static void
resolve_free (Resolve *resolve)
{
  g_object_unref (resolve->self);
  g_free (resolve->hostname);
  g_free (resolve);
}

static void
resolved_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Resolve *resolve = user_data;
  QuipuClient *self = resolve->self;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);

  if (addresses == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          self->state == QUIPU_STATE_CONNECTING)
        fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                 "cannot resolve %s: %s", resolve->hostname, error->message));
      resolve_free (resolve);
      return;
    }

  if (self->state == QUIPU_STATE_CONNECTING && self->conn == NULL)
    start_connection (self, addresses->data, resolve->hostname, resolve->port);
  g_resolver_free_addresses (addresses);
  resolve_free (resolve);
}

/* Requests die with the connection that carried them. */
static void
forget_requests (QuipuClient *self)
{
  GHashTableIter iter;
  Conversation *conv;

  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conv))
    conv->syncing = conv->loading_older = FALSE;
}

static void
open_transport (QuipuClient *self)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GInetAddress) literal = NULL;
  g_autoptr(GResolver) resolver = NULL;
  g_autoptr(GError) error = NULL;
  Resolve *resolve;
  const char *hostname;
  guint16 port;

  forget_requests (self);
  if (self->server == NULL)
    {
      fail (self, g_error_new_literal (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                       "no server set"));
      return;
    }

  load_pins (self);
  connectable = g_network_address_parse (self->server, QUIPU_DEFAULT_PORT, &error);
  if (connectable == NULL)
    {
      fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                               "not a server address: %s (expected HOST:PORT)", self->server));
      return;
    }
  hostname = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));

  literal = g_inet_address_new_from_string (hostname);
  if (literal != NULL)
    {
      start_connection (self, literal, hostname, port);
      return;
    }

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  resolve = g_new0 (Resolve, 1);
  resolve->self = g_object_ref (self);
  resolve->hostname = g_strdup (hostname);
  resolve->port = port;
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, hostname, self->cancellable, resolved_cb, resolve);
}

/* Network changes and resume from suspend: retry at once instead of waiting
 * out the backoff, and check a connection that may have died meanwhile. */

static gboolean
probe_timeout_cb (gpointer data)
{
  QuipuClient *self = data;

  self->probe_id = 0;
  fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TIMED_OUT,
                           "%s stopped answering", self->server));
  return G_SOURCE_REMOVE;
}

static void
check_connection_now (QuipuClient *self)
{
  if (self->state == QUIPU_STATE_ERROR && self->reconnect_id != 0)
    {
      g_clear_handle_id (&self->reconnect_id, g_source_remove);
      self->backoff_ms = 0;
      quipu_client_connect (self);
    }
  else if (self->state == QUIPU_STATE_CONNECTED && self->probe_id == 0)
    {
      g_autoptr(QuipuFrame) ping = quipu_frame_new (QUIPU_FRAME_PING);

      self->probe_token = random_msg_id ();
      quipu_frame_set_uint (ping, QUIPU_FIELD_TOKEN, self->probe_token);
      queue_frame (self, ping);
      self->probe_id = g_timeout_add_seconds (PROBE_TIMEOUT_S, probe_timeout_cb, self);
    }
}

static void
network_changed_cb (GNetworkMonitor *monitor, gboolean available, gpointer user_data)
{
  if (available)
    check_connection_now (user_data);
}

static void
prepare_for_sleep_cb (GDBusConnection *bus, const char *sender, const char *path,
                      const char *interface, const char *signal, GVariant *parameters,
                      gpointer user_data)
{
  gboolean going_to_sleep;

  g_variant_get (parameters, "(b)", &going_to_sleep);
  if (!going_to_sleep)
    check_connection_now (user_data);
}

static void
system_bus_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(QuipuClient) self = g_weak_ref_get (weak);
  GDBusConnection *bus = g_bus_get_finish (result, NULL);

  g_weak_ref_clear (weak);
  g_free (weak);
  /* No system bus (containers, CI), or the client is gone already. */
  if (bus == NULL || self == NULL)
    {
      g_clear_object (&bus);
      return;
    }
  self->system_bus = bus;
  self->sleep_signal_id =
    g_dbus_connection_signal_subscribe (bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager",
                                        "PrepareForSleep", "/org/freedesktop/login1", NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, prepare_for_sleep_cb, self, NULL);
}

/* GObject. */

static void
quipu_client_dispose (GObject *object)
{
  QuipuClient *self = QUIPU_CLIENT (object);

  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->conversation_list != NULL)
    quipu_conversation_list_shutdown (self->conversation_list);
  g_clear_object (&self->conversation_list);
  if (self->conn != NULL)
    {
      /* Finish the goodbye in the background if we were connected. */
      quipu_connection_set_callbacks (self->conn, NULL, NULL);
      if (self->state == QUIPU_STATE_CONNECTED)
        quipu_connection_close (self->conn, 0, "bye", 500);
      else
        quipu_connection_abort (self->conn);
      g_clear_pointer (&self->conn, quipu_connection_unref);
    }
  g_clear_handle_id (&self->login_timeout_id, g_source_remove);
  g_clear_handle_id (&self->probe_id, g_source_remove);
  if (self->network_monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->network_monitor, self);
  g_clear_object (&self->network_monitor);
  if (self->system_bus != NULL && self->sleep_signal_id != 0)
    g_dbus_connection_signal_unsubscribe (self->system_bus, self->sleep_signal_id);
  self->sleep_signal_id = 0;
  g_clear_object (&self->system_bus);
  g_queue_clear_full (&self->outbox, g_object_unref);

  G_OBJECT_CLASS (quipu_client_parent_class)->dispose (object);
}

static void
quipu_client_finalize (GObject *object)
{
  QuipuClient *self = QUIPU_CLIENT (object);

  g_clear_object (&self->identity);
  g_free (self->username);
  g_free (self->server);
  g_free (self->client_name);
  g_free (self->pinned_fingerprint);
  g_free (self->trust_store_path);
  g_free (self->known_users_path);
  g_free (self->pins_server);
  g_free (self->server_fingerprint);
  g_clear_error (&self->error);
  g_hash_table_unref (self->conversations);
  g_hash_table_unref (self->pins);
  g_strfreev (self->room_directory);

  G_OBJECT_CLASS (quipu_client_parent_class)->finalize (object);
}

static void
quipu_client_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  QuipuClient *self = QUIPU_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_SERVER:
      g_value_set_string (value, self->server);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, quipu_identity_get_user_id (self->identity));
      break;
    case PROP_AUTO_RECONNECT:
      g_value_set_boolean (value, self->auto_reconnect);
      break;
    case PROP_HISTORY_LIMIT:
      g_value_set_uint (value, self->history_limit);
      break;
    case PROP_VERIFY_SIGNATURES:
      g_value_set_boolean (value, self->verify_signatures);
      break;
    case PROP_SERVER_FINGERPRINT:
      g_value_set_string (value, self->server_fingerprint);
      break;
    case PROP_N_PENDING:
      g_value_set_uint (value, self->outbox.length);
      break;
    case PROP_ROOM_DIRECTORY:
      g_value_set_boxed (value, self->room_directory);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_client_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  QuipuClient *self = QUIPU_CLIENT (object);

  switch (prop_id)
    {
    case PROP_SERVER:
      quipu_client_set_server (self, g_value_get_string (value));
      break;
    case PROP_AUTO_RECONNECT:
      quipu_client_set_auto_reconnect (self, g_value_get_boolean (value));
      break;
    case PROP_HISTORY_LIMIT:
      quipu_client_set_history_limit (self, g_value_get_uint (value));
      break;
    case PROP_VERIFY_SIGNATURES:
      quipu_client_set_verify_signatures (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_client_class_init (QuipuClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = quipu_client_dispose;
  object_class->finalize = quipu_client_finalize;
  object_class->get_property = quipu_client_get_property;
  object_class->set_property = quipu_client_set_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, QUIPU_TYPE_STATE, QUIPU_STATE_DISCONNECTED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SERVER] =
    g_param_spec_string ("server", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_AUTO_RECONNECT] =
    g_param_spec_boolean ("auto-reconnect", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HISTORY_LIMIT] =
    g_param_spec_uint ("history-limit", NULL, NULL, 0, RESYNC_PAGE, 200,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_VERIFY_SIGNATURES] =
    g_param_spec_boolean ("verify-signatures", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SERVER_FINGERPRINT] =
    g_param_spec_string ("server-fingerprint", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_PENDING] =
    g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ROOM_DIRECTORY] =
    g_param_spec_boxed ("room-directory", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, QUIPU_TYPE_MESSAGE);
  signals[MESSAGE_ACKED] =
    g_signal_new ("message-acked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, QUIPU_TYPE_MESSAGE);
  signals[MESSAGE_FAILED] =
    g_signal_new ("message-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, QUIPU_TYPE_MESSAGE, G_TYPE_ERROR);
  signals[PRESENCE_CHANGED] =
    g_signal_new ("presence-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_BOOLEAN);
  signals[HISTORY_LOADED] =
    g_signal_new ("history-loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_UINT, G_TYPE_BOOLEAN);
  signals[JOINED] =
    g_signal_new ("joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
quipu_client_init (QuipuClient *self)
{
  self->auto_reconnect = TRUE;
  self->verify_signatures = TRUE;
  self->history_limit = 200;
  self->client_name = g_strdup ("libquipu/" PACKAGE_VERSION);
  self->conversations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, conversation_free);
  self->pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pin_free);
  g_queue_init (&self->outbox);
  self->conversation_list = quipu_conversation_list_new (self);

  self->network_monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect (self->network_monitor, "network-changed", G_CALLBACK (network_changed_cb), self);
  {
    /* Weak, so that a client dropped before the lookup ends is freed then. */
    GWeakRef *weak = g_new0 (GWeakRef, 1);

    g_weak_ref_init (weak, self);
    g_bus_get (G_BUS_TYPE_SYSTEM, NULL, system_bus_cb, weak);
  }
}

/* Public API. */

QuipuClient *
quipu_client_new (QuipuIdentity *identity,
                  const char    *username)
{
  QuipuClient *self;

  g_return_val_if_fail (QUIPU_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (quipu_name_validate (username, -1, NULL), NULL);

  self = g_object_new (QUIPU_TYPE_CLIENT, NULL);
  self->identity = g_object_ref (identity);
  self->username = g_strdup (username);
  return self;
}

const char *
quipu_client_get_username (QuipuClient *self)
{
  return self->username;
}

const char *
quipu_client_get_user_id (QuipuClient *self)
{
  return quipu_identity_get_user_id (self->identity);
}

QuipuState
quipu_client_get_state (QuipuClient *self)
{
  return self->state;
}

const GError *
quipu_client_get_error (QuipuClient *self)
{
  return self->error;
}

const char *
quipu_client_get_server_fingerprint (QuipuClient *self)
{
  return self->server_fingerprint;
}

void
quipu_client_set_server (QuipuClient *self,
                         const char  *host_port)
{
  if (g_strcmp0 (self->server, host_port) == 0)
    return;
  g_free (self->server);
  self->server = g_strdup (host_port);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVER]);
}

void
quipu_client_set_auto_reconnect (QuipuClient *self,
                                 gboolean     auto_reconnect)
{
  auto_reconnect = !!auto_reconnect;
  if (self->auto_reconnect == auto_reconnect)
    return;
  self->auto_reconnect = auto_reconnect;
  if (!auto_reconnect)
    g_clear_handle_id (&self->reconnect_id, g_source_remove);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTO_RECONNECT]);
}

void
quipu_client_set_history_limit (QuipuClient *self,
                                guint        limit)
{
  limit = MIN (limit, RESYNC_PAGE);
  if (self->history_limit == limit)
    return;
  self->history_limit = limit;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HISTORY_LIMIT]);
}

void
quipu_client_set_verify_signatures (QuipuClient *self,
                                    gboolean     verify)
{
  verify = !!verify;
  if (self->verify_signatures == verify)
    return;
  self->verify_signatures = verify;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERIFY_SIGNATURES]);
}

void
quipu_client_set_pinned_fingerprint (QuipuClient *self,
                                     const char  *fingerprint)
{
  g_free (self->pinned_fingerprint);
  self->pinned_fingerprint = g_strdup (fingerprint);
}

void
quipu_client_set_trust_store_path (QuipuClient *self,
                                   const char  *path)
{
  g_free (self->trust_store_path);
  self->trust_store_path = g_strdup (path);
}

void
quipu_client_set_known_users_path (QuipuClient *self,
                                   const char  *path)
{
  g_free (self->known_users_path);
  self->known_users_path = g_strdup (path);
  g_clear_pointer (&self->pins_server, g_free);
}

void
quipu_client_set_client_name (QuipuClient *self,
                              const char  *name)
{
  g_free (self->client_name);
  self->client_name = g_strdup (name);
}

void
quipu_client_connect (QuipuClient *self)
{
  g_return_if_fail (QUIPU_IS_CLIENT (self));

  if (self->state != QUIPU_STATE_DISCONNECTED && self->state != QUIPU_STATE_ERROR)
    return;
  dispatch_event (self, QUIPU_EVENT_CONNECT);
}

void
quipu_client_disconnect (QuipuClient *self)
{
  g_return_if_fail (QUIPU_IS_CLIENT (self));

  dispatch_event (self, QUIPU_EVENT_DISCONNECT);
}

gboolean
quipu_client_join (QuipuClient *self,
                   const char  *room,
                   GError     **error)
{
  Conversation *conv;

  if (!quipu_name_validate (room, -1, error))
    {
      g_prefix_error (error, "room: ");
      return FALSE;
    }
  conv = conversation_get (self, room);
  quipu_conversation_list_add_room (self->conversation_list, room);
  if (conv->joined)
    return TRUE;
  conv->joined = TRUE;
  if (self->state == QUIPU_STATE_CONNECTED)
    send_join (self, conv);
  return TRUE;
}

void
quipu_client_leave (QuipuClient *self,
                    const char  *room)
{
  g_autoptr(QuipuFrame) frame = NULL;
  Conversation *conv = conversation_get (self, room);

  quipu_conversation_list_remove_room (self->conversation_list, room);
  if (!conv->joined)
    return;
  conv->joined = FALSE;
  if (self->state != QUIPU_STATE_CONNECTED)
    return;
  frame = quipu_frame_new (QUIPU_FRAME_LEAVE);
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room);
  queue_frame (self, frame);
}

static QuipuMessage *
enqueue (QuipuClient        *self,
         const char         *room,
         const char * const *recipients,
         const char         *body,
         GError            **error)
{
  g_autoptr(QuipuMessage) msg = NULL;
  g_autoptr(QuipuFrame) frame = NULL;

  msg = quipu_message_new_outgoing (self->username, quipu_identity_get_user_id (self->identity),
                                    room, recipients, body, g_get_real_time () / 1000, random_msg_id ());

  /* Encode once now so a message the server would refuse (too long, bad
   * recipient name) is refused here, with the codec's precise reason. */
  frame = build_message_frame (self, msg, error);
  if (frame == NULL)
    return NULL;
  {
    g_autoptr(GBytes) bytes = quipu_frame_encode (frame, error);

    if (bytes == NULL)
      return NULL;
  }

  g_queue_push_tail (&self->outbox, g_object_ref (msg));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_PENDING]);
  quipu_conversation_list_add_pending (self->conversation_list, msg);
  if (self->state == QUIPU_STATE_CONNECTED)
    queue_frame (self, frame);
  return g_steal_pointer (&msg);
}

QuipuMessage *
quipu_client_send_to_room (QuipuClient *self,
                           const char  *room,
                           const char  *body,
                           GError     **error)
{
  g_autofree char *key = NULL;
  QuipuConversation *conv;

  g_return_val_if_fail (room != NULL, NULL);

  /* The server relays a room's messages under its own spelling of the name,
   * which the signature must then cover: use it once the join told us. */
  key = quipu_conversation_key_for_room (room);
  conv = quipu_conversation_list_lookup (self->conversation_list, key);
  return enqueue (self, conv ? quipu_conversation_get_room (conv) : room, NULL, body, error);
}

QuipuMessage *
quipu_client_send_direct (QuipuClient        *self,
                          const char * const *recipients,
                          const char         *body,
                          GError            **error)
{
  g_return_val_if_fail (recipients != NULL && recipients[0] != NULL, NULL);

  return enqueue (self, NULL, recipients, body, error);
}

guint
quipu_client_get_n_pending (QuipuClient *self)
{
  return self->outbox.length;
}

gboolean
quipu_client_load_older (QuipuClient *self,
                         const char  *room,
                         guint        limit)
{
  Conversation *conv = conversation_get (self, room);

  return quipu_client_request_history (self, room,
                                       conv->lowest == G_MAXUINT64 ? (guint64) QUIPU_VARINT_MAX : conv->lowest,
                                       limit);
}

gboolean
quipu_client_request_history (QuipuClient *self,
                              const char  *room,
                              guint64      before_seq,
                              guint        limit)
{
  g_autoptr(QuipuFrame) frame = NULL;
  Conversation *conv = conversation_get (self, room);

  if (self->state != QUIPU_STATE_CONNECTED || conv->loading_older)
    return FALSE;

  frame = quipu_frame_new (QUIPU_FRAME_HISTORY);
  if (room != NULL)
    quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room);
  else
    quipu_frame_set_uint (frame, QUIPU_FIELD_FLAGS, QUIPU_FLAG_INBOX);
  quipu_frame_set_uint (frame, QUIPU_FIELD_BEFORE_SEQ, MIN (before_seq, (guint64) QUIPU_VARINT_MAX));
  quipu_frame_set_uint (frame, QUIPU_FIELD_LIMIT, MIN (limit, RESYNC_PAGE));
  conv->loading_older = TRUE;
  queue_frame (self, frame);
  return TRUE;
}

QuipuTrustVia
quipu_client_get_trust_via (QuipuClient *self)
{
  return self->trust_via;
}

guint64
quipu_client_get_synced_seq (QuipuClient *self,
                             const char  *room)
{
  return conversation_get (self, room)->contiguous;
}

/* The app-facing models (quipu-conversation.h), kept by the conversation list. */

GListModel *
quipu_client_get_conversations (QuipuClient *self)
{
  g_return_val_if_fail (QUIPU_IS_CLIENT (self), NULL);

  return G_LIST_MODEL (self->conversation_list);
}

QuipuConversation *
quipu_client_get_conversation (QuipuClient *self,
                               const char  *key)
{
  g_return_val_if_fail (QUIPU_IS_CLIENT (self), NULL);

  return quipu_conversation_list_lookup (self->conversation_list, key);
}

QuipuConversation *
quipu_client_open_direct (QuipuClient         *self,
                          const char * const  *participants,
                          GError             **error)
{
  g_return_val_if_fail (QUIPU_IS_CLIENT (self), NULL);

  return quipu_conversation_list_open_direct (self->conversation_list, participants, error);
}

const char * const *
quipu_client_get_room_directory (QuipuClient *self)
{
  static const char * const none[] = { NULL };

  g_return_val_if_fail (QUIPU_IS_CLIENT (self), NULL);

  return self->room_directory ? (const char * const *) self->room_directory : none;
}
