#define G_LOG_DOMAIN "quipu-test-store"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "quipu-store.h"

#define MS_PER_DAY (G_GUINT64_CONSTANT (24) * 60 * 60 * 1000)

typedef struct {
  char       *dir;
  char       *path;
  QuipuStore *store;
} Fixture;

static QuipuStore *
open_store (const char              *path,
            const QuipuStoreOptions *options)
{
  g_autoptr(GError) error = NULL;
  QuipuStore *store = quipu_store_open (path, options, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static void
reopen (Fixture                 *fx,
        const QuipuStoreOptions *options)
{
  g_clear_pointer (&fx->store, quipu_store_free);
  fx->store = open_store (fx->path, options);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fx->dir = g_dir_make_tmp ("quipu-store-XXXXXX", &error);
  g_assert_no_error (error);
  fx->path = g_build_filename (fx->dir, "quipu.db", NULL);
  fx->store = open_store (fx->path, NULL);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  g_clear_pointer (&fx->store, quipu_store_free);

  dir = g_dir_open (fx->dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (fx->dir, name, NULL);

      g_assert_cmpint (g_unlink (file), ==, 0);
    }
  g_assert_cmpint (g_rmdir (fx->dir), ==, 0);

  g_free (fx->path);
  g_free (fx->dir);
}

static void
fill (guint8 *buf,
      gsize   size,
      guint8  seed)
{
  for (gsize i = 0; i < size; i++)
    buf[i] = (guint8) (seed + i);
}

static gint64
register_new (Fixture    *fx,
              const char *name,
              guint8      seed)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  guint8 key[QUIPU_KEY_SIZE];
  gint64 uid = 0;

  fill (key, sizeof key, seed);
  g_assert_cmpint (quipu_store_register_user (fx->store, name, key, &uid, &display, &error),
                   ==, QUIPU_REGISTER_NEW);
  g_assert_no_error (error);
  g_assert_cmpstr (display, ==, name);
  g_assert_cmpint (uid, >, 0);
  return uid;
}

static gboolean
post (Fixture    *fx,
      gint64      sender,
      const char *room,
      guint64     client_msg_id,
      guint64    *seq)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *body = g_strdup_printf ("message %" G_GUINT64_FORMAT, client_msg_id);
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  gboolean duplicate = TRUE;

  fill (signature, sizeof signature, (guint8) client_msg_id);
  g_assert_true (quipu_store_add_room_message (fx->store, sender, room, client_msg_id, body,
                                               1000 + client_msg_id, signature,
                                               seq, &duplicate, &error));
  g_assert_no_error (error);
  return duplicate;
}

static guint64
post_new (Fixture    *fx,
          gint64      sender,
          const char *room,
          guint64     client_msg_id)
{
  guint64 seq = 0;

  g_assert_false (post (fx, sender, room, client_msg_id, &seq));
  return seq;
}

static gboolean
send_direct (Fixture            *fx,
             gint64              sender,
             const gint64       *uids,
             const char *const  *names,
             guint               n,
             guint64             client_msg_id,
             guint64            *sender_seq,
             guint64            *seqs)
{
  g_autoptr(GError) error = NULL;
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  gboolean duplicate = TRUE;

  fill (signature, sizeof signature, 0x40);
  g_assert_true (quipu_store_add_direct_message (fx->store, sender, uids, names, n,
                                                 client_msg_id, "psst", 42, signature,
                                                 sender_seq, seqs, &duplicate, &error));
  g_assert_no_error (error);
  return duplicate;
}

static GPtrArray *
fetch (Fixture             *fx,
       const char          *room,
       gint64               inbox_uid,
       QuipuFetchDirection  direction,
       guint64              seq,
       guint                limit,
       gboolean            *more)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *messages = quipu_store_fetch (fx->store, room, inbox_uid, direction, seq,
                                           limit, more, &error);

  g_assert_no_error (error);
  g_assert_nonnull (messages);
  return messages;
}

/* Asserts `messages` holds exactly the sequences first..last, ascending. */
static void
assert_seqs (GPtrArray *messages,
             guint64    first,
             guint64    last)
{
  g_assert_cmpuint (messages->len, ==, last >= first ? last - first + 1 : 0);
  for (guint i = 0; i < messages->len; i++)
    {
      QuipuStoredMessage *msg = g_ptr_array_index (messages, i);

      g_assert_cmpuint (msg->seq, ==, first + i);
    }
}

static void
test_registry_new_known_taken (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  guint8 key[QUIPU_KEY_SIZE], other[QUIPU_KEY_SIZE];
  gint64 uid = register_new (fx, "alice", 1);
  gint64 again = 0;

  fill (key, sizeof key, 1);
  fill (other, sizeof other, 2);

  g_assert_cmpint (quipu_store_register_user (fx->store, "alice", key, &again, &display, &error),
                   ==, QUIPU_REGISTER_KNOWN);
  g_assert_no_error (error);
  g_assert_cmpint (again, ==, uid);
  g_assert_cmpstr (display, ==, "alice");

  g_clear_pointer (&display, g_free);
  again = -1;
  g_assert_cmpint (quipu_store_register_user (fx->store, "alice", other, &again, &display, &error),
                   ==, QUIPU_REGISTER_TAKEN);
  g_assert_no_error (error);
  g_assert_cmpint (again, ==, -1);
  g_assert_null (display);

  g_assert_cmpint (register_new (fx, "bob", 2), !=, uid);
}

static void
test_registry_folding (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  guint8 key[QUIPU_KEY_SIZE], other[QUIPU_KEY_SIZE];
  gint64 uid = register_new (fx, "alice", 1);
  gint64 again = 0;

  fill (key, sizeof key, 1);
  fill (other, sizeof other, 2);

  g_assert_cmpint (quipu_store_register_user (fx->store, "Alice", other, &again, &display, &error),
                   ==, QUIPU_REGISTER_TAKEN);
  g_assert_no_error (error);

  g_assert_cmpint (quipu_store_register_user (fx->store, "Alice", key, &again, &display, &error),
                   ==, QUIPU_REGISTER_KNOWN);
  g_assert_no_error (error);
  g_assert_cmpint (again, ==, uid);
  g_assert_cmpstr (display, ==, "alice");
}

