#define G_LOG_DOMAIN "quipu-test-security"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "quipu-client.h"
#include "quipu-endpoint.h"
#include "quipu-error.h"
#include "quipu-identity.h"
#include "quipu-server.h"
#include "quipu-signing.h"
#include "quipu-wire.h"
#include "quipu-test-peer.h"
#include "quipu-test-util.h"

/* Attacks on a real QuipuServer over real QUIC on loopback, all in this
 * process and this main loop: QuipuClient sessions for the honest users,
 * raw QuipuConnections with hand-made frames for the attacker. */

#define ANY_MSG_ID        G_MAXUINT64

/* ---- the server's security log ---- */

/* Warnings the server logs when it refuses an attack. Under
 * G_DEBUG=fatal-warnings they would abort the test, so they are recorded
 * instead and the tests assert on them; any other warning stays fatal. */
static const char * const security_events[] = {
  "bad-proof", "impersonation", "bad-signature", "protocol-violation", NULL
};
static GPtrArray *server_events;
static GPtrArray *server_messages;    /* every MESSAGE the server logged, any level */

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *domain = NULL;
  const char *event = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (fields[i].length != -1)
        continue;
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "QUIPU_EVENT"))
        event = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }
  if (g_strcmp0 (domain, "quipu-server") == 0 && message != NULL)
    g_ptr_array_add (server_messages, g_strdup (message));

  if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "quipu-server") == 0 &&
      event != NULL && g_strv_contains (security_events, event))
    {
      g_ptr_array_add (server_events, g_strdup (event));
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static guint
count_events (const char *event)
{
  guint n = 0;

  for (guint i = 0; i < server_events->len; i++)
    if (g_str_equal (g_ptr_array_index (server_events, i), event))
      n++;
  return n;
}

/* ---- fixture: a server in a temporary directory ---- */

typedef QuipuTestServer Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  quipu_test_server_setup (fx, "security");
  g_ptr_array_set_size (server_events, 0);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  quipu_test_server_teardown (fx);
}

/* ---- honest users: QuipuClient and what it reported ---- */

typedef struct {
  QuipuClient   *client;
  QuipuIdentity *identity;
  GPtrArray     *received;       /* QuipuMessage * */
  GPtrArray     *presence;       /* char *: user names announced */
  guint          n_connecting;   /* times it entered Connecting */
  guint          n_history;      /* history-loaded signals */
} User;

static void
on_message_received (QuipuClient  *client,
                     QuipuMessage *msg,
                     gpointer      data)
{
  User *user = data;

  g_ptr_array_add (user->received, g_object_ref (msg));
}

static void
on_presence_changed (QuipuClient *client,
                     const char  *room,
                     const char  *name,
                     const char  *user_id,
                     gboolean     online,
                     gpointer     data)
{
  User *user = data;

  g_ptr_array_add (user->presence, g_strdup (name));
}

static void
on_history_loaded (QuipuClient *client,
                   const char  *room,
                   guint        count,
                   gboolean     more,
                   gpointer     data)
{
  User *user = data;

  user->n_history++;
}

static void
on_state_notify (QuipuClient *client,
                 GParamSpec  *pspec,
                 gpointer     data)
{
  User *user = data;

  if (quipu_client_get_state (client) == QUIPU_STATE_CONNECTING)
    user->n_connecting++;
}

/* Takes `identity`. The user is set up but not connected. */
static User *
user_new (const char    *server,
          const char    *trust_path,
          QuipuIdentity *identity,
          const char    *name)
{
  User *user = g_new0 (User, 1);

  user->identity = identity;
  user->client = quipu_client_new (identity, name);
  user->received = g_ptr_array_new_with_free_func (g_object_unref);
  user->presence = g_ptr_array_new_with_free_func (g_free);
  quipu_client_set_server (user->client, server);
  quipu_client_set_trust_store_path (user->client, trust_path);
  {
    /* Each user's pins of other users' keys, beside the trust store. */
    g_autofree char *dir = g_path_get_dirname (trust_path);
    g_autofree char *file = g_strconcat ("known-users-", name, NULL);
    g_autofree char *known_users = g_build_filename (dir, file, NULL);

    quipu_client_set_known_users_path (user->client, known_users);
  }
  g_signal_connect (user->client, "message-received", G_CALLBACK (on_message_received), user);
  g_signal_connect (user->client, "presence-changed", G_CALLBACK (on_presence_changed), user);
  g_signal_connect (user->client, "history-loaded", G_CALLBACK (on_history_loaded), user);
  g_signal_connect (user->client, "notify::state", G_CALLBACK (on_state_notify), user);
  return user;
}

static void
user_connect (User *user)
{
  quipu_client_connect (user->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (user->client) == QUIPU_STATE_CONNECTED);
}

