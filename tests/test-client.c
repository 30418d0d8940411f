#define G_LOG_DOMAIN "quipu-test-client"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "quipu-client-private.h"
#include "quipu-error.h"
#include "quipu-tls-private.h"
#include "quipu-wire.h"
#include "quipu-test-util.h"

/* QuipuClient, the session object, as the desktop app and quipu-bench use
 * it: its state property, scroll-back paging and refused messages, against
 * a real in-process QuipuServer over QUIC on loopback. */

typedef QuipuTestServer Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  quipu_test_server_setup (fx, "client");
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  quipu_test_server_teardown (fx);
}

/* A session and everything it reported. */
typedef struct {
  QuipuClient *client;
  GArray      *states;      /* QuipuState, as notified */
  GPtrArray   *received;    /* QuipuMessage * */
  GPtrArray   *acked;
  GPtrArray   *failed;
  guint        pages;
  guint        last_count;
  gboolean     last_more;
} Session;

static void
on_state (QuipuClient *client, GParamSpec *pspec, Session *s)
{
  QuipuState state = quipu_client_get_state (client);

  g_array_append_val (s->states, state);
}

static void
on_received (QuipuClient *client, QuipuMessage *msg, Session *s)
{
  g_ptr_array_add (s->received, g_object_ref (msg));
}

static void
on_acked (QuipuClient *client, QuipuMessage *msg, Session *s)
{
  g_ptr_array_add (s->acked, g_object_ref (msg));
}

static void
on_failed (QuipuClient *client, QuipuMessage *msg, GError *error, Session *s)
{
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_NOT_JOINED);
  g_ptr_array_add (s->failed, g_object_ref (msg));
}

static void
on_history_loaded (QuipuClient *client, const char *room, guint count, gboolean more, Session *s)
{
  s->pages++;
  s->last_count = count;
  s->last_more = more;
}

static Session *
session_new (Fixture *fx, const char *username, guint8 seed, guint history_limit)
{
  g_autoptr(QuipuIdentity) identity = quipu_test_identity_from_seed (seed);
  Session *s = g_new0 (Session, 1);

  s->client = quipu_client_new (identity, username);
  s->states = g_array_new (FALSE, FALSE, sizeof (QuipuState));
  s->received = g_ptr_array_new_with_free_func (g_object_unref);
  s->acked = g_ptr_array_new_with_free_func (g_object_unref);
  s->failed = g_ptr_array_new_with_free_func (g_object_unref);
  quipu_client_set_server (s->client, fx->address);
  quipu_client_set_trust_store_path (s->client, fx->trust_path);
  {
    g_autofree char *file = g_strconcat ("known-users-", username, NULL);
    g_autofree char *known_users = g_build_filename (fx->dir, file, NULL);

    quipu_client_set_known_users_path (s->client, known_users);
  }
  quipu_client_set_history_limit (s->client, history_limit);
  g_signal_connect (s->client, "notify::state", G_CALLBACK (on_state), s);
  g_signal_connect (s->client, "message-received", G_CALLBACK (on_received), s);
  g_signal_connect (s->client, "message-acked", G_CALLBACK (on_acked), s);
  g_signal_connect (s->client, "message-failed", G_CALLBACK (on_failed), s);
  g_signal_connect (s->client, "history-loaded", G_CALLBACK (on_history_loaded), s);
  return s;
}

static void
session_free (Session *s)
{
  QuipuClient *client = s->client;

  if (quipu_client_get_state (client) == QUIPU_STATE_CONNECTED)
    {
      quipu_client_disconnect (client);
      QUIPU_TEST_WAIT_FOR (quipu_client_get_state (client) == QUIPU_STATE_DISCONNECTED);
    }
  g_signal_handlers_disconnect_by_data (client, s);
  g_array_unref (s->states);
  g_ptr_array_unref (s->received);
  g_ptr_array_unref (s->acked);
  g_ptr_array_unref (s->failed);
  g_free (s);
  g_assert_finalize_object (client);
}