static void
test_registry_fullwidth (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  /* "ａｌｉｃｅ" in full-width forms; NFKC folds it to "alice". */
  const char *fullwidth = "\xef\xbd\x81\xef\xbd\x8c\xef\xbd\x89\xef\xbd\x83\xef\xbd\x85";
  guint8 key[QUIPU_KEY_SIZE], other[QUIPU_KEY_SIZE];
  gint64 uid = register_new (fx, "alice", 1);
  gint64 again = 0;

  fill (key, sizeof key, 1);
  fill (other, sizeof other, 2);

  g_assert_cmpint (quipu_store_register_user (fx->store, fullwidth, other, &again, NULL, &error),
                   ==, QUIPU_REGISTER_TAKEN);
  g_assert_no_error (error);
  g_assert_cmpint (quipu_store_register_user (fx->store, fullwidth, key, &again, &display, &error),
                   ==, QUIPU_REGISTER_KNOWN);
  g_assert_no_error (error);
  g_assert_cmpint (again, ==, uid);
  g_assert_cmpstr (display, ==, "alice");
}

static void
test_registry_lookup (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  guint8 expected[QUIPU_KEY_SIZE], key[QUIPU_KEY_SIZE] = { 0, };
  gint64 uid = register_new (fx, "Alice", 7);
  gint64 found = 0;

  fill (expected, sizeof expected, 7);
  g_assert_true (quipu_store_lookup_user (fx->store, "ALICE", &found, &display, key, &error));
  g_assert_no_error (error);
  g_assert_cmpint (found, ==, uid);
  g_assert_cmpstr (display, ==, "Alice");
  g_assert_cmpmem (key, sizeof key, expected, sizeof expected);

  g_assert_false (quipu_store_lookup_user (fx->store, "bob", &found, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_registry_bad_name (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint8 key[QUIPU_KEY_SIZE] = { 0, };

  g_assert_cmpint (quipu_store_register_user (fx->store, "a,b", key, NULL, NULL, &error),
                   ==, QUIPU_REGISTER_TAKEN);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
  g_clear_error (&error);

  g_assert_false (quipu_store_lookup_user (fx->store, "", NULL, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
}

static void
test_room_sequences (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  guint64 cmid = 1;

  for (guint64 i = 1; i <= 20; i++)
    {
      g_assert_cmpuint (post_new (fx, i % 2 ? alice : bob, "lobby", cmid++), ==, i);
      if (i % 4 == 0)
        g_assert_cmpuint (post_new (fx, alice, "kitchen", cmid++), ==, i / 4);
    }

  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 20);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "kitchen", &error), ==, 5);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "attic", &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_room_folded_name (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_auto(GStrv) rooms = NULL;
  gint64 alice = register_new (fx, "alice", 1);

  g_assert_cmpuint (post_new (fx, alice, "Lobby", 1), ==, 1);
  g_assert_cmpuint (post_new (fx, alice, "LOBBY", 2), ==, 2);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 2);
  g_assert_no_error (error);

  messages = fetch (fx, "lobby", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (messages, 1, 2);
  g_assert_cmpstr (((QuipuStoredMessage *) messages->pdata[1])->room, ==, "Lobby");

  rooms = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (rooms, ((const char *[]) { "Lobby", NULL }));
}

static char *
claim (Fixture    *fx,
       const char *name)
{
  g_autoptr(GError) error = NULL;
  char *spelling = quipu_store_claim_room (fx->store, name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (spelling);
  return spelling;
}

/* The first spelling ever seen wins, whether it came with a join or a
 * message, and a restart does not forget it. */
static void
test_room_first_spelling (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_auto(GStrv) rooms = NULL;
  g_autofree char *first = NULL, *again = NULL, *after_restart = NULL, *posted = NULL;
  gint64 alice = register_new (fx, "alice", 1);

  first = claim (fx, "Lobby");
  g_assert_cmpstr (first, ==, "Lobby");
  again = claim (fx, "LOBBY");
  g_assert_cmpstr (again, ==, "Lobby");

  /* Claimed but without messages: not listed, no sequence yet. */
  rooms = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (rooms), ==, 0);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 0);
  g_assert_no_error (error);

  reopen (fx, NULL);
  after_restart = claim (fx, "lobby");
  g_assert_cmpstr (after_restart, ==, "Lobby");

  g_assert_cmpuint (post_new (fx, alice, "lobby", 1), ==, 1);
  messages = fetch (fx, "LoBBy", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (messages, 1, 1);
  g_assert_cmpstr (((QuipuStoredMessage *) messages->pdata[0])->room, ==, "Lobby");
  g_clear_pointer (&rooms, g_strfreev);
  rooms = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (rooms, ((const char *[]) { "Lobby", NULL }));

  /* A room first seen through a message keeps that spelling too. */
  g_assert_cmpuint (post_new (fx, alice, "Kitchen", 2), ==, 1);
  posted = claim (fx, "KITCHEN");
  g_assert_cmpstr (posted, ==, "Kitchen");
}

static void
test_room_claim_bad_name (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *spelling = quipu_store_claim_room (fx->store, "no,commas", &error);

  g_assert_null (spelling);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
}

static void
test_room_duplicate (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  guint64 seq = 0;

  g_assert_cmpuint (post_new (fx, alice, "lobby", 10), ==, 1);
  g_assert_cmpuint (post_new (fx, alice, "lobby", 11), ==, 2);
  /* Another sender may use the same client message id. */
  g_assert_cmpuint (post_new (fx, bob, "lobby", 10), ==, 3);

  g_assert_true (post (fx, alice, "lobby", 10, &seq));
  g_assert_cmpuint (seq, ==, 1);
  g_assert_true (post (fx, alice, "LOBBY", 11, &seq));
  g_assert_cmpuint (seq, ==, 2);

  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 3);
  g_assert_no_error (error);
}

static void
test_room_reused_id (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint8 signature[QUIPU_SIGNATURE_SIZE] = { 0, };
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  const char *names[] = { "bob" };
  guint64 sender_seq, seqs[1];

  post_new (fx, alice, "lobby", 5);
  g_assert_false (quipu_store_add_room_message (fx->store, alice, "kitchen", 5, "x", 1,
                                                signature, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "client message id 5 was already used for another room");
  g_clear_error (&error);

  g_assert_false (quipu_store_add_direct_message (fx->store, alice, &bob, names, 1, 5, "x", 1,
                                                  signature, &sender_seq, seqs, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_REQUEST);
  g_clear_error (&error);

  send_direct (fx, alice, &bob, names, 1, 6, &sender_seq, seqs);
  g_assert_false (quipu_store_add_room_message (fx->store, alice, "lobby", 6, "x", 1,
                                                signature, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_REQUEST);
  g_assert_cmpstr (error->message, ==, "client message id 6 was already used for a direct message");
  g_clear_error (&error);

  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "kitchen", &error), ==, 0);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 1);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, alice, &error), ==, 1);
  g_assert_no_error (error);
}