/* Joins and waits for the room's history page to be complete. */
static void
user_join (User       *user,
           const char *room)
{
  g_autoptr(GError) error = NULL;
  guint before = user->n_history;

  g_assert_true (quipu_client_join (user->client, room, &error));
  g_assert_no_error (error);
  QUIPU_TEST_WAIT_FOR (user->n_history > before);
}

static User *
user_online (Fixture    *fx,
             guint8      seed,
             const char *name,
             const char *room)
{
  User *user = user_new (fx->address, fx->trust_path, quipu_test_identity_from_seed (seed), name);

  user_connect (user);
  if (room != NULL)
    user_join (user, room);
  return user;
}

/* Sends and waits until the server has stored the message. */
static QuipuMessage *
user_send (User       *user,
           const char *room,
           const char *body)
{
  g_autoptr(GError) error = NULL;
  QuipuMessage *msg = quipu_client_send_to_room (user->client, room, body, &error);

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  QUIPU_TEST_WAIT_FOR (quipu_message_get_status (msg) == QUIPU_MESSAGE_ACKED);
  return msg;
}

static QuipuMessage *
user_find (User       *user,
           const char *body)
{
  for (guint i = 0; i < user->received->len; i++)
    {
      QuipuMessage *msg = g_ptr_array_index (user->received, i);

      if (g_str_equal (quipu_message_get_body (msg), body))
        return msg;
    }
  return NULL;
}

/* Closes the session and checks that nothing keeps the client or the
 * identity alive. */
static void
user_free (User *user)
{
  QuipuClient *client = g_steal_pointer (&user->client);

  if (quipu_client_get_state (client) != QUIPU_STATE_DISCONNECTED)
    {
      quipu_client_disconnect (client);
      QUIPU_TEST_WAIT_FOR (quipu_client_get_state (client) == QUIPU_STATE_DISCONNECTED);
    }
  g_assert_finalize_object (client);
  g_assert_finalize_object (user->identity);
  g_ptr_array_unref (user->received);
  g_ptr_array_unref (user->presence);
  g_free (user);
}

/* ---- the attacker: a raw connection and hand-made frames ---- */

typedef QuipuTestPeer RawPeer;

static RawPeer *
raw_peer_new (Fixture *fx)
{
  RawPeer *peer = quipu_test_peer_connect (NULL, fx->address, fx->trust_path);

  QUIPU_TEST_WAIT_FOR (peer->established);
  return peer;
}

static void
raw_peer_free (RawPeer *peer)
{
  if (!peer->closed)
    {
      quipu_connection_close (peer->conn, 0, "done", 0);
      QUIPU_TEST_WAIT_FOR (peer->closed);
    }
  /* Skip the closing period: the endpoint goes now. */
  quipu_test_peer_free (peer);
}

static void
raw_send (RawPeer          *peer,
          const QuipuFrame *frame)
{
  g_assert_true (quipu_connection_queue_frame (peer->conn, frame));
}

static void
raw_send_bytes (RawPeer      *peer,
                const guint8 *data,
                gsize         len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);

  g_assert_true (quipu_connection_queue_bytes (peer->conn, bytes));
}

/* The first received frame of `type` (about `client_msg_id` unless
 * ANY_MSG_ID), or NULL. */
static QuipuFrame *
raw_find (RawPeer        *peer,
          QuipuFrameType  type,
          guint64         client_msg_id)
{
  for (guint i = 0; i < peer->frames->len; i++)
    {
      QuipuFrame *frame = g_ptr_array_index (peer->frames, i);

      if (frame->type != type)
        continue;
      if (client_msg_id == ANY_MSG_ID ||
          (quipu_frame_has (frame, QUIPU_FIELD_CLIENT_MSG_ID) && frame->client_msg_id == client_msg_id))
        return frame;
    }
  return NULL;
}

/* Waits for a frame of `type` (as raw_find); the server closing the
 * connection first fails the test. */
static QuipuFrame *
raw_wait (RawPeer        *peer,
          QuipuFrameType  type,
          guint64         client_msg_id)
{
  QuipuFrame *frame;

  QUIPU_TEST_WAIT_FOR ((frame = raw_find (peer, type, client_msg_id)) != NULL || peer->closed);
  if (frame == NULL)
    g_error ("the server closed the connection instead of sending %s: %s",
             quipu_frame_type_to_string (type),
             peer->close_error ? peer->close_error->message : "no error");
  return frame;
}

/* Queues a CONNECT whose proof signs this connection's exporter, as an
 * honest client does, and returns its bytes for replaying elsewhere. */