static void
test_lifecycle (Fixture       *fx,
                gconstpointer  data)
{
  Session *s = session_new (fx, "lena", 0x31, 0);
  QuipuClient *client = s->client;
  g_autofree char *user_id = NULL;
  const QuipuState expected[] = {
    QUIPU_STATE_CONNECTING, QUIPU_STATE_CONNECTED, QUIPU_STATE_DISCONNECTING, QUIPU_STATE_DISCONNECTED,
  };

  g_assert_cmpint (quipu_client_get_state (client), ==, QUIPU_STATE_DISCONNECTED);
  g_assert_cmpstr (quipu_client_get_username (client), ==, "lena");
  g_assert_cmpuint (strlen (quipu_client_get_user_id (client)), ==, QUIPU_USER_ID_LEN);
  g_object_get (client, "user-id", &user_id, NULL);
  g_assert_cmpstr (user_id, ==, quipu_client_get_user_id (client));

  quipu_client_connect (client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (client) == QUIPU_STATE_CONNECTED);
  g_assert_null (quipu_client_get_error (client));
  g_assert_nonnull (quipu_client_get_server_fingerprint (client));
  g_assert_cmpint (quipu_client_get_trust_via (client), ==, QUIPU_TRUST_VIA_NEW_PIN);

  quipu_client_disconnect (client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (client) == QUIPU_STATE_DISCONNECTED);
  g_assert_cmpmem (s->states->data, s->states->len * sizeof (QuipuState), expected, sizeof expected);

  /* The second time the server is known. */
  quipu_client_connect (client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (client) == QUIPU_STATE_CONNECTED);
  g_assert_cmpint (quipu_client_get_trust_via (client), ==, QUIPU_TRUST_VIA_KNOWN);
  session_free (s);
}

static void
send_many (Fixture *fx, const char *room, guint n)
{
  Session *writer = session_new (fx, "writer", 0x41, 0);

  g_assert_true (quipu_client_join (writer->client, room, NULL));
  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *body = g_strdup_printf ("message %u", i);
      g_autoptr(QuipuMessage) msg = quipu_client_send_to_room (writer->client, room, body, NULL);

      g_assert_nonnull (msg);
      g_assert_cmpint (quipu_message_get_status (msg), ==, QUIPU_MESSAGE_PENDING);
    }
  g_assert_cmpuint (quipu_client_get_n_pending (writer->client), ==, n);
  quipu_client_connect (writer->client);
  QUIPU_TEST_WAIT_FOR (writer->acked->len == n);
  g_assert_cmpuint (quipu_client_get_n_pending (writer->client), ==, 0);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (quipu_message_get_seq (g_ptr_array_index (writer->acked, i)), ==, i + 1);
  session_free (writer);
}

/* Pages arrive oldest first inside a page, newer pages before older ones. */
static void
assert_page (Session *s, guint from, guint first_seq, guint last_seq)
{
  g_assert_cmpuint (s->received->len - from, ==, last_seq - first_seq + 1);
  for (guint i = from; i < s->received->len; i++)
    {
      QuipuMessage *msg = g_ptr_array_index (s->received, i);
      g_autofree char *body = g_strdup_printf ("message %u", first_seq + (i - from));

      g_assert_cmpuint (quipu_message_get_seq (msg), ==, first_seq + (i - from));
      g_assert_cmpstr (quipu_message_get_body (msg), ==, body);
      g_assert_true (quipu_message_is_history (msg));
      g_assert_cmpint (quipu_message_get_verification (msg), ==, QUIPU_VERIFICATION_VALID);
      g_assert_cmpstr (quipu_message_get_conversation (msg), ==, "#paging");
    }
}

static void
test_scroll_back (Fixture       *fx,
                  gconstpointer  data)
{
  Session *reader;
  guint mark;

  send_many (fx, "paging", 450);

  reader = session_new (fx, "reader", 0x51, 200);
  g_assert_true (quipu_client_join (reader->client, "paging", NULL));
  quipu_client_connect (reader->client);
  /* Login closes an (empty) inbox page, the join the room's first page. */
  QUIPU_TEST_WAIT_FOR (reader->pages == 2);
  assert_page (reader, 0, 251, 450);
  g_assert_true (reader->last_more);
  g_assert_cmpuint (quipu_client_get_synced_seq (reader->client, "paging"), ==, 450);

  mark = reader->received->len;
  g_assert_true (quipu_client_load_older (reader->client, "paging", 200));
  g_assert_false (quipu_client_load_older (reader->client, "paging", 200));   /* one at a time */
  QUIPU_TEST_WAIT_FOR (reader->pages == 3);
  assert_page (reader, mark, 51, 250);
  g_assert_cmpuint (reader->last_count, ==, 200);
  g_assert_true (reader->last_more);

  mark = reader->received->len;
  g_assert_true (quipu_client_load_older (reader->client, "paging", 200));
  QUIPU_TEST_WAIT_FOR (reader->pages == 4);
  assert_page (reader, mark, 1, 50);
  g_assert_cmpuint (reader->last_count, ==, 50);
  g_assert_false (reader->last_more);
  g_assert_cmpuint (reader->received->len, ==, 450);

  /* Room names fold: a differently cased join is the same conversation. */
  g_assert_cmpuint (quipu_client_get_synced_seq (reader->client, "PAGING"), ==, 450);
  session_free (reader);
}

