#define G_LOG_DOMAIN "quipu-test-client"

#include "config.h"

#include "quipu-client.h"
#include "quipu-error.h"
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
#undef ADD

  return g_test_run ();
}