static void
test_room_unknown_sender (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) rooms = NULL;
  guint8 signature[QUIPU_SIGNATURE_SIZE] = { 0, };

  g_assert_false (quipu_store_add_room_message (fx->store, 999, "lobby", 1, "x", 1,
                                                signature, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER);
  g_assert_cmpstr (error->message, ==, "no user with id 999");
  g_clear_error (&error);

  /* Atomic: the room was not created either. */
  rooms = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (rooms), ==, 0);
}

static void
test_direct_inboxes (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  gint64 carol = register_new (fx, "carol", 3);
  const gint64 to_both[] = { bob, carol };
  const char *both_names[] = { "bob", "carol" };
  const char *alice_name[] = { "alice" };
  guint64 sender_seq = 0, seqs[2] = { 0, };

  g_assert_false (send_direct (fx, alice, to_both, both_names, 2, 1, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 1);
  g_assert_cmpuint (seqs[0], ==, 1);
  g_assert_cmpuint (seqs[1], ==, 1);

  g_assert_false (send_direct (fx, bob, &alice, alice_name, 1, 1, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 2);
  g_assert_cmpuint (seqs[0], ==, 2);

  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, alice, &error), ==, 2);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, bob, &error), ==, 2);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, carol, &error), ==, 1);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, 999, &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_direct_self_and_repeats (Fixture       *fx,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) carol_inbox = NULL;
  g_autoptr(GPtrArray) bob_inbox = NULL;
  gint64 bob = register_new (fx, "bob", 2);
  gint64 carol = register_new (fx, "carol", 3);
  const gint64 uids[] = { bob, carol, bob };
  const char *names[] = { "bob", "carol", "bob", NULL };
  guint64 sender_seq = 0, seqs[3] = { 0, };
  QuipuStoredMessage *msg;

  g_assert_false (send_direct (fx, carol, uids, names, 3, 1, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 1);
  g_assert_cmpuint (seqs[0], ==, 1);
  g_assert_cmpuint (seqs[1], ==, 1);
  g_assert_cmpuint (seqs[2], ==, 1);

  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, carol, &error), ==, 1);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, bob, &error), ==, 1);
  g_assert_no_error (error);

  carol_inbox = fetch (fx, NULL, carol, QUIPU_FETCH_AFTER, 0, 10, NULL);
  bob_inbox = fetch (fx, NULL, bob, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (carol_inbox, 1, 1);
  assert_seqs (bob_inbox, 1, 1);
  msg = g_ptr_array_index (bob_inbox, 0);
  /* The names as given, repeats included: the signature covers them. */
  g_assert_cmpstrv (msg->recipients, names);
}

static void
test_direct_duplicate (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  const char *names[] = { "bob" };
  guint64 sender_seq = 0, seqs[1] = { 0, };

  send_direct (fx, alice, &bob, names, 1, 1, &sender_seq, seqs);
  send_direct (fx, bob, &alice, (const char *[]) { "alice" }, 1, 1, &sender_seq, seqs);
  g_assert_false (send_direct (fx, alice, &bob, names, 1, 2, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 3);
  g_assert_cmpuint (seqs[0], ==, 3);

  seqs[0] = 777;
  g_assert_true (send_direct (fx, alice, &bob, names, 1, 1, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 1);
  g_assert_cmpuint (seqs[0], ==, 777);
  g_assert_true (send_direct (fx, alice, &bob, names, 1, 2, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 3);

  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, alice, &error), ==, 3);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, bob, &error), ==, 3);
  g_assert_no_error (error);
}

static void
test_direct_bad_recipients (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inbox = NULL;
  guint8 signature[QUIPU_SIGNATURE_SIZE] = { 0, };
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  const gint64 uids[] = { bob, 999 };
  const char *names[] = { "bob", "ghost" };
  const char *bad_names[] = { "bob", "a,b" };

  g_assert_false (quipu_store_add_direct_message (fx->store, alice, uids, names, 2, 1, "x", 1,
                                                  signature, NULL, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT);
  g_assert_cmpstr (error->message, ==, "no user with id 999");
  g_clear_error (&error);

  g_assert_false (quipu_store_add_direct_message (fx->store, alice, uids, bad_names, 2, 1, "x", 1,
                                                  signature, NULL, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
  g_clear_error (&error);

  g_assert_false (quipu_store_add_direct_message (fx->store, alice, uids, names, 0, 1, "x", 1,
                                                  signature, NULL, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_REQUEST);
  g_clear_error (&error);

  /* Nothing of the failed message remains, so the id is still free. */
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, alice, &error), ==, 0);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, bob, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_false (send_direct (fx, alice, &bob, names, 1, 1, NULL, NULL));
  inbox = fetch (fx, NULL, bob, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (inbox, 1, 1);
}

static void
test_fetch_edges (Fixture       *fx,
                  gconstpointer  data)
{
  gint64 alice = register_new (fx, "alice", 1);
  static const struct {
    QuipuFetchDirection direction;
    guint64 seq;
    guint limit;
    guint64 first, last;
    gboolean more;
  } cases[] = {
    { QUIPU_FETCH_BEFORE, G_MAXINT64, 5, 1, 5, FALSE },
    { QUIPU_FETCH_BEFORE, G_MAXUINT64, 4, 2, 5, TRUE },
    { QUIPU_FETCH_BEFORE, 5, 4, 1, 4, FALSE },
    { QUIPU_FETCH_BEFORE, 5, 3, 2, 4, TRUE },
    { QUIPU_FETCH_BEFORE, 2, 10, 1, 1, FALSE },
    { QUIPU_FETCH_BEFORE, 1, 10, 1, 0, FALSE },
    { QUIPU_FETCH_BEFORE, G_MAXINT64, 0, 1, 0, TRUE },
    { QUIPU_FETCH_AFTER, 0, 5, 1, 5, FALSE },
    { QUIPU_FETCH_AFTER, 0, 4, 1, 4, TRUE },
    { QUIPU_FETCH_AFTER, 3, 1, 4, 4, TRUE },
    { QUIPU_FETCH_AFTER, 4, 10, 5, 5, FALSE },
    { QUIPU_FETCH_AFTER, 5, 10, 1, 0, FALSE },
    { QUIPU_FETCH_AFTER, G_MAXUINT64, 10, 1, 0, FALSE },
  };

  for (guint64 i = 1; i <= 5; i++)
    post_new (fx, alice, "lobby", i);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) messages = NULL;
      gboolean more = !cases[i].more;

      g_test_message ("case %u", i);
      messages = fetch (fx, "lobby", 0, cases[i].direction, cases[i].seq, cases[i].limit, &more);
      assert_seqs (messages, cases[i].first, cases[i].last);
      g_assert_cmpint (more, ==, cases[i].more);
    }
}

static void
test_fetch_unknown (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) room = NULL;
  g_autoptr(GPtrArray) inbox = NULL;
  g_autoptr(GPtrArray) bad = NULL;
  gboolean more = TRUE;

  room = fetch (fx, "nowhere", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 10, &more);
  g_assert_cmpuint (room->len, ==, 0);
  g_assert_false (more);

  more = TRUE;
  inbox = fetch (fx, NULL, 12345, QUIPU_FETCH_AFTER, 0, 10, &more);
  g_assert_cmpuint (inbox->len, ==, 0);
  g_assert_false (more);

  bad = quipu_store_fetch (fx->store, "no/where", 0, QUIPU_FETCH_AFTER, 0, 10, NULL, &error);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME);
  g_assert_null (bad);
}