static void
test_refused_message (Fixture       *fx,
                      gconstpointer  data)
{
  Session *s = session_new (fx, "nora", 0x61, 0);
  g_autoptr(QuipuMessage) msg = NULL;

  quipu_client_connect (s->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (s->client) == QUIPU_STATE_CONNECTED);
  msg = quipu_client_send_to_room (s->client, "elsewhere", "not a member", NULL);
  QUIPU_TEST_WAIT_FOR (s->failed->len == 1);
  g_assert_true (g_ptr_array_index (s->failed, 0) == msg);
  g_assert_cmpint (quipu_message_get_status (msg), ==, QUIPU_MESSAGE_FAILED);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, 0);
  g_assert_cmpuint (s->acked->len, ==, 0);
  g_assert_cmpint (quipu_client_get_state (s->client), ==, QUIPU_STATE_CONNECTED);
  session_free (s);
}

static void
test_bad_input_refused_locally (Fixture       *fx,
                                gconstpointer  data)
{
  Session *s = session_new (fx, "otto", 0x71, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *long_body = g_strnfill (QUIPU_MAX_BODY_SIZE + 1, 'x');
  const char * const bad_recipients[] = { "two words", NULL };

  g_assert_null (quipu_client_send_to_room (s->client, "general", long_body, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (quipu_client_send_direct (s->client, bad_recipients, "hi", &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
  g_clear_error (&error);
  g_assert_false (quipu_client_join (s->client, "#general", &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, 0);
  session_free (s);
}

/* The keys first seen for other users outlive the session object: a key the
 * server swaps before the next run is reported as changed, not pinned anew. */
static void
test_pins_persist (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *known_users = g_build_filename (fx->dir, "known-users-reader", NULL);
  g_autofree char *contents = NULL;
  Session *reader;
  guint8 other_key[QUIPU_KEY_SIZE] = { 0x5a };

  send_many (fx, "pins", 1);

  reader = session_new (fx, "reader", 0x51, 10);
  g_assert_true (quipu_client_join (reader->client, "pins", NULL));
  quipu_client_connect (reader->client);
  QUIPU_TEST_WAIT_FOR (reader->received->len == 1);
  g_assert_cmpint (quipu_message_get_verification (g_ptr_array_index (reader->received, 0)), ==,
                   QUIPU_VERIFICATION_VALID);
  session_free (reader);
  g_assert_true (g_file_get_contents (known_users, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, " writer "));

  /* The server's store now claims another key for the writer. */
  quipu_test_tamper (fx, "UPDATE users SET key = ?1 WHERE name = 'writer'", other_key, sizeof other_key);

  reader = session_new (fx, "reader", 0x51, 10);
  g_assert_true (quipu_client_join (reader->client, "pins", NULL));
  quipu_client_connect (reader->client);
  QUIPU_TEST_WAIT_FOR (reader->received->len == 1);
  g_assert_cmpint (quipu_message_get_verification (g_ptr_array_index (reader->received, 0)), ==,
                   QUIPU_VERIFICATION_KEY_CHANGED);
  session_free (reader);
}

/* What the desktop app builds on: async connect and join, properties that
 * notify, structured certificate errors, a persistent outbox. */

typedef struct {
  gboolean     done;
  gboolean     ok;
  GError      *error;
  QuipuState   state;      /* the client's state when the callback ran */
  guint        joined;     /* "joined" emissions seen by then */
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_clear_error (&o->error);
  memset (o, 0, sizeof *o);
}

static void
count_joined (QuipuClient *client, const char *room, guint *n)
{
  (*n)++;
}

static guint joined_seen;

static void
connect_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Outcome *o = data;

  o->ok = quipu_client_connect_finish (QUIPU_CLIENT (source), result, &o->error);
  o->state = quipu_client_get_state (QUIPU_CLIENT (source));
  o->done = TRUE;
}

static void
join_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Outcome *o = data;

  o->ok = quipu_client_join_finish (QUIPU_CLIENT (source), result, &o->error);
  o->state = quipu_client_get_state (QUIPU_CLIENT (source));
  o->joined = joined_seen;
  o->done = TRUE;
}

static void
count_notify (GObject *object, GParamSpec *pspec, GHashTable *counts)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, pspec->name));

  g_hash_table_insert (counts, (gpointer) pspec->name, GUINT_TO_POINTER (n + 1));
}

static guint
notified (GHashTable *counts, const char *name)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, name));
}