static GBytes *
raw_login_as (RawPeer       *peer,
              QuipuIdentity *identity,
              const char    *username,
              const guint64 *versions,
              guint          n_versions,
              const char    *client)
{
  g_autoptr(QuipuFrame) frame = quipu_test_login_frame (peer->conn, identity, username, versions, n_versions,
                                                        client);
  g_autoptr(GError) error = NULL;
  GBytes *bytes = quipu_frame_encode (frame, &error);

  g_assert_no_error (error);
  g_assert_true (quipu_connection_queue_bytes (peer->conn, bytes));
  return bytes;
}

static GBytes *
raw_login (RawPeer       *peer,
           QuipuIdentity *identity,
           const char    *username,
           const guint64 *versions,
           guint          n_versions)
{
  return raw_login_as (peer, identity, username, versions, n_versions, NULL);
}

static void
raw_login_ok (RawPeer       *peer,
              QuipuIdentity *identity,
              const char    *username)
{
  static const guint64 v1[] = { QUIPU_PROTOCOL_VERSION };
  G_GNUC_UNUSED g_autoptr(GBytes) bytes = raw_login (peer, identity, username, v1, G_N_ELEMENTS (v1));

  raw_wait (peer, QUIPU_FRAME_WELCOME, ANY_MSG_ID);
}

static void
raw_join (RawPeer    *peer,
          const char *room)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_JOIN);

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room);
  raw_send (peer, frame);
  raw_wait (peer, QUIPU_FRAME_HISTORY, ANY_MSG_ID);
}

/* A room MESSAGE as a client sends it, not yet signed. */
static QuipuFrame *
room_message (const char *sender,
              const char *room,
              guint64     client_msg_id,
              const char *body)
{
  QuipuFrame *frame = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, sender);
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room);
  quipu_frame_set_uint (frame, QUIPU_FIELD_CLIENT_MSG_ID, client_msg_id);
  quipu_frame_set_uint (frame, QUIPU_FIELD_TIMESTAMP, g_get_real_time () / 1000);
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY, body);
  return frame;
}

static void
sign_message (QuipuFrame    *frame,
              QuipuIdentity *identity)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (quipu_identity_sign_message (identity, frame, &error));
  g_assert_no_error (error);
}

static QuipuFrame *
signed_room_message (QuipuIdentity *identity,
                     const char    *sender,
                     const char    *room,
                     guint64        client_msg_id,
                     const char    *body)
{
  QuipuFrame *frame = room_message (sender, room, client_msg_id, body);

  sign_message (frame, identity);
  return frame;
}

static void
assert_error_frame (RawPeer            *peer,
                    guint64             client_msg_id,
                    QuipuProtocolError  code)
{
  QuipuFrame *error = raw_find (peer, QUIPU_FRAME_ERROR, client_msg_id);

  /* Not fatal, so the rest of the test still reports on the other checks. */
  if (error == NULL)
    {
      g_test_fail_printf ("no ERROR frame with code %d (%s) reached the client%s",
                          code, quipu_error_code_to_string (code),
                          peer->closed ? " before the server closed the connection" : "");
      return;
    }
  g_assert_cmpuint (error->code, ==, code);
}

/* ---- login ---- */

/* A CONNECT captured from one connection is worthless on another: its proof
 * signs the first connection's TLS exporter. */
static void
test_login_replayed_proof (Fixture       *fx,
                           gconstpointer  data)
{
  static const guint64 v1[] = { QUIPU_PROTOCOL_VERSION };
  QuipuIdentity *alice = quipu_test_identity_from_seed (0xa1);
  RawPeer *first = raw_peer_new (fx);
  RawPeer *second = NULL;
  g_autoptr(GBytes) captured = raw_login (first, alice, "alice", v1, G_N_ELEMENTS (v1));
  g_autoptr(QuipuFrame) msg = NULL;

  raw_wait (first, QUIPU_FRAME_WELCOME, ANY_MSG_ID);

  second = raw_peer_new (fx);
  g_assert_true (quipu_connection_queue_bytes (second->conn, captured));
  QUIPU_TEST_WAIT_FOR (second->closed);
  assert_error_frame (second, ANY_MSG_ID, QUIPU_PROTOCOL_ERROR_BAD_PROOF);
  g_assert_error (second->close_error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_PROOF);
  g_assert_null (raw_find (second, QUIPU_FRAME_WELCOME, ANY_MSG_ID));
  g_assert_cmpuint (count_events ("bad-proof"), ==, 1);

  /* The victim's own session is untouched. */
  raw_join (first, "den");
  msg = signed_room_message (alice, "alice", "den", 77, "still mine");
  raw_send (first, msg);
  g_assert_cmpuint (raw_wait (first, QUIPU_FRAME_ACK, 77)->seq, ==, 1);

  raw_peer_free (second);
  raw_peer_free (first);
  g_assert_finalize_object (alice);
}