static void
test_fetch_round_trip (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) room = NULL;
  g_autoptr(GPtrArray) inbox = NULL;
  guint8 key[QUIPU_KEY_SIZE], signature[QUIPU_SIGNATURE_SIZE];
  gint64 alice = register_new (fx, "Alice", 9);
  gint64 bob = register_new (fx, "bob", 2);
  gint64 carol = register_new (fx, "carol", 3);
  const gint64 uids[] = { carol, bob };
  const char *names[] = { "carol", "bob", NULL };
  const char *body = "h\xc3\xa9llo, w\xc3\xb6rld \xf0\x9f\x91\x8b";
  const guint64 timestamp = G_GUINT64_CONSTANT (1764000000123);
  QuipuStoredMessage *msg;
  guint64 seq;
  gboolean duplicate;

  fill (key, sizeof key, 9);
  fill (signature, sizeof signature, 0xa0);
  g_assert_true (quipu_store_add_room_message (fx->store, alice, "Lobby", QUIPU_VARINT_MAX,
                                               body, timestamp, signature, &seq, &duplicate,
                                               &error));
  g_assert_no_error (error);
  g_assert_true (quipu_store_add_direct_message (fx->store, alice, uids, names, 2, 7, body,
                                                 timestamp, signature, &seq, NULL, &duplicate,
                                                 &error));
  g_assert_no_error (error);

  room = fetch (fx, "lobby", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 1, NULL);
  g_assert_cmpuint (room->len, ==, 1);
  msg = g_ptr_array_index (room, 0);
  g_assert_cmpint (msg->sender_uid, ==, alice);
  g_assert_cmpstr (msg->sender, ==, "Alice");
  g_assert_cmpmem (msg->sender_key, sizeof msg->sender_key, key, sizeof key);
  g_assert_cmpstr (msg->room, ==, "Lobby");
  g_assert_null (msg->recipients);
  g_assert_cmpuint (msg->client_msg_id, ==, QUIPU_VARINT_MAX);
  g_assert_cmpuint (msg->seq, ==, 1);
  g_assert_cmpstr (msg->body, ==, body);
  g_assert_cmpuint (msg->timestamp, ==, timestamp);
  g_assert_cmpmem (msg->signature, sizeof msg->signature, signature, sizeof signature);

  inbox = fetch (fx, NULL, bob, QUIPU_FETCH_BEFORE, G_MAXINT64, 10, NULL);
  g_assert_cmpuint (inbox->len, ==, 1);
  msg = g_ptr_array_index (inbox, 0);
  g_assert_cmpstr (msg->sender, ==, "Alice");
  g_assert_cmpmem (msg->sender_key, sizeof msg->sender_key, key, sizeof key);
  g_assert_null (msg->room);
  g_assert_cmpstrv (msg->recipients, names);
  g_assert_cmpuint (msg->client_msg_id, ==, 7);
  g_assert_cmpuint (msg->seq, ==, 1);
  g_assert_cmpstr (msg->body, ==, body);
  g_assert_cmpuint (msg->timestamp, ==, timestamp);
  g_assert_cmpmem (msg->signature, sizeof msg->signature, signature, sizeof signature);
}

static void
test_fetch_inbox_order (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) latest = NULL;
  g_autoptr(GPtrArray) after = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  const char *to_bob[] = { "bob" };
  const char *to_alice[] = { "alice" };
  gboolean more = FALSE;

  for (guint64 i = 1; i <= 6; i++)
    {
      if (i % 2)
        send_direct (fx, alice, &bob, to_bob, 1, i, NULL, NULL);
      else
        send_direct (fx, bob, &alice, to_alice, 1, i, NULL, NULL);
    }

  latest = fetch (fx, NULL, bob, QUIPU_FETCH_BEFORE, G_MAXINT64, 4, &more);
  assert_seqs (latest, 3, 6);
  g_assert_true (more);
  g_assert_cmpstr (((QuipuStoredMessage *) latest->pdata[0])->sender, ==, "alice");
  g_assert_cmpstr (((QuipuStoredMessage *) latest->pdata[1])->sender, ==, "bob");

  after = fetch (fx, NULL, alice, QUIPU_FETCH_AFTER, 4, 4, &more);
  assert_seqs (after, 5, 6);
  g_assert_false (more);
}