static void
test_properties (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(QuipuIdentity) identity = quipu_test_identity_from_seed (0x61);
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  const char * const settable[] = {
    "pinned-fingerprint", "trust-store-path", "known-users-path", "outbox-path",
  };
  QuipuClient *client;
  QuipuIdentity *got_identity = NULL;
  g_autofree char *username = NULL;
  g_autofree char *outbox = g_build_filename (fx->dir, "outbox-props", NULL);
  GError *error_prop = NULL;
  QuipuTrustVia via;
  gboolean tofu;

  client = g_object_new (QUIPU_TYPE_CLIENT, "identity", identity, "username", "petra", NULL);
  g_signal_connect (client, "notify", G_CALLBACK (count_notify), counts);
  g_object_get (client, "identity", &got_identity, "username", &username, "error", &error_prop,
                "trust-via", &via, "trust-on-first-use", &tofu, NULL);
  g_assert_true (got_identity == identity);
  g_clear_object (&got_identity);
  g_assert_cmpstr (username, ==, "petra");
  g_assert_null (error_prop);
  g_assert_true (tofu);

  for (guint i = 0; i < G_N_ELEMENTS (settable); i++)
    {
      const char *value = g_str_equal (settable[i], "outbox-path") ? outbox : "SHA256:x";
      g_autofree char *read_back = NULL;

      g_object_set (client, settable[i], value, NULL);
      g_object_set (client, settable[i], value, NULL);   /* unchanged: no second notify */
      g_object_get (client, settable[i], &read_back, NULL);
      g_assert_cmpstr (read_back, ==, value);
      g_assert_cmpuint (notified (counts, settable[i]), ==, 1);
    }
  g_object_set (client, "trust-on-first-use", FALSE, NULL);
  g_assert_cmpuint (notified (counts, "trust-on-first-use"), ==, 1);

  /* A failure is the error property, notified. No server is set. */
  quipu_client_connect (client);
  g_assert_cmpint (quipu_client_get_state (client), ==, QUIPU_STATE_ERROR);
  g_assert_cmpuint (notified (counts, "error"), ==, 1);
  g_object_get (client, "error", &error_prop, NULL);
  g_assert_error (error_prop, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE);
  g_clear_error (&error_prop);

  g_signal_handlers_disconnect_by_data (client, counts);
  g_assert_finalize_object (client);
}

static void
test_connect_and_join_async (Fixture       *fx,
                             gconstpointer  data)
{
  Session *s = session_new (fx, "otto", 0x62, 0);
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  Outcome connected = { 0 }, joined = { 0 }, again = { 0 };

  joined_seen = 0;
  g_signal_connect (s->client, "joined", G_CALLBACK (count_joined), &joined_seen);
  g_signal_connect (s->client, "notify", G_CALLBACK (count_notify), counts);

  /* Asked before connecting: answered once the server confirmed. */
  quipu_client_join_async (s->client, "lobby", NULL, join_done, &joined);
  quipu_client_connect_async (s->client, NULL, connect_done, &connected);
  g_assert_false (connected.done);
  QUIPU_TEST_WAIT_FOR (connected.done);
  g_assert_no_error (connected.error);
  g_assert_true (connected.ok);
  g_assert_cmpint (connected.state, ==, QUIPU_STATE_CONNECTED);
  g_assert_cmpuint (notified (counts, "trust-via"), ==, 1);
  g_assert_cmpint (quipu_client_get_trust_via (s->client), ==, QUIPU_TRUST_VIA_NEW_PIN);

  QUIPU_TEST_WAIT_FOR (joined.done);
  g_assert_no_error (joined.error);
  g_assert_true (joined.ok);
  g_assert_cmpuint (joined.joined, ==, 1);

  /* Joined already on this connection: answered without a round trip. */
  quipu_client_join_async (s->client, "LOBBY", NULL, join_done, &again);
  QUIPU_TEST_WAIT_FOR (again.done);
  g_assert_true (again.ok);
  g_assert_cmpuint (joined_seen, ==, 1);

  /* A bad room name fails the task, not the session. */
  outcome_clear (&again);
  quipu_client_join_async (s->client, "#bad", NULL, join_done, &again);
  QUIPU_TEST_WAIT_FOR (again.done);
  g_assert_error (again.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);

  /* Connected already: at once. */
  outcome_clear (&connected);
  quipu_client_connect_async (s->client, NULL, connect_done, &connected);
  QUIPU_TEST_WAIT_FOR (connected.done);
  g_assert_true (connected.ok);

  g_signal_handlers_disconnect_by_data (s->client, counts);
  g_signal_handlers_disconnect_by_data (s->client, &joined_seen);
  outcome_clear (&connected);
  outcome_clear (&joined);
  outcome_clear (&again);
  session_free (s);
}