/* One connection is one login: a second CONNECT, even with a valid proof
 * for another key, must not switch the session to another name. */
static void
test_login_second_connect (Fixture       *fx,
                           gconstpointer  data)
{
  static const guint64 v1[] = { QUIPU_PROTOCOL_VERSION };
  QuipuIdentity *mallory = quipu_test_identity_from_seed (0x66);
  QuipuIdentity *other = quipu_test_identity_from_seed (0x67);
  RawPeer *peer = raw_peer_new (fx);
  g_autoptr(GBytes) bytes = NULL;

  raw_login_ok (peer, mallory, "mallory");
  bytes = raw_login (peer, other, "someone", v1, G_N_ELEMENTS (v1));
  QUIPU_TEST_WAIT_FOR (peer->closed);
  g_assert_error (peer->close_error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (peer->close_error->message, "a second CONNECT on one connection"));
  g_assert_cmpuint (quipu_test_peer_count (peer, QUIPU_FRAME_WELCOME), ==, 1);
  g_assert_cmpuint (count_events ("protocol-violation"), ==, 1);

  raw_peer_free (peer);
  g_assert_finalize_object (other);
  g_assert_finalize_object (mallory);
}

/* ---- version negotiation ---- */

static void
test_version_none_common (Fixture       *fx,
                          gconstpointer  data)
{
  static const guint64 offered[] = { 7 };
  QuipuIdentity *vera = quipu_test_identity_from_seed (0x7e);
  RawPeer *peer = raw_peer_new (fx);
  G_GNUC_UNUSED g_autoptr(GBytes) bytes = raw_login (peer, vera, "vera", offered, G_N_ELEMENTS (offered));

  QUIPU_TEST_WAIT_FOR (peer->closed);
  assert_error_frame (peer, ANY_MSG_ID, QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION);
  g_assert_error (peer->close_error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION);
  g_assert_null (raw_find (peer, QUIPU_FRAME_WELCOME, ANY_MSG_ID));

  raw_peer_free (peer);
  g_assert_finalize_object (vera);
}

static void
test_version_picks_common (Fixture       *fx,
                           gconstpointer  data)
{
  static const guint64 offered[] = { 7, QUIPU_PROTOCOL_VERSION, 3 };
  QuipuIdentity *vera = quipu_test_identity_from_seed (0x7e);
  RawPeer *peer = raw_peer_new (fx);
  G_GNUC_UNUSED g_autoptr(GBytes) bytes = raw_login (peer, vera, "vera", offered, G_N_ELEMENTS (offered));
  QuipuFrame *welcome = raw_wait (peer, QUIPU_FRAME_WELCOME, ANY_MSG_ID);

  g_assert_cmpuint (welcome->versions->len, ==, 1);
  g_assert_cmpuint (g_array_index (welcome->versions, guint64, 0), ==, QUIPU_PROTOCOL_VERSION);

  raw_peer_free (peer);
  g_assert_finalize_object (vera);
}

/* ---- impersonation ---- */

#define SEED_A 0xa1
#define SEED_B 0xb2

/* Names that fold to "alice": the same name to the registry. */
static const char * const alice_spellings[] = { "alice", "Alice", "\xef\xbd\x81\xef\xbd\x8c\xef\xbd\x89\xef\xbd\x83\xef\xbd\x85" };