static void
test_fetch_paging (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) latest = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  guint64 before, total;
  gboolean more = FALSE;

  g_assert_true (quipu_store_begin (fx->store, &error));
  for (guint64 i = 1; i <= 10000; i++)
    post_new (fx, alice, "lobby", i);
  g_assert_true (quipu_store_commit (fx->store, &error));
  g_assert_no_error (error);

  latest = fetch (fx, "lobby", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 200, &more);
  assert_seqs (latest, 9801, 10000);
  g_assert_true (more);

  before = 9801;
  total = latest->len;
  while (more)
    {
      g_autoptr(GPtrArray) page = fetch (fx, "lobby", 0, QUIPU_FETCH_BEFORE, before, 200, &more);

      assert_seqs (page, before - 200, before - 1);
      before -= 200;
      total += page->len;
    }
  g_assert_cmpuint (before, ==, 1);
  g_assert_cmpuint (total, ==, 10000);
}

static void
test_delivered (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  const char *to_bob[] = { "bob" };

  for (guint64 i = 1; i <= 3; i++)
    send_direct (fx, alice, &bob, to_bob, 1, i, NULL, NULL);

  g_assert_cmpuint (quipu_store_get_delivered (fx->store, bob, &error), ==, 0);
  g_assert_true (quipu_store_set_delivered (fx->store, bob, 2, &error));
  g_assert_cmpuint (quipu_store_get_delivered (fx->store, bob, &error), ==, 2);
  g_assert_true (quipu_store_set_delivered (fx->store, bob, 1, &error));
  g_assert_cmpuint (quipu_store_get_delivered (fx->store, bob, &error), ==, 2);
  g_assert_true (quipu_store_set_delivered (fx->store, bob, 3, &error));
  g_assert_cmpuint (quipu_store_get_delivered (fx->store, bob, &error), ==, 3);
  g_assert_cmpuint (quipu_store_get_delivered (fx->store, alice, &error), ==, 0);
  g_assert_no_error (error);

  g_assert_false (quipu_store_set_delivered (fx->store, bob, 4, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER);
  g_assert_cmpstr (error->message, ==, "user 2 has no inbox sequence 4");
  g_clear_error (&error);
  g_assert_false (quipu_store_set_delivered (fx->store, 999, 1, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER);
  g_clear_error (&error);

  g_assert_cmpuint (quipu_store_get_delivered (fx->store, bob, &error), ==, 3);
  g_assert_no_error (error);
}

static void
test_list_rooms (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) all = NULL;
  g_auto(GStrv) two = NULL;
  g_auto(GStrv) none = NULL;
  gint64 alice = register_new (fx, "alice", 1);

  none = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_nonnull (none);
  g_assert_cmpuint (g_strv_length (none), ==, 0);

  post_new (fx, alice, "alpha", 1);
  post_new (fx, alice, "beta", 2);
  post_new (fx, alice, "gamma", 3);
  post_new (fx, alice, "alpha", 4);

  all = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (all, ((const char *[]) { "alpha", "gamma", "beta", NULL }));

  two = quipu_store_list_rooms (fx->store, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (two, ((const char *[]) { "alpha", "gamma", NULL }));
}

static void
test_prune_count (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) kept = NULL;
  g_autoptr(GPtrArray) small = NULL;
  const QuipuStoreOptions options = { .history_max_per_room = 3 };
  gint64 alice;

  reopen (fx, &options);
  alice = register_new (fx, "alice", 1);
  for (guint64 i = 1; i <= 10; i++)
    post_new (fx, alice, "big", i);
  post_new (fx, alice, "small", 11);
  post_new (fx, alice, "small", 12);

  g_assert_cmpint (quipu_store_prune (fx->store, 0, &error), ==, 7);
  g_assert_no_error (error);
  g_assert_cmpint (quipu_store_prune (fx->store, 0, &error), ==, 0);
  g_assert_no_error (error);

  small = fetch (fx, "small", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (small, 1, 2);

  g_assert_cmpuint (post_new (fx, alice, "big", 13), ==, 11);
  g_assert_cmpint (quipu_store_prune (fx->store, 0, &error), ==, 1);
  g_assert_no_error (error);

  kept = fetch (fx, "big", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 10, NULL);
  assert_seqs (kept, 9, 11);
}

static void
test_prune_age (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) room = NULL;
  g_autoptr(GPtrArray) inbox = NULL;
  const QuipuStoreOptions options = { .history_days = 2 };
  const char *to_bob[] = { "bob" };
  gint64 alice, bob;
  guint64 boundary, sender_seq = 0, seqs[1] = { 0, };

  reopen (fx, &options);
  alice = register_new (fx, "alice", 1);
  bob = register_new (fx, "bob", 2);
  post_new (fx, alice, "lobby", 1);
  post_new (fx, alice, "lobby", 2);
  send_direct (fx, alice, &bob, to_bob, 1, 3, NULL, NULL);

  /* The store stamps messages with the real clock; leave a clear gap. */
  g_usleep (3000);
  boundary = g_get_real_time () / 1000;
  g_usleep (3000);
  post_new (fx, alice, "lobby", 4);

  g_assert_cmpint (quipu_store_prune (fx->store, boundary + MS_PER_DAY, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (quipu_store_prune (fx->store, boundary + 2 * MS_PER_DAY, &error), ==, 3);
  g_assert_no_error (error);

  room = fetch (fx, "lobby", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 10, NULL);
  assert_seqs (room, 3, 3);
  /* The inbox rows went with their message. */
  inbox = fetch (fx, NULL, bob, QUIPU_FETCH_BEFORE, G_MAXINT64, 10, NULL);
  g_assert_cmpuint (inbox->len, ==, 0);

  g_assert_cmpuint (post_new (fx, alice, "lobby", 5), ==, 4);
  g_assert_false (send_direct (fx, alice, &bob, to_bob, 1, 6, &sender_seq, seqs));
  g_assert_cmpuint (sender_seq, ==, 2);
  g_assert_cmpuint (seqs[0], ==, 2);
}

static QuipuPruneCounts
prune_state (Fixture *fx,
             guint64  now_ms)
{
  g_autoptr(GError) error = NULL;
  QuipuPruneCounts counts;

  g_assert_true (quipu_store_prune_state (fx->store, now_ms, &counts, &error));
  g_assert_no_error (error);
  return counts;
}

/* A name unused for name_days is given back once nothing it sent is left;
 * one whose messages are still kept stays its owner's. */
static void
test_prune_names (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  const QuipuStoreOptions options = { .name_days = 30 };
  const char *to_idle[] = { "idle" };
  guint8 key[QUIPU_KEY_SIZE];
  gint64 idle, writer, uid = 0;
  guint64 now;
  QuipuPruneCounts counts;

  reopen (fx, &options);
  idle = register_new (fx, "idle", 1);
  writer = register_new (fx, "writer", 2);
  post_new (fx, writer, "lobby", 1);
  send_direct (fx, writer, &idle, to_idle, 1, 2, NULL, NULL);
  now = g_get_real_time () / 1000;

  counts = prune_state (fx, now + 29 * MS_PER_DAY);
  g_assert_cmpuint (counts.names, ==, 0);
  counts = prune_state (fx, now + 31 * MS_PER_DAY);
  g_assert_cmpuint (counts.names, ==, 1);
  g_assert_cmpuint (counts.inbox_entries, ==, 1);

  g_assert_false (quipu_store_lookup_user (fx->store, "idle", &uid, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (quipu_store_lookup_user (fx->store, "writer", &uid, NULL, NULL, &error));
  g_assert_cmpint (uid, ==, writer);
  /* Free for anyone now. */
  fill (key, sizeof key, 9);
  g_assert_cmpint (quipu_store_register_user (fx->store, "idle", key, &uid, &display, &error),
                   ==, QUIPU_REGISTER_NEW);
  g_assert_no_error (error);
  g_assert_cmpint (uid, !=, idle);
}

/* Inboxes keep their newest inbox_max_per_user entries; a direct message
 * no inbox holds any more is gone, and sequences go on. */
static void
test_prune_inbox_count (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) inbox = NULL;
  const QuipuStoreOptions options = { .inbox_max_per_user = 2 };
  const char *to_bob[] = { "bob" };
  guint64 sender_seq = 0, seqs[1] = { 0, };
  gint64 alice, bob;
  QuipuPruneCounts counts;

  reopen (fx, &options);
  alice = register_new (fx, "alice", 1);
  bob = register_new (fx, "bob", 2);
  for (guint64 i = 1; i <= 5; i++)
    send_direct (fx, alice, &bob, to_bob, 1, i, NULL, NULL);

  counts = prune_state (fx, g_get_real_time () / 1000);
  g_assert_cmpuint (counts.inbox_entries, ==, 6);      /* 3 of bob's, 3 of alice's own */
  g_assert_cmpuint (prune_state (fx, g_get_real_time () / 1000).inbox_entries, ==, 0);
  inbox = fetch (fx, NULL, bob, QUIPU_FETCH_BEFORE, G_MAXINT64, 10, NULL);
  assert_seqs (inbox, 4, 5);

  g_assert_false (send_direct (fx, alice, &bob, to_bob, 1, 6, &sender_seq, seqs));
  g_assert_cmpuint (seqs[0], ==, 6);
}

/* A room that never had a message is forgotten once not joined for
 * empty_room_days; a room with history keeps its sequence. */
static void
test_prune_empty_rooms (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *quiet = NULL;
  g_autofree char *again = NULL;
  const QuipuStoreOptions options = { .empty_room_days = 1 };
  gint64 alice;
  guint64 now;

  reopen (fx, &options);
  alice = register_new (fx, "alice", 1);
  quiet = claim (fx, "Quiet");
  post_new (fx, alice, "busy", 1);
  now = g_get_real_time () / 1000;

  g_assert_cmpuint (prune_state (fx, now).rooms, ==, 0);
  g_assert_cmpuint (prune_state (fx, now + 2 * MS_PER_DAY).rooms, ==, 1);
  again = claim (fx, "QUIET");
  g_assert_cmpstr (again, ==, "QUIET");
  g_assert_cmpuint (post_new (fx, alice, "busy", 2), ==, 2);
}

static void
test_reopen (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) room = NULL;
  const char *to_bob[] = { "bob" };
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);
  gint64 uid = 0;
  guint64 sender_seq = 0, seqs[1] = { 0, };

  post_new (fx, alice, "lobby", 1);
  post_new (fx, alice, "lobby", 2);
  send_direct (fx, alice, &bob, to_bob, 1, 3, NULL, NULL);
  g_assert_true (quipu_store_set_delivered (fx->store, bob, 1, &error));

  reopen (fx, NULL);

  g_assert_true (quipu_store_lookup_user (fx->store, "bob", &uid, NULL, NULL, &error));
  g_assert_cmpint (uid, ==, bob);
  g_assert_cmpuint (quipu_store_get_delivered (fx->store, bob, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_true (post (fx, alice, "lobby", 2, &sender_seq));
  g_assert_cmpuint (sender_seq, ==, 2);
  g_assert_cmpuint (post_new (fx, alice, "lobby", 4), ==, 3);
  send_direct (fx, alice, &bob, to_bob, 1, 5, &sender_seq, seqs);
  g_assert_cmpuint (sender_seq, ==, 2);
  g_assert_cmpuint (seqs[0], ==, 2);

  room = fetch (fx, "lobby", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (room, 1, 3);
}

static void
test_schema_version (Fixture       *fx,
                     gconstpointer  data)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  /* Two migrations so far (2: users.last_seen, rooms.claimed); a new one
   * must update this test on purpose. */
  g_assert_cmpint (quipu_store_schema_version (fx->store), ==, 2);

  g_assert_cmpint (sqlite3_open (fx->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, quipu_store_schema_version (fx->store));
  sqlite3_finalize (stmt);
  sqlite3_close (db);

  reopen (fx, NULL);
  g_assert_cmpint (quipu_store_schema_version (fx->store), ==, 2);
}

/* A database written by the first release (schema 1, real data from a real
 * server: tests/data/quipu-db-v1.sql) opens with this one, migrated to the
 * latest schema with every user, room, message and inbox entry intact. */
static void
test_migrate_from_v1 (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "quipu-db-v1.sql", NULL);
  g_autofree char *sql = NULL;
  g_autofree char *display = NULL;
  g_autofree char *spelling = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lobby = NULL;
  g_autoptr(GPtrArray) kitchen = NULL;
  g_autoptr(GPtrArray) inbox = NULL;
  g_auto(GStrv) rooms = NULL;
  guint8 key[QUIPU_KEY_SIZE];
  gint64 alice = 0, uid = 0;
  sqlite3 *db = NULL;
  QuipuStoredMessage *msg;

  g_assert_true (g_file_get_contents (fixture, &sql, NULL, &error));
  g_assert_no_error (error);

  /* The fixture goes into a fresh file, then the store opens it. */
  g_clear_pointer (&fx->store, quipu_store_free);
  g_assert_cmpint (g_unlink (fx->path), ==, 0);
  g_assert_cmpint (sqlite3_open (fx->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  fx->store = open_store (fx->path, NULL);
  g_assert_cmpint (quipu_store_schema_version (fx->store), ==, 2);

  /* Names: the key still owns the name, under its first spelling. */
  g_assert_true (quipu_store_lookup_user (fx->store, "ALICE", &alice, &display, key, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (display, ==, "Alice");
  g_clear_pointer (&display, g_free);
  g_assert_cmpint (quipu_store_register_user (fx->store, "alice", key, &uid, &display, &error),
                   ==, QUIPU_REGISTER_KNOWN);
  g_assert_no_error (error);
  g_assert_cmpint (uid, ==, alice);
  key[0] ^= 1;
  g_assert_cmpint (quipu_store_register_user (fx->store, "Alice", key, &uid, NULL, &error),
                   ==, QUIPU_REGISTER_TAKEN);
  g_assert_no_error (error);

  /* Rooms and their messages, signatures included. */
  lobby = fetch (fx, "lobby", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (lobby, 1, 3);
  msg = g_ptr_array_index (lobby, 0);
  g_assert_cmpstr (msg->sender, ==, "Alice");
  g_assert_cmpstr (msg->room, ==, "Lobby");
  g_assert_cmpstr (msg->body, ==, "first words in the lobby");
  g_assert_cmpuint (msg->signature[0], ==, 0xa9);
  g_assert_cmpuint (msg->signature[63], ==, 0x0b);
  g_assert_cmpstr (((QuipuStoredMessage *) g_ptr_array_index (lobby, 1))->sender, ==, "bob");
  g_assert_cmpstr (((QuipuStoredMessage *) g_ptr_array_index (lobby, 2))->body, ==,
                   "\xc3\xbcn\xc3\xaf\x63\xc3\xb6\x64\xc3\xa9 \xe2\x9c\x93 and a 'quote'");
  kitchen = fetch (fx, "Kitchen", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (kitchen, 1, 1);
  rooms = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (rooms, ((const char *[]) { "Lobby", "Kitchen", NULL }));
  spelling = quipu_store_claim_room (fx->store, "LOBBY", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (spelling, ==, "Lobby");

  /* The inbox and what had been delivered from it. */
  inbox = fetch (fx, NULL, alice, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (inbox, 1, 1);
  msg = g_ptr_array_index (inbox, 0);
  g_assert_cmpstr (msg->sender, ==, "bob");
  g_assert_cmpstrv (msg->recipients, ((const char *[]) { "Alice", NULL }));
  g_assert_cmpuint (quipu_store_get_delivered (fx->store, alice, &error), ==, 1);
  g_assert_no_error (error);

  /* And it goes on where it stopped. */
  g_assert_cmpuint (post_new (fx, alice, "Lobby", 1), ==, 4);
}

static void
test_open_newer_schema (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  sqlite3 *db = NULL;

  g_clear_pointer (&fx->store, quipu_store_free);
  g_assert_cmpint (sqlite3_open (fx->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 7", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_assert_null (quipu_store_open (fx->path, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER);
  expected = g_strdup_printf ("database %s has schema version 7; this quipu-server knows up to 2",
                              fx->path);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_open_missing_dir (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "missing", "quipu.db", NULL);
  g_autofree char *expected = g_strdup_printf ("cannot open database %s: %s",
                                               path, g_strerror (ENOENT));

  g_assert_null (quipu_store_open (path, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_open_not_a_database (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "notes.txt", NULL);
  g_autofree char *expected = g_strdup_printf ("database %s: file is not a database", path);

  g_assert_true (g_file_set_contents (path, "these are notes, not a database\n", -1, &error));
  g_assert_null (quipu_store_open (path, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SERVER);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_open_private (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "private.db", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autoptr(QuipuStore) store = NULL;
  mode_t old_mask = umask (0);
  GStatBuf st;

  store = open_store (path, NULL);
  umask (old_mask);

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (wal, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
test_batch_commit (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = register_new (fx, "alice", 1);

  g_assert_true (quipu_store_begin (fx->store, &error));
  for (guint64 i = 1; i <= 5; i++)
    g_assert_cmpuint (post_new (fx, alice, "lobby", i), ==, i);
  g_assert_true (quipu_store_commit (fx->store, &error));
  g_assert_no_error (error);

  reopen (fx, NULL);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 5);
  g_assert_no_error (error);
}

static void
test_batch_rollback (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) room = NULL;
  g_auto(GStrv) rooms = NULL;
  const char *to_bob[] = { "bob" };
  gint64 alice = register_new (fx, "alice", 1);
  gint64 bob = register_new (fx, "bob", 2);

  post_new (fx, alice, "lobby", 1);

  g_assert_true (quipu_store_begin (fx->store, &error));
  post_new (fx, alice, "lobby", 2);
  post_new (fx, alice, "kitchen", 3);
  send_direct (fx, alice, &bob, to_bob, 1, 4, NULL, NULL);
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 2);
  quipu_store_rollback (fx->store);

  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 1);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, bob, &error), ==, 0);
  g_assert_no_error (error);
  rooms = quipu_store_list_rooms (fx->store, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (rooms, ((const char *[]) { "lobby", NULL }));

  /* The discarded ids are free again. */
  g_assert_cmpuint (post_new (fx, alice, "lobby", 2), ==, 2);
  room = fetch (fx, "lobby", 0, QUIPU_FETCH_AFTER, 0, 10, NULL);
  assert_seqs (room, 1, 2);
}

static void
test_batch_failed_call (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint8 signature[QUIPU_SIGNATURE_SIZE] = { 0, };
  gint64 alice = register_new (fx, "alice", 1);
  const gint64 ghost = 999;
  const char *names[] = { "ghost" };

  g_assert_true (quipu_store_begin (fx->store, &error));
  post_new (fx, alice, "lobby", 1);
  g_assert_false (quipu_store_add_direct_message (fx->store, alice, &ghost, names, 1, 2, "x", 1,
                                                  signature, NULL, NULL, NULL, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT);
  g_clear_error (&error);
  post_new (fx, alice, "lobby", 3);
  g_assert_true (quipu_store_commit (fx->store, &error));
  g_assert_no_error (error);

  /* Only the failed call was undone. */
  g_assert_cmpuint (quipu_store_room_last_seq (fx->store, "lobby", &error), ==, 2);
  g_assert_cmpuint (quipu_store_inbox_last_seq (fx->store, alice, &error), ==, 0);
  g_assert_no_error (error);
}

/* Measurements, run with -m perf. */

static void
fill_room (Fixture *fx,
           gint64   sender,
           guint64  count)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (quipu_store_begin (fx->store, &error));
  for (guint64 i = 1; i <= count; i++)
    post_new (fx, sender, "lobby", i);
  g_assert_true (quipu_store_commit (fx->store, &error));
  g_assert_no_error (error);
}

static void
test_perf_insert (Fixture       *fx,
                  gconstpointer  data)
{
  const QuipuStoreOptions options = { .synchronous_full = GPOINTER_TO_INT (data) };
  const guint64 count = 10000;
  g_autoptr(GTimer) timer = NULL;
  gint64 alice;

  reopen (fx, &options);
  alice = register_new (fx, "alice", 1);

  timer = g_timer_new ();
  fill_room (fx, alice, count);
  g_test_minimized_result (g_timer_elapsed (timer, NULL),
                           "%" G_GUINT64_FORMAT " room messages in one batch, synchronous=%s: "
                           "%.0f inserts/s", count, options.synchronous_full ? "FULL" : "NORMAL",
                           count / g_timer_elapsed (timer, NULL));

  g_timer_start (timer);
  for (guint64 i = 1; i <= 200; i++)
    post_new (fx, alice, "lobby", count + i);
  g_test_minimized_result (g_timer_elapsed (timer, NULL),
                           "200 room messages, one transaction each, synchronous=%s: "
                           "%.0f inserts/s", options.synchronous_full ? "FULL" : "NORMAL",
                           200 / g_timer_elapsed (timer, NULL));
}

static void
test_perf_fetch (Fixture       *fx,
                 gconstpointer  data)
{
  const guint64 count = 100000;
  const guint rounds = 100;
  g_autoptr(GTimer) timer = NULL;
  gint64 alice = register_new (fx, "alice", 1);
  gboolean more = FALSE;

  fill_room (fx, alice, count);
  reopen (fx, NULL);

  timer = g_timer_new ();
  {
    g_autoptr(GPtrArray) first = fetch (fx, "lobby", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 200, &more);

    g_test_minimized_result (g_timer_elapsed (timer, NULL) * 1e3,
                             "first fetch of the latest 200 of %" G_GUINT64_FORMAT ": %.3f ms",
                             count, g_timer_elapsed (timer, NULL) * 1e3);
    assert_seqs (first, count - 199, count);
    g_assert_true (more);
  }

  g_timer_start (timer);
  for (guint i = 0; i < rounds; i++)
    {
      g_autoptr(GPtrArray) page = fetch (fx, "lobby", 0, QUIPU_FETCH_BEFORE, G_MAXINT64, 200, &more);

      g_assert_cmpuint (page->len, ==, 200);
    }
  g_test_minimized_result (g_timer_elapsed (timer, NULL) * 1e3 / rounds,
                           "warm fetch of the latest 200 of %" G_GUINT64_FORMAT ": %.3f ms",
                           count, g_timer_elapsed (timer, NULL) * 1e3 / rounds);
}

#define add_test(path, func, data) \
  g_test_add ("/quipu/store/" path, Fixture, data, fixture_setup, func, fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add_test ("registry/new-known-taken", test_registry_new_known_taken, NULL);
  add_test ("registry/folding", test_registry_folding, NULL);
  add_test ("registry/fullwidth", test_registry_fullwidth, NULL);
  add_test ("registry/lookup", test_registry_lookup, NULL);
  add_test ("registry/bad-name", test_registry_bad_name, NULL);
  add_test ("room/sequences", test_room_sequences, NULL);
  add_test ("room/folded-name", test_room_folded_name, NULL);
  add_test ("room/first-spelling", test_room_first_spelling, NULL);
  add_test ("room/claim-bad-name", test_room_claim_bad_name, NULL);
  add_test ("room/duplicate", test_room_duplicate, NULL);
  add_test ("room/reused-id", test_room_reused_id, NULL);
  add_test ("room/unknown-sender", test_room_unknown_sender, NULL);
  add_test ("direct/inboxes", test_direct_inboxes, NULL);
  add_test ("direct/self-and-repeats", test_direct_self_and_repeats, NULL);
  add_test ("direct/duplicate", test_direct_duplicate, NULL);
  add_test ("direct/bad-recipients", test_direct_bad_recipients, NULL);
  add_test ("fetch/edges", test_fetch_edges, NULL);
  add_test ("fetch/unknown", test_fetch_unknown, NULL);
  add_test ("fetch/round-trip", test_fetch_round_trip, NULL);
  add_test ("fetch/inbox-order", test_fetch_inbox_order, NULL);
  add_test ("fetch/paging", test_fetch_paging, NULL);
  add_test ("delivered", test_delivered, NULL);
  add_test ("list-rooms", test_list_rooms, NULL);
  add_test ("prune/count", test_prune_count, NULL);
  add_test ("prune/age", test_prune_age, NULL);
  add_test ("prune/names", test_prune_names, NULL);
  add_test ("prune/inbox-count", test_prune_inbox_count, NULL);
  add_test ("prune/empty-rooms", test_prune_empty_rooms, NULL);
  add_test ("reopen", test_reopen, NULL);
  add_test ("schema-version", test_schema_version, NULL);
  add_test ("migrate/from-v1", test_migrate_from_v1, NULL);
  add_test ("open/newer-schema", test_open_newer_schema, NULL);
  add_test ("open/missing-dir", test_open_missing_dir, NULL);
  add_test ("open/not-a-database", test_open_not_a_database, NULL);
  add_test ("open/private", test_open_private, NULL);
  add_test ("batch/commit", test_batch_commit, NULL);
  add_test ("batch/rollback", test_batch_rollback, NULL);
  add_test ("batch/failed-call", test_batch_failed_call, NULL);

  if (g_test_perf ())
    {
      add_test ("perf/insert-full", test_perf_insert, GINT_TO_POINTER (TRUE));
      add_test ("perf/insert-normal", test_perf_insert, GINT_TO_POINTER (FALSE));
      add_test ("perf/fetch-latest", test_perf_fetch, NULL);
    }

  return g_test_run ();
}