static void
test_connect_async_fails (Fixture       *fx,
                          gconstpointer  data)
{
  Session *s = session_new (fx, "ria", 0x63, 0);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Outcome o = { 0 };

  /* Fails with the session's own error. */
  quipu_client_set_pinned_fingerprint (s->client, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_false (o.ok);
  g_assert_cmpint (o.state, ==, QUIPU_STATE_ERROR);
  g_assert_error (o.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED);
  g_assert_cmpstr (o.error->message, ==, quipu_client_get_error (s->client)->message);
  g_assert_cmpstr (quipu_error_get_presented_fingerprint (o.error), ==,
                   quipu_server_get_fingerprint (fx->server));
  outcome_clear (&o);

  /* Cancelled: answered in the next main-loop pass (GTask never calls back
   * from inside the call that made the task), before the session settles. */
  quipu_client_set_pinned_fingerprint (s->client, NULL);
  quipu_client_connect_async (s->client, cancellable, connect_done, &o);
  g_cancellable_cancel (cancellable);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_cmpint (o.state, ==, QUIPU_STATE_CONNECTING);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&o);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (s->client) == QUIPU_STATE_CONNECTED);
  session_free (s);
}

/* The user accepts the fingerprint: the next connect goes through, as known. */
static void
accept_and_connect (Session *s, const char *fingerprint)
{
  g_autoptr(GError) error = NULL;
  Outcome o = { 0 };

  g_assert_true (quipu_client_trust_fingerprint (s->client, fingerprint, &error));
  g_assert_no_error (error);
  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_no_error (o.error);
  g_assert_true (o.ok);
  g_assert_cmpint (quipu_client_get_trust_via (s->client), ==, QUIPU_TRUST_VIA_KNOWN);
  outcome_clear (&o);
}

static void
test_unknown_server (Fixture       *fx,
                     gconstpointer  data)
{
  Session *s = session_new (fx, "uma", 0x64, 0);
  const char *real = quipu_server_get_fingerprint (fx->server);
  g_autoptr(GError) error = NULL;
  Outcome o = { 0 };

  quipu_client_set_trust_on_first_use (s->client, FALSE);
  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_error (o.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER);
  g_assert_cmpstr (quipu_error_get_presented_fingerprint (o.error), ==, real);
  g_assert_null (quipu_error_get_pinned_fingerprint (o.error));
  g_assert_cmpstr (quipu_client_get_server_fingerprint (s->client), ==, real);
  /* Nothing was pinned behind the user's back. */
  g_assert_false (g_file_test (fx->trust_path, G_FILE_TEST_EXISTS));
  outcome_clear (&o);

  g_assert_false (quipu_client_trust_fingerprint (s->client, "nonsense", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  accept_and_connect (s, real);
  session_free (s);
}

static void
test_changed_certificate (Fixture       *fx,
                          gconstpointer  data)
{
  static const char old_fp[] = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
  Session *s = session_new (fx, "vera", 0x65, 0);
  const char *real = quipu_server_get_fingerprint (fx->server);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (fx->trust_path);
  g_autoptr(GError) error = NULL;
  Outcome o = { 0 };

  g_assert_true (quipu_trust_store_pin (store, fx->address, old_fp, &error));
  g_assert_no_error (error);

  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_error (o.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED);
  g_assert_cmpstr (quipu_error_get_presented_fingerprint (o.error), ==, real);
  g_assert_cmpstr (quipu_error_get_pinned_fingerprint (o.error), ==, old_fp);
  g_assert_cmpstr (quipu_client_get_server_fingerprint (s->client), ==, real);
  /* Not retried on its own: the user has to decide. */
  quipu_test_spin (700);
  g_assert_cmpint (quipu_client_get_state (s->client), ==, QUIPU_STATE_ERROR);
  outcome_clear (&o);

  accept_and_connect (s, real);
  session_free (s);
}

/* Messages written offline survive the session object: saved (0600) and
 * sent by the next one, in the order they were written. */
static void
test_outbox_persists (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "outbox", "wren", NULL);
  Session *s = session_new (fx, "wren", 0x66, 0);
  Session *reader;
  GStatBuf st;
  const char * const bodies[] = { "written offline", "and another" };
  const char * const to[] = { "yara", NULL };
  g_autoptr(QuipuMessage) first = NULL;
  g_autoptr(QuipuMessage) second = NULL;

  quipu_client_set_outbox_path (s->client, path);
  first = quipu_client_send_to_room (s->client, "porch", bodies[0], NULL);
  second = quipu_client_send_direct (s->client, to, bodies[1], NULL);
  g_assert_nonnull (first);
  g_assert_nonnull (second);
  QUIPU_TEST_WAIT_FOR (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  session_free (s);

  reader = session_new (fx, "yara", 0x67, 10);
  g_assert_true (quipu_client_join (reader->client, "porch", NULL));
  quipu_client_connect (reader->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (reader->client) == QUIPU_STATE_CONNECTED);

  s = session_new (fx, "wren", 0x66, 0);
  g_assert_true (quipu_client_join (s->client, "porch", NULL));
  quipu_client_set_outbox_path (s->client, path);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_n_pending (s->client) == 2);
  quipu_client_connect (s->client);
  QUIPU_TEST_WAIT_FOR (s->acked->len == 2);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpstr (quipu_message_get_body (g_ptr_array_index (s->acked, i)), ==, bodies[i]);
  g_assert_null (quipu_message_get_room (g_ptr_array_index (s->acked, 1)));

  QUIPU_TEST_WAIT_FOR (reader->received->len == 2);
  for (guint i = 0; i < 2; i++)
    {
      QuipuMessage *msg = g_ptr_array_index (reader->received, i);

      g_assert_cmpstr (quipu_message_get_body (msg), ==, bodies[i]);
      g_assert_cmpint (quipu_message_get_verification (msg), ==, QUIPU_VERIFICATION_VALID);
    }
  session_free (s);
  session_free (reader);

  /* Acknowledged: the third session has nothing to send. */
  s = session_new (fx, "wren", 0x66, 0);
  quipu_client_set_outbox_path (s->client, path);
  quipu_test_spin (100);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, 0);
  session_free (s);
}

