#define G_LOG_DOMAIN "quipu-client"

#include "config.h"

#include "quipu-client-bench.h"
#include "quipu-client-private.h"
#include "quipu-enums.h"
#include "quipu-error.h"
#include "quipu-message-private.h"
#include "quipu-names.h"
#include "quipu-tls.h"

/* The public bound is the wire's. */
G_STATIC_ASSERT (QUIPU_SEQ_MAX == QUIPU_VARINT_MAX);

G_DEFINE_FINAL_TYPE (QuipuClient, quipu_client, G_TYPE_OBJECT)

GParamSpec *quipu_client_pspecs[QUIPU_CLIENT_N_PROPS];
guint quipu_client_signals[QUIPU_CLIENT_N_SIGNALS];

QuipuSequencer *
quipu_client_conversation (QuipuClient *self, const char *room)
{
  g_autofree char *key = quipu_sequencer_key (room);
  QuipuSequencer *conv = g_hash_table_lookup (self->conversations, key);

  if (conv == NULL)
    {
      conv = quipu_sequencer_new (room);
      g_hash_table_insert (self->conversations, g_steal_pointer (&key), conv);
    }
  return conv;
}

/* Network changes and resume from suspend (quipu-client-state.c). */
static void
wake_cb (QuipuWakeup *wakeup, gpointer user_data)
{
  quipu_client_check_connection (user_data);
}

/* GObject. */

static void
quipu_client_dispose (GObject *object)
{
  QuipuClient *self = QUIPU_CLIENT (object);

  quipu_timer_stop (&self->reconnect_timer);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_cancellable_cancel (self->outbox_cancellable);
  g_clear_object (&self->outbox_cancellable);
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
  if (self->endpoint_shared)
    self->endpoint = NULL;
  g_clear_pointer (&self->endpoint, quipu_endpoint_release);
  quipu_timer_stop (&self->login_timer);
  quipu_timer_stop (&self->probe_timer);
  quipu_timer_stop (&self->rate_timer);
  if (self->wakeup != NULL)
    g_signal_handlers_disconnect_by_data (self->wakeup, self);
  g_clear_object (&self->wakeup);
  if (self->outbox != NULL)
    quipu_outbox_close (self->outbox);
  g_clear_pointer (&self->outbox, quipu_outbox_unref);
  g_clear_pointer (&self->pins, quipu_pins_free);
  g_clear_pointer (&self->connect_waiters, quipu_waiters_free);
  g_clear_pointer (&self->join_waiters, quipu_waiters_free);
  if (self->conversation_list != NULL)
    quipu_conversation_list_shutdown (self->conversation_list);
  g_clear_object (&self->conversation_list);

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
  g_free (self->server_fingerprint);
  g_strfreev (self->room_directory);
  g_clear_error (&self->error);
  g_hash_table_unref (self->conversations);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (quipu_client_parent_class)->finalize (object);
}