static void
test_impersonation_refused (Fixture       *fx,
                            gconstpointer  data)
{
  User *alice = user_online (fx, SEED_A, "alice", "hall");
  User *carol = user_online (fx, 0xc3, "carol", "hall");
  User *impostors[G_N_ELEMENTS (alice_spellings)];
  g_autoptr(QuipuMessage) marker = NULL;
  QuipuMessage *got;

  for (guint i = 0; i < G_N_ELEMENTS (alice_spellings); i++)
    {
      User *impostor = user_new (fx->address, fx->trust_path, quipu_test_identity_from_seed (SEED_B), alice_spellings[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(QuipuMessage) pending = NULL;
      const GError *refusal;

      /* Queued for after a login that must never happen. */
      g_assert_true (quipu_client_join (impostor->client, "hall", &error));
      pending = quipu_client_send_to_room (impostor->client, "hall", "I am alice", &error);
      g_assert_no_error (error);

      quipu_client_connect (impostor->client);
      QUIPU_TEST_WAIT_FOR (quipu_client_get_state (impostor->client) != QUIPU_STATE_CONNECTING);
      g_assert_cmpint (quipu_client_get_state (impostor->client), ==, QUIPU_STATE_ERROR);
      refusal = quipu_client_get_error (impostor->client);
      g_assert_error (refusal, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_NAME_TAKEN);
      g_assert_cmpint (quipu_message_get_status (pending), ==, QUIPU_MESSAGE_PENDING);
      impostors[i] = impostor;
    }
  g_assert_cmpuint (count_events ("impersonation"), ==, G_N_ELEMENTS (alice_spellings));

  /* Everything the impostors could have caused reaches alice before this. */
  marker = user_send (carol, "hall", "marker");
  QUIPU_TEST_WAIT_FOR (alice->received->len > 0);
  g_assert_cmpuint (alice->received->len, ==, 1);
  got = g_ptr_array_index (alice->received, 0);
  g_assert_cmpstr (quipu_message_get_body (got), ==, "marker");
  g_assert_cmpstr (quipu_message_get_sender (got), ==, "carol");
  g_assert_cmpint (quipu_message_get_verification (got), ==, QUIPU_VERIFICATION_VALID);
  g_assert_cmpuint (alice->presence->len, >, 0);
  for (guint i = 0; i < alice->presence->len; i++)
    g_assert_cmpstr (g_ptr_array_index (alice->presence, i), ==, "carol");

  g_assert_cmpint (quipu_client_get_state (alice->client), ==, QUIPU_STATE_CONNECTED);
  g_assert_null (quipu_client_get_error (alice->client));
  for (guint i = 0; i < G_N_ELEMENTS (impostors); i++)
    {
      g_assert_cmpint (quipu_client_get_state (impostors[i]->client), ==, QUIPU_STATE_ERROR);
      g_assert_cmpuint (impostors[i]->n_connecting, ==, 1);
      g_assert_cmpuint (quipu_client_get_n_pending (impostors[i]->client), ==, 1);
      user_free (impostors[i]);
    }
  user_free (carol);
  user_free (alice);
}

/* A client that has logged in before retries lost connections on its own;
 * a refused name must stop that, or it would hammer the server forever. */
static void
test_impersonation_no_retry (Fixture       *fx,
                             gconstpointer  data)
{
  g_autofree char *other_dir = g_build_filename (fx->dir, "other-server", NULL);
  g_autofree char *other_address = NULL;
  QuipuServer *other = quipu_test_start_server (other_dir, &other_address);
  User *mover = user_online (fx, SEED_B, "alice", NULL);
  User *owner = user_new (other_address, fx->trust_path, quipu_test_identity_from_seed (SEED_A), "alice");

  /* "alice" is key A's on the other server. */
  user_connect (owner);

  quipu_client_disconnect (mover->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (mover->client) == QUIPU_STATE_DISCONNECTED);
  quipu_client_set_server (mover->client, other_address);
  quipu_client_connect (mover->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (mover->client) != QUIPU_STATE_CONNECTING);
  g_assert_cmpint (quipu_client_get_state (mover->client), ==, QUIPU_STATE_ERROR);
  g_assert_error (quipu_client_get_error (mover->client), QUIPU_PROTOCOL_ERROR,
                  QUIPU_PROTOCOL_ERROR_NAME_TAKEN);
  g_assert_cmpuint (mover->n_connecting, ==, 2);

  /* Longer than the first reconnect delay (at most 500 ms). */
  quipu_test_spin (1200);
  g_assert_cmpuint (mover->n_connecting, ==, 2);
  g_assert_cmpint (quipu_client_get_state (mover->client), ==, QUIPU_STATE_ERROR);
  g_assert_cmpint (quipu_client_get_state (owner->client), ==, QUIPU_STATE_CONNECTED);

  user_free (mover);
  user_free (owner);
  quipu_server_free (other);
}

/* ---- forged messages ---- */

static void
test_forgery_refused_by_server (Fixture       *fx,
                                gconstpointer  data)
{
  User *lena = user_online (fx, 0x1e, "lena", "den");
  QuipuIdentity *mallory_key = quipu_test_identity_from_seed (0x66);
  QuipuIdentity *other_key = quipu_test_identity_from_seed (0x99);
  RawPeer *mallory = raw_peer_new (fx);
  g_autoptr(QuipuFrame) altered = NULL;
  g_autoptr(QuipuFrame) foreign = NULL;
  g_autoptr(QuipuFrame) spoofed = NULL;
  g_autoptr(QuipuFrame) marker = NULL;
  QuipuMessage *got;
  User *nora;

  raw_login_ok (mallory, mallory_key, "mallory");
  raw_join (mallory, "den");

  /* Signed for one body, sent with another. */
  altered = signed_room_message (mallory_key, "mallory", "den", 1001, "pay bob 10");
  quipu_frame_set_string (altered, QUIPU_FIELD_BODY, "pay mallory 1000");
  raw_send (mallory, altered);
  /* Signed by a key that is not mallory's login key. */
  foreign = signed_room_message (other_key, "mallory", "den", 1002, "signed elsewhere");
  raw_send (mallory, foreign);
  /* Signed by mallory, but in lena's name. */
  spoofed = signed_room_message (mallory_key, "lena", "den", 1003, "lena says hi");
  raw_send (mallory, spoofed);
  marker = signed_room_message (mallory_key, "mallory", "den", 1004, "marker");
  raw_send (mallory, marker);

  g_assert_cmpuint (raw_wait (mallory, QUIPU_FRAME_ACK, 1004)->seq, ==, 1);
  for (guint64 id = 1001; id <= 1003; id++)
    {
      assert_error_frame (mallory, id, QUIPU_PROTOCOL_ERROR_BAD_SIGNATURE);
      g_assert_null (raw_find (mallory, QUIPU_FRAME_ACK, id));
    }
  g_assert_cmpuint (quipu_test_peer_count (mallory, QUIPU_FRAME_ACK), ==, 1);
  g_assert_cmpuint (count_events ("bad-signature"), ==, 3);

  /* The relay is ordered: anything forged would have come before. */
  QUIPU_TEST_WAIT_FOR (lena->received->len > 0);
  g_assert_cmpuint (lena->received->len, ==, 1);
  got = g_ptr_array_index (lena->received, 0);
  g_assert_cmpstr (quipu_message_get_body (got), ==, "marker");
  g_assert_cmpstr (quipu_message_get_sender (got), ==, "mallory");
  g_assert_cmpint (quipu_message_get_verification (got), ==, QUIPU_VERIFICATION_VALID);

  /* Nothing forged was stored either. */
  nora = user_online (fx, 0x40, "nora", "den");
  g_assert_cmpuint (nora->received->len, ==, 1);
  got = g_ptr_array_index (nora->received, 0);
  g_assert_cmpstr (quipu_message_get_body (got), ==, "marker");
  g_assert_true (quipu_message_is_history (got));

  user_free (nora);
  raw_peer_free (mallory);
  g_assert_finalize_object (other_key);
  g_assert_finalize_object (mallory_key);
  user_free (lena);
}

/* What the server hands out is checked by the client against the sender's
 * key: a store altered on disk shows up as INVALID, never as VALID. */
static void
test_forgery_flagged_by_client (Fixture       *fx,
                                gconstpointer  data)
{
  static const char * const bodies[] = { "one", "two", "three", "four", "five" };
  User *bob = user_online (fx, 0xb0, "bob", "vault");
  guint8 garbage[QUIPU_SIGNATURE_SIZE];
  User *carol;

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    g_object_unref (user_send (bob, "vault", bodies[i]));

  memset (garbage, 0x5a, sizeof garbage);
  quipu_test_tamper (fx, "UPDATE messages SET body = 'tampered' WHERE body = 'two'", NULL, 0);
  quipu_test_tamper (fx, "UPDATE messages SET ts = ts + 1 WHERE body = 'three'", NULL, 0);
  quipu_test_tamper (fx, "UPDATE messages SET signature = ?1 WHERE body = 'four'", garbage, sizeof garbage);

  carol = user_online (fx, 0xc3, "carol", "vault");
  g_assert_cmpuint (carol->received->len, ==, G_N_ELEMENTS (bodies));
  g_assert_cmpint (quipu_message_get_verification (user_find (carol, "one")), ==, QUIPU_VERIFICATION_VALID);
  g_assert_cmpint (quipu_message_get_verification (user_find (carol, "tampered")), ==, QUIPU_VERIFICATION_INVALID);
  g_assert_cmpint (quipu_message_get_verification (user_find (carol, "three")), ==, QUIPU_VERIFICATION_INVALID);
  g_assert_cmpint (quipu_message_get_verification (user_find (carol, "four")), ==, QUIPU_VERIFICATION_INVALID);
  g_assert_cmpint (quipu_message_get_verification (user_find (carol, "five")), ==, QUIPU_VERIFICATION_VALID);

  user_free (carol);
  user_free (bob);
}

/* The server swaps the key it presents for a sender the client has already
 * pinned in this session: the message is flagged KEY_CHANGED even though
 * its signature is the genuine one. */
static void
test_forgery_key_changed (Fixture       *fx,
                          gconstpointer  data)
{
  User *bob = user_online (fx, 0xb0, "bob", "vault");
  User *carol = user_online (fx, 0xc3, "carol", "vault");
  QuipuIdentity *substitute = quipu_test_identity_from_seed (0xee);
  g_autoptr(GError) error = NULL;
  QuipuMessage *msg;
  guint presence_before;

  g_object_unref (user_send (bob, "vault", "before"));
  QUIPU_TEST_WAIT_FOR ((msg = user_find (carol, "before")) != NULL);
  g_assert_cmpint (quipu_message_get_verification (msg), ==, QUIPU_VERIFICATION_VALID);

  /* Away from the room, carol catches up from the store on return. */
  presence_before = bob->presence->len;
  quipu_client_leave (carol->client, "vault");
  QUIPU_TEST_WAIT_FOR (bob->presence->len > presence_before);
  g_object_unref (user_send (bob, "vault", "after"));
  quipu_test_tamper (fx, "UPDATE users SET key = ?1 WHERE fold = 'bob'",
          quipu_identity_get_public_key (substitute), QUIPU_KEY_SIZE);

  g_assert_true (quipu_client_join (carol->client, "vault", &error));
  g_assert_no_error (error);
  QUIPU_TEST_WAIT_FOR ((msg = user_find (carol, "after")) != NULL);
  g_assert_cmpint (quipu_message_get_verification (msg), ==, QUIPU_VERIFICATION_KEY_CHANGED);

  user_free (carol);
  user_free (bob);
  g_assert_finalize_object (substitute);
}

/* ---- the log ---- */

/* The first logged message containing `needle`, or NULL. */
static const char *
find_message (const char *needle)
{
  for (guint i = 0; i < server_messages->len; i++)
    if (strstr (g_ptr_array_index (server_messages, i), needle) != NULL)
      return g_ptr_array_index (server_messages, i);
  return NULL;
}

/* A CLIENT field and an ERROR text are the peer's own words; written raw,
 * a newline in them starts a forged line ("mallory logged in") in the log.
 * They must come out as one line with visible escapes, and bounded. */
static void
test_log_injection (Fixture       *fx,
                    gconstpointer  data)
{
  static const guint64 v1[] = { QUIPU_PROTOCOL_VERSION };
  const char *forged = "quipu-server: mallory (forged) logged in from 6.6.6.6 with quipu";
  g_autofree char *client = g_strdup_printf ("evil\n%s\r\x1b[2J\u2028", forged);
  g_autofree char *long_text = g_strnfill (900, 'x');
  g_autofree char *error_text = g_strdup_printf ("oops\r\n%s\n%s", forged, long_text);
  QuipuIdentity *mallory = quipu_test_identity_from_seed (0x6d);
  RawPeer *peer = raw_peer_new (fx);
  G_GNUC_UNUSED g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) report = quipu_frame_new (QUIPU_FRAME_ERROR);
  const char *login, *reported;

  g_ptr_array_set_size (server_messages, 0);
  bytes = raw_login_as (peer, mallory, "mallory", v1, G_N_ELEMENTS (v1), client);
  raw_wait (peer, QUIPU_FRAME_WELCOME, ANY_MSG_ID);
  quipu_frame_set_uint (report, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_BAD_REQUEST);
  quipu_frame_set_string (report, QUIPU_FIELD_TEXT, error_text);
  raw_send (peer, report);
  QUIPU_TEST_WAIT_FOR (find_message ("reports error") != NULL);

  for (guint i = 0; i < server_messages->len; i++)
    {
      const char *message = g_ptr_array_index (server_messages, i);

      g_assert_null (strpbrk (message, "\r\n\x1b"));
      g_assert_null (strstr (message, "\xe2\x80\xa8"));
      g_assert_false (g_str_has_prefix (message, "quipu-server: mallory (forged)"));
    }
  login = find_message ("mallory (");
  g_assert_nonnull (login);
  g_test_message ("login line: %s", login);
  g_assert_nonnull (strstr (login, "with evil\\nquipu-server: mallory (forged)"));
  g_assert_nonnull (strstr (login, "\\r\\u001b[2J\\u2028"));
  reported = find_message ("reports error");
  g_test_message ("error line of %zu bytes", strlen (reported));
  g_assert_nonnull (strstr (reported, "oops\\r\\nquipu-server"));
  /* 900 bytes of text in, at most the field bound (and the line) out. */
  g_assert_cmpuint (strlen (reported), <, 200 + 100);
  g_assert_true (g_str_has_suffix (reported, "…"));

  raw_peer_free (peer);
  g_assert_finalize_object (mallory);
}

/* ---- malformed input ---- */

typedef struct {
  const char         *name;
  const guint8       *bytes;       /* NULL: a well-formed MESSAGE */
  gsize               len;
  gint                code;        /* QuipuProtocolError, signed like GError's */
  const char         *reason;
} MalformedCase;

/* CONNECT, length 1, then a field id varint whose prefix 01 promises 2 bytes. */
static const guint8 truncated_varint[] = { 0x01, 0x01, 0x40 };
/* MESSAGE announcing a 1 MiB payload (4-byte varint 0x100000). */
static const guint8 oversize_header[] = { 0x03, 0x80, 0x10, 0x00, 0x00 };
/* Below 0x20 every type is reserved to the specification. */
static const guint8 unknown_type[] = { 0x0d, 0x00 };

static const MalformedCase malformed_cases[] = {
  { "truncated-varint", truncated_varint, sizeof truncated_varint,
    QUIPU_PROTOCOL_ERROR_PROTOCOL, "truncated varint in the field header" },
  /* PROTOCOL.md, "Bounds": an oversize frame is too-large, from its header alone. */
  { "oversize-header", oversize_header, sizeof oversize_header,
    QUIPU_PROTOCOL_ERROR_TOO_LARGE, "frame of 1048581 bytes exceeds the limit of 65536 bytes" },
  { "unknown-type", unknown_type, sizeof unknown_type,
    QUIPU_PROTOCOL_ERROR_PROTOCOL, "unknown frame type 0x0d" },
  { "message-before-connect", NULL, 0,
    QUIPU_PROTOCOL_ERROR_PROTOCOL, "MESSAGE before CONNECT" },
};

static void
test_malformed_isolated (Fixture       *fx,
                         gconstpointer  data)
{
  const MalformedCase *mc = data;
  User *zoe = user_online (fx, 0x20, "zoe", "lobby");
  RawPeer *attacker = raw_peer_new (fx);
  g_autoptr(QuipuMessage) after = NULL;

  if (mc->bytes != NULL)
    raw_send_bytes (attacker, mc->bytes, mc->len);
  else
    {
      QuipuIdentity *identity = quipu_test_identity_from_seed (0x66);
      g_autoptr(QuipuFrame) msg = signed_room_message (identity, "mallory", "lobby", 1, "too early");

      raw_send (attacker, msg);
      g_assert_finalize_object (identity);
    }

  QUIPU_TEST_WAIT_FOR (attacker->closed);
  g_assert_nonnull (attacker->close_error);
  g_test_message ("%s: closed with: %s", mc->name, attacker->close_error->message);
  g_assert_error (attacker->close_error, QUIPU_PROTOCOL_ERROR, mc->code);
  g_assert_nonnull (strstr (attacker->close_error->message, mc->reason));
  g_assert_cmpuint (attacker->frames->len, ==, 0);

  /* The server and zoe's session carry on as if nothing happened. */
  after = user_send (zoe, "lobby", "still here");
  g_assert_cmpuint (quipu_message_get_seq (after), ==, 1);
  g_assert_cmpint (quipu_client_get_state (zoe->client), ==, QUIPU_STATE_CONNECTED);
  g_assert_cmpuint (zoe->n_connecting, ==, 1);

  raw_peer_free (attacker);
  user_free (zoe);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (log_writer, NULL, NULL);
  server_events = g_ptr_array_new_with_free_func (g_free);
  server_messages = g_ptr_array_new_with_free_func (g_free);

  g_test_add ("/quipu/security/login/replayed-proof", Fixture, NULL,
              fixture_setup, test_login_replayed_proof, fixture_teardown);
  g_test_add ("/quipu/security/login/second-connect", Fixture, NULL,
              fixture_setup, test_login_second_connect, fixture_teardown);
  g_test_add ("/quipu/security/version/none-in-common", Fixture, NULL,
              fixture_setup, test_version_none_common, fixture_teardown);
  g_test_add ("/quipu/security/version/picks-common", Fixture, NULL,
              fixture_setup, test_version_picks_common, fixture_teardown);
  g_test_add ("/quipu/security/impersonation/refused", Fixture, NULL,
              fixture_setup, test_impersonation_refused, fixture_teardown);
  g_test_add ("/quipu/security/impersonation/no-retry", Fixture, NULL,
              fixture_setup, test_impersonation_no_retry, fixture_teardown);
  g_test_add ("/quipu/security/forgery/refused-by-server", Fixture, NULL,
              fixture_setup, test_forgery_refused_by_server, fixture_teardown);
  g_test_add ("/quipu/security/forgery/flagged-by-client", Fixture, NULL,
              fixture_setup, test_forgery_flagged_by_client, fixture_teardown);
  g_test_add ("/quipu/security/forgery/key-changed", Fixture, NULL,
              fixture_setup, test_forgery_key_changed, fixture_teardown);
  g_test_add ("/quipu/security/log/injection", Fixture, NULL,
              fixture_setup, test_log_injection, fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/quipu/security/malformed/%s", malformed_cases[i].name);

      g_test_add (path, Fixture, &malformed_cases[i], fixture_setup, test_malformed_isolated, fixture_teardown);
    }

  status = g_test_run ();
  g_ptr_array_unref (server_messages);
  g_ptr_array_unref (server_events);
  return status;
}