/* Closed while a save is still being written in GIO's worker: the older
 * copy must never land over what the close wrote. */
static void
test_outbox_close_during_save (Fixture       *fx,
                               gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "outbox", "wren", NULL);
  Session *s = session_new (fx, "wren", 0x66, 0);
  g_autoptr(QuipuMessage) first = NULL;
  g_autoptr(QuipuMessage) second = NULL;

  quipu_client_set_outbox_path (s->client, path);
  /* The file is read first; wait until that is over and a save can start. */
  quipu_test_spin (50);
  first = quipu_client_send_to_room (s->client, "porch", "one", NULL);
  /* One pass: the idle save runs and hands the write to a worker. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  second = quipu_client_send_to_room (s->client, "porch", "two", NULL);
  g_assert_nonnull (first);
  g_assert_nonnull (second);
  session_free (s);
  /* Let the worker finish and its callback run. */
  quipu_test_spin (300);

  s = session_new (fx, "wren", 0x66, 0);
  quipu_client_set_outbox_path (s->client, path);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_n_pending (s->client) > 0);
  quipu_test_spin (50);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, 2);
  session_free (s);
}

/* Loading the system CAs takes ~20-30 ms here: a server pinned by
 * fingerprint or already in known-servers never waits for it. In a child
 * process, so that nothing earlier in this one has loaded them. */
static void
test_ca_loaded_only_when_needed (Fixture       *fx,
                                 gconstpointer  data)
{
  Session *s;
  g_autoptr(QuipuTrustStore) store = NULL;
  g_autoptr(GError) error = NULL;
  Outcome o = { 0 };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  s = session_new (fx, "zoe", 0x68, 0);
  quipu_client_set_pinned_fingerprint (s->client, quipu_server_get_fingerprint (fx->server));
  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_no_error (o.error);
  g_assert_cmpint (quipu_client_get_trust_via (s->client), ==, QUIPU_TRUST_VIA_PIN);
  g_assert_false (quipu_tls_system_trust_loaded ());
  session_free (s);
  outcome_clear (&o);

  store = quipu_trust_store_new (fx->trust_path);
  g_assert_true (quipu_trust_store_pin (store, fx->address, quipu_server_get_fingerprint (fx->server), &error));
  g_assert_no_error (error);
  s = session_new (fx, "zoe", 0x68, 0);
  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_no_error (o.error);
  g_assert_cmpint (quipu_client_get_trust_via (s->client), ==, QUIPU_TRUST_VIA_KNOWN);
  g_assert_false (quipu_tls_system_trust_loaded ());
  session_free (s);
  outcome_clear (&o);

  /* An unknown server is checked against the CAs before it is pinned. */
  g_assert_cmpint (g_unlink (fx->trust_path), ==, 0);
  s = session_new (fx, "zoe", 0x68, 0);
  quipu_client_connect_async (s->client, NULL, connect_done, &o);
  QUIPU_TEST_WAIT_FOR (o.done);
  g_assert_cmpint (quipu_client_get_trust_via (s->client), ==, QUIPU_TRUST_VIA_NEW_PIN);
  g_assert_true (quipu_tls_system_trust_loaded ());
  session_free (s);
  outcome_clear (&o);
}