static void
quipu_client_constructed (GObject *object)
{
  QuipuClient *self = QUIPU_CLIENT (object);

  G_OBJECT_CLASS (quipu_client_parent_class)->constructed (object);

  /* Both are construct-only and required: g_object_new without them is a
   * programming error, as quipu_client_new's checks say. */
  if (self->identity == NULL || self->username == NULL ||
      !quipu_name_validate (self->username, -1, NULL))
    g_critical ("QuipuClient needs an identity and a valid username");
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
    case QUIPU_CLIENT_PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case QUIPU_CLIENT_PROP_SERVER:
      g_value_set_string (value, self->server);
      break;
    case QUIPU_CLIENT_PROP_IDENTITY:
      g_value_set_object (value, self->identity);
      break;
    case QUIPU_CLIENT_PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case QUIPU_CLIENT_PROP_USER_ID:
      g_value_set_string (value, quipu_client_get_user_id (self));
      break;
    case QUIPU_CLIENT_PROP_AUTO_RECONNECT:
      g_value_set_boolean (value, self->auto_reconnect);
      break;
    case QUIPU_CLIENT_PROP_HISTORY_LIMIT:
      g_value_set_uint (value, self->history_limit);
      break;
    case QUIPU_CLIENT_PROP_VERIFY_SIGNATURES:
      g_value_set_boolean (value, self->verify_signatures);
      break;
    case QUIPU_CLIENT_PROP_PINNED_FINGERPRINT:
      g_value_set_string (value, self->pinned_fingerprint);
      break;
    case QUIPU_CLIENT_PROP_TRUST_STORE_PATH:
      g_value_set_string (value, self->trust_store_path);
      break;
    case QUIPU_CLIENT_PROP_TRUST_ON_FIRST_USE:
      g_value_set_boolean (value, self->trust_on_first_use);
      break;
    case QUIPU_CLIENT_PROP_KNOWN_USERS_PATH:
      g_value_set_string (value, quipu_pins_get_path (self->pins));
      break;
    case QUIPU_CLIENT_PROP_OUTBOX_PATH:
      g_value_set_string (value, quipu_outbox_get_path (self->outbox));
      break;
    case QUIPU_CLIENT_PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;
    case QUIPU_CLIENT_PROP_TRUST_VIA:
      g_value_set_enum (value, self->trust_via);
      break;
    case QUIPU_CLIENT_PROP_SERVER_FINGERPRINT:
      g_value_set_string (value, self->server_fingerprint);
      break;
    case QUIPU_CLIENT_PROP_N_PENDING:
      g_value_set_uint (value, quipu_outbox_get_length (self->outbox));
      break;
    case QUIPU_CLIENT_PROP_ROOM_DIRECTORY:
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
    case QUIPU_CLIENT_PROP_SERVER:
      quipu_client_set_server (self, g_value_get_string (value));
      break;
    case QUIPU_CLIENT_PROP_IDENTITY:
      self->identity = g_value_dup_object (value);
      break;
    case QUIPU_CLIENT_PROP_USERNAME:
      self->username = g_value_dup_string (value);
      break;
    case QUIPU_CLIENT_PROP_AUTO_RECONNECT:
      quipu_client_set_auto_reconnect (self, g_value_get_boolean (value));
      break;
    case QUIPU_CLIENT_PROP_HISTORY_LIMIT:
      quipu_client_set_history_limit (self, g_value_get_uint (value));
      break;
    case QUIPU_CLIENT_PROP_VERIFY_SIGNATURES:
      quipu_client_set_verify_signatures (self, g_value_get_boolean (value));
      break;
    case QUIPU_CLIENT_PROP_PINNED_FINGERPRINT:
      quipu_client_set_pinned_fingerprint (self, g_value_get_string (value));
      break;
    case QUIPU_CLIENT_PROP_TRUST_STORE_PATH:
      quipu_client_set_trust_store_path (self, g_value_get_string (value));
      break;
    case QUIPU_CLIENT_PROP_TRUST_ON_FIRST_USE:
      quipu_client_set_trust_on_first_use (self, g_value_get_boolean (value));
      break;
    case QUIPU_CLIENT_PROP_KNOWN_USERS_PATH:
      quipu_client_set_known_users_path (self, g_value_get_string (value));
      break;
    case QUIPU_CLIENT_PROP_OUTBOX_PATH:
      quipu_client_set_outbox_path (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

#define RW_PROP (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)
#define RO_PROP (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)
#define CONSTRUCT_PROP (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS)

static void
quipu_client_class_init (QuipuClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamSpec **pspecs = quipu_client_pspecs;

  object_class->constructed = quipu_client_constructed;
  object_class->dispose = quipu_client_dispose;
  object_class->finalize = quipu_client_finalize;
  object_class->get_property = quipu_client_get_property;
  object_class->set_property = quipu_client_set_property;

  pspecs[QUIPU_CLIENT_PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, QUIPU_TYPE_STATE, QUIPU_STATE_DISCONNECTED, RO_PROP);
  pspecs[QUIPU_CLIENT_PROP_SERVER] =
    g_param_spec_string ("server", NULL, NULL, NULL, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_IDENTITY] =
    g_param_spec_object ("identity", NULL, NULL, QUIPU_TYPE_IDENTITY, CONSTRUCT_PROP);
  /* Construct-only, but the server may register another spelling: notified
   * then. */
  pspecs[QUIPU_CLIENT_PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, NULL, CONSTRUCT_PROP | G_PARAM_EXPLICIT_NOTIFY);
  pspecs[QUIPU_CLIENT_PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  pspecs[QUIPU_CLIENT_PROP_AUTO_RECONNECT] =
    g_param_spec_boolean ("auto-reconnect", NULL, NULL, TRUE, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_HISTORY_LIMIT] =
    g_param_spec_uint ("history-limit", NULL, NULL, 0, QUIPU_CLIENT_RESYNC_PAGE, 200, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_VERIFY_SIGNATURES] =
    g_param_spec_boolean ("verify-signatures", NULL, NULL, TRUE, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_PINNED_FINGERPRINT] =
    g_param_spec_string ("pinned-fingerprint", NULL, NULL, NULL, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_TRUST_STORE_PATH] =
    g_param_spec_string ("trust-store-path", NULL, NULL, NULL, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_TRUST_ON_FIRST_USE] =
    g_param_spec_boolean ("trust-on-first-use", NULL, NULL, TRUE, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_KNOWN_USERS_PATH] =
    g_param_spec_string ("known-users-path", NULL, NULL, NULL, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_OUTBOX_PATH] =
    g_param_spec_string ("outbox-path", NULL, NULL, NULL, RW_PROP);
  pspecs[QUIPU_CLIENT_PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR, RO_PROP);
  pspecs[QUIPU_CLIENT_PROP_TRUST_VIA] =
    g_param_spec_enum ("trust-via", NULL, NULL, QUIPU_TYPE_TRUST_VIA, QUIPU_TRUST_VIA_PIN, RO_PROP);
  pspecs[QUIPU_CLIENT_PROP_SERVER_FINGERPRINT] =
    g_param_spec_string ("server-fingerprint", NULL, NULL, NULL, RO_PROP);
  pspecs[QUIPU_CLIENT_PROP_N_PENDING] =
    g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0, RO_PROP);
  pspecs[QUIPU_CLIENT_PROP_ROOM_DIRECTORY] =
    g_param_spec_boxed ("room-directory", NULL, NULL, G_TYPE_STRV, RO_PROP);
  g_object_class_install_properties (object_class, QUIPU_CLIENT_N_PROPS, pspecs);

  quipu_client_signals[QUIPU_CLIENT_MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, QUIPU_TYPE_MESSAGE);
  quipu_client_signals[QUIPU_CLIENT_MESSAGE_ACKED] =
    g_signal_new ("message-acked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, QUIPU_TYPE_MESSAGE);
  quipu_client_signals[QUIPU_CLIENT_MESSAGE_FAILED] =
    g_signal_new ("message-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, QUIPU_TYPE_MESSAGE, G_TYPE_ERROR);
  quipu_client_signals[QUIPU_CLIENT_PRESENCE_CHANGED] =
    g_signal_new ("presence-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_BOOLEAN);
  quipu_client_signals[QUIPU_CLIENT_HISTORY_LOADED] =
    g_signal_new ("history-loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_UINT, G_TYPE_BOOLEAN);
  quipu_client_signals[QUIPU_CLIENT_JOINED] =
    g_signal_new ("joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
quipu_client_init (QuipuClient *self)
{
  self->auto_reconnect = TRUE;
  self->verify_signatures = TRUE;
  self->trust_on_first_use = TRUE;
  self->history_limit = 200;
  self->client_name = g_strdup ("libquipu/" PACKAGE_VERSION);
  self->context = g_main_context_ref_thread_default ();
  self->conversations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) quipu_sequencer_free);
  self->pins = quipu_pins_new (self->context);
  self->outbox = quipu_outbox_new (self->context);
  self->connect_waiters = quipu_waiters_new ();
  self->join_waiters = quipu_waiters_new ();
  self->wakeup = quipu_wakeup_new ();
  g_signal_connect (self->wakeup, "wake", G_CALLBACK (wake_cb), self);
  self->conversation_list = quipu_conversation_list_new (self);
}

/* Public API. */

QuipuClient *
quipu_client_new (QuipuIdentity *identity,
                  const char    *username)
{
  QuipuClient *self;

  g_return_val_if_fail (QUIPU_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (quipu_name_validate (username, -1, NULL), NULL);

  self = g_object_new (QUIPU_TYPE_CLIENT, "identity", identity, "username", username, NULL);
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

static void
set_string (QuipuClient *self, char **field, const char *value, QuipuClientProperty prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[prop]);
}

void
quipu_client_set_server (QuipuClient *self,
                         const char  *host_port)
{
  set_string (self, &self->server, host_port, QUIPU_CLIENT_PROP_SERVER);
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
    quipu_timer_stop (&self->reconnect_timer);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_AUTO_RECONNECT]);
}

void
quipu_client_set_history_limit (QuipuClient *self,
                                guint        limit)
{
  limit = MIN (limit, QUIPU_CLIENT_RESYNC_PAGE);
  if (self->history_limit == limit)
    return;
  self->history_limit = limit;
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_HISTORY_LIMIT]);
}

void
quipu_client_set_verify_signatures (QuipuClient *self,
                                    gboolean     verify)
{
  verify = !!verify;
  if (self->verify_signatures == verify)
    return;
  self->verify_signatures = verify;
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_VERIFY_SIGNATURES]);
}

void
quipu_client_set_pinned_fingerprint (QuipuClient *self,
                                     const char  *fingerprint)
{
  set_string (self, &self->pinned_fingerprint, fingerprint, QUIPU_CLIENT_PROP_PINNED_FINGERPRINT);
}

const char *
quipu_client_get_pinned_fingerprint (QuipuClient *self)
{
  return self->pinned_fingerprint;
}

void
quipu_client_set_trust_store_path (QuipuClient *self,
                                   const char  *path)
{
  set_string (self, &self->trust_store_path, path, QUIPU_CLIENT_PROP_TRUST_STORE_PATH);
}

const char *
quipu_client_get_trust_store_path (QuipuClient *self)
{
  return self->trust_store_path;
}

void
quipu_client_set_trust_on_first_use (QuipuClient *self,
                                     gboolean     trust_on_first_use)
{
  trust_on_first_use = !!trust_on_first_use;
  if (self->trust_on_first_use == trust_on_first_use)
    return;
  self->trust_on_first_use = trust_on_first_use;
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_TRUST_ON_FIRST_USE]);
}