static void
iterate_both (GMainContext *context)
{
  g_main_context_iteration (context, FALSE);
  g_main_context_iteration (NULL, FALSE);
  g_usleep (500);
}

/* A session made while another context is thread-default runs there: its
 * endpoint and all its timers, never the global default context (where
 * this test's server runs). */
static void
test_thread_default_context (Fixture       *fx,
                             gconstpointer  data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  Session *s;
  gint64 deadline = g_get_monotonic_time () + QUIPU_TEST_WAIT_US;

  g_main_context_push_thread_default (context);
  s = session_new (fx, "xena", 0x69, 0);
  quipu_client_connect (s->client);
  while (quipu_client_get_state (s->client) != QUIPU_STATE_CONNECTED && g_get_monotonic_time () < deadline)
    iterate_both (context);
  g_assert_cmpint (quipu_client_get_state (s->client), ==, QUIPU_STATE_CONNECTED);

  /* A wake-up (network back, resume) probes the connection with a timer. */
  g_signal_emit_by_name (s->client->wakeup, "wake");
  g_assert_true (quipu_timer_is_active (&s->client->probe_timer));
  g_assert_true (g_source_get_context (s->client->probe_timer.source) == context);
  while (quipu_timer_is_active (&s->client->probe_timer) && g_get_monotonic_time () < deadline)
    iterate_both (context);
  g_assert_false (quipu_timer_is_active (&s->client->probe_timer));
  g_assert_cmpint (quipu_client_get_state (s->client), ==, QUIPU_STATE_CONNECTED);

  quipu_client_disconnect (s->client);
  while (quipu_client_get_state (s->client) != QUIPU_STATE_DISCONNECTED && g_get_monotonic_time () < deadline)
    iterate_both (context);
  g_assert_cmpint (quipu_client_get_state (s->client), ==, QUIPU_STATE_DISCONNECTED);
  session_free (s);
  /* What finishes after the session object (the endpoint's closing period,
   * the system bus lookup) finishes on this context too: run it out. */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    iterate_both (context);
  g_main_context_pop_thread_default (context);
}

/* Spins until `s` has `n` acknowledgements, for at most `seconds`: the
 * tests below move megabytes or wait out rate limits, slow under valgrind. */
static void
wait_for_acks (Session *s, guint n, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;

  while (s->acked->len < n && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (s->acked->len, ==, n);
}

/* More than the connection's 8 MiB backlog limit written at once: the
 * outbox used to push it all and lose what the connection refused for the
 * rest of the connection's life. Now it keeps a window in flight and sends
 * the rest as the stream drains, so every message arrives, once, in order. */
#define BULK_MESSAGES 640
#define BULK_BODY     15000

static void
test_outbox_backpressure (Fixture       *fx,
                          gconstpointer  data)
{
  Session *s = session_new (fx, "bulk", 0x71, 0);
  g_autofree char *body = g_strnfill (BULK_BODY, 'b');
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  guint64 most_in_flight = 0;

  quipu_client_connect (s->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (s->client) == QUIPU_STATE_CONNECTED);
  g_assert_true (quipu_client_join (s->client, "bulk", NULL));

  for (guint i = 0; i < BULK_MESSAGES; i++)
    {
      QuipuMessage *msg = quipu_client_send_to_room (s->client, "bulk", body, NULL);

      g_assert_nonnull (msg);
      g_ptr_array_add (sent, msg);
      most_in_flight = MAX (most_in_flight, quipu_connection_get_queued_offset (s->client->conn) -
                                            s->client->stream_acked);
    }
  g_assert_cmpuint ((guint64) BULK_MESSAGES * BULK_BODY, >, 8 * 1024 * 1024);
  /* A window (1 MiB) and one message on top of what was acknowledged. */
  g_assert_cmpuint (most_in_flight, <=, 1024 * 1024 + BULK_BODY + 1024);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, BULK_MESSAGES);

  wait_for_acks (s, BULK_MESSAGES, 240);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, 0);
  g_assert_cmpuint (s->failed->len, ==, 0);
  for (guint i = 0; i < BULK_MESSAGES; i++)
    {
      g_assert_true (g_ptr_array_index (s->acked, i) == g_ptr_array_index (sent, i));
      g_assert_cmpuint (quipu_message_get_seq (g_ptr_array_index (sent, i)), ==, i + 1);
    }
  g_assert_cmpint (quipu_client_get_state (s->client), ==, QUIPU_STATE_CONNECTED);
  session_free (s);
}