void
quipu_client_set_known_users_path (QuipuClient *self,
                                   const char  *path)
{
  if (g_strcmp0 (quipu_pins_get_path (self->pins), path) == 0)
    return;
  quipu_pins_set_path (self->pins, path);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_KNOWN_USERS_PATH]);
}

gboolean
quipu_client_trust_fingerprint (QuipuClient  *self,
                                const char   *fingerprint,
                                GError      **error)
{
  g_autoptr(QuipuTrustStore) store = NULL;

  g_return_val_if_fail (QUIPU_IS_CLIENT (self), FALSE);
  g_return_val_if_fail (fingerprint != NULL, FALSE);

  if (self->server == NULL)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                           "no server set");
      return FALSE;
    }
  /* The store checks the fingerprint and writes it in its canonical form. */
  store = quipu_trust_store_new (self->trust_store_path);
  return quipu_trust_store_pin (store, self->server, fingerprint, error);
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
  quipu_client_dispatch_event (self, QUIPU_EVENT_CONNECT);
}

void
quipu_client_connect_async (QuipuClient         *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QUIPU_IS_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_client_connect_async);
  if (self->state == QUIPU_STATE_CONNECTED)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  quipu_waiters_add (self->connect_waiters, NULL, g_steal_pointer (&task));
  quipu_client_connect (self);
}

gboolean
quipu_client_connect_finish (QuipuClient   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == quipu_client_connect_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
quipu_client_disconnect (QuipuClient *self)
{
  g_return_if_fail (QUIPU_IS_CLIENT (self));

  quipu_client_dispatch_event (self, QUIPU_EVENT_DISCONNECT);
}

QuipuTrustVia
quipu_client_get_trust_via (QuipuClient *self)
{
  return self->trust_via;
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

/* quipu-client-bench.h */

void
quipu_client_set_shared_endpoint (QuipuClient   *self,
                                  QuipuEndpoint *endpoint)
{
  g_return_if_fail (QUIPU_IS_CLIENT (self));
  g_return_if_fail (self->endpoint == NULL && self->conn == NULL);

  self->endpoint = endpoint;
  self->endpoint_shared = TRUE;
}

void
quipu_client_stop_keeping_received (QuipuClient *self)
{
  g_return_if_fail (QUIPU_IS_CLIENT (self));

  g_signal_handlers_disconnect_matched (self, G_SIGNAL_MATCH_ID | G_SIGNAL_MATCH_DATA,
                                        quipu_client_signals[QUIPU_CLIENT_MESSAGE_RECEIVED], 0,
                                        NULL, NULL, self->conversation_list);
}