/* A server allowing 5 messages, then 20 a second: the rest are answered
 * rate-limited. They stay pending, go again after a wait with the same id,
 * and each is stored exactly once. */
#define RATE_MESSAGES 40
#define RATE_PER_S    20
#define RATE_BURST    5

static void
test_rate_limited_resent (Fixture       *fx,
                          gconstpointer  data)
{
  g_auto(QuipuServerConfig) config = { 0 };
  Session *s = session_new (fx, "hasty", 0x72, 0);
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) seqs = g_hash_table_new (NULL, NULL);
  g_autoptr(QuipuMessage) after = NULL;
  gint64 start;
  gdouble elapsed;

  config.listen = g_strdup ("127.0.0.1:0");
  config.sync_normal = TRUE;
  config.limits.message_rate = RATE_PER_S;
  config.limits.message_burst = RATE_BURST;
  quipu_server_reconfigure (fx->server, &config);

  quipu_client_connect (s->client);
  QUIPU_TEST_WAIT_FOR (quipu_client_get_state (s->client) == QUIPU_STATE_CONNECTED);
  g_assert_true (quipu_client_join (s->client, "slow", NULL));
  start = g_get_monotonic_time ();
  for (guint i = 0; i < RATE_MESSAGES; i++)
    {
      g_autofree char *body = g_strdup_printf ("hasty %u", i);

      g_ptr_array_add (sent, quipu_client_send_to_room (s->client, "slow", body, NULL));
    }

  /* Until acknowledged, a refused message shows as pending, never failed. */
  while (s->acked->len < RATE_MESSAGES && g_get_monotonic_time () - start < 120 * G_USEC_PER_SEC)
    {
      g_main_context_iteration (NULL, TRUE);
      for (guint i = 0; i < sent->len; i++)
        g_assert_cmpint (quipu_message_get_status (g_ptr_array_index (sent, i)), !=, QUIPU_MESSAGE_FAILED);
    }
  elapsed = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_assert_cmpuint (s->acked->len, ==, RATE_MESSAGES);
  g_assert_cmpuint (s->failed->len, ==, 0);
  g_assert_cmpuint (quipu_client_get_n_pending (s->client), ==, 0);
  /* The server did throttle: 35 messages past the burst take 1.75 s. */
  g_assert_cmpfloat (elapsed, >=, 1.5);

  /* Each acknowledged once, with its own sequence, all of 1..N. */
  for (guint i = 0; i < RATE_MESSAGES; i++)
    {
      QuipuMessage *msg = g_ptr_array_index (sent, i);
      guint64 seq = quipu_message_get_seq (msg);

      g_assert_cmpint (quipu_message_get_status (msg), ==, QUIPU_MESSAGE_ACKED);
      g_assert_true (g_ptr_array_find (s->acked, msg, NULL));
      g_assert_cmpuint (seq, >=, 1);
      g_assert_cmpuint (seq, <=, RATE_MESSAGES);
      g_assert_true (g_hash_table_add (seqs, GSIZE_TO_POINTER (seq)));
    }
  /* Nothing was stored twice: the next message follows the N at once. */
  after = quipu_client_send_to_room (s->client, "slow", "after", NULL);
  wait_for_acks (s, RATE_MESSAGES + 1, 30);
  g_assert_cmpuint (quipu_message_get_seq (after), ==, RATE_MESSAGES + 1);
  session_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/quipu/client/lifecycle", test_lifecycle);
  ADD ("/quipu/client/scroll-back", test_scroll_back);
  ADD ("/quipu/client/refused-message", test_refused_message);
  ADD ("/quipu/client/bad-input", test_bad_input_refused_locally);
  ADD ("/quipu/client/pins-persist", test_pins_persist);
  ADD ("/quipu/client/properties", test_properties);
  ADD ("/quipu/client/connect-join-async", test_connect_and_join_async);
  ADD ("/quipu/client/connect-async-fails", test_connect_async_fails);
  ADD ("/quipu/client/unknown-server", test_unknown_server);
  ADD ("/quipu/client/changed-certificate", test_changed_certificate);
  ADD ("/quipu/client/outbox-persists", test_outbox_persists);
  ADD ("/quipu/client/outbox-close-during-save", test_outbox_close_during_save);
  ADD ("/quipu/client/ca-loaded-only-when-needed", test_ca_loaded_only_when_needed);
  ADD ("/quipu/client/thread-default-context", test_thread_default_context);
  ADD ("/quipu/client/outbox-backpressure", test_outbox_backpressure);
  ADD ("/quipu/client/rate-limited-resent", test_rate_limited_resent);
#undef ADD

  return g_test_run ();
}
