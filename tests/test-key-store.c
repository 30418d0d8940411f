#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libsecret/secret.h>

#include "quipu-key-store.h"
#include "quipu-test-util.h"

#define SCHEMA_NAME "io.github.quipuchat.Quipu"

/* Key file */

static QuipuIdentity *
load_file_ok (const char *path,
              gboolean    create,
              gboolean    expect_created)
{
  g_autoptr(GError) error = NULL;
  gboolean created = !expect_created;
  QuipuIdentity *identity;

  identity = quipu_key_store_load_file (path, create, &created, &error);
  g_assert_no_error (error);
  g_assert_true (QUIPU_IS_IDENTITY (identity));
  g_assert_true (created == expect_created);
  return identity;
}

static void
assert_load_file_fails (const char *path,
                        GQuark      domain,
                        int         code,
                        const char *message)
{
  g_autoptr(GError) error = NULL;
  gboolean created = TRUE;

  g_assert_null (quipu_key_store_load_file (path, TRUE, &created, &error));
  g_assert_error (error, domain, code);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_false (created);
}

static void
assert_mode (const char *path,
             guint       mode)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, mode);
}

static void
write_private_file (const char   *path,
                    const char   *contents,
                    gssize        len)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents_full (path, contents, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
  g_assert_no_error (error);
}

/* A fresh directory per test case, named after it. */
static char *
make_test_dir (void)
{
  char *dir = g_build_filename (g_get_user_data_dir (), g_test_get_path (), NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  return dir;
}

static char *
make_key_path (void)
{
  g_autofree char *dir = make_test_dir ();

  return g_build_filename (dir, "test.key", NULL);
}

static void
test_default_file (void)
{
  g_autofree char *path = quipu_key_store_default_file ("alice");
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "quipu", "identities",
                                                "alice.key", NULL);

  g_assert_cmpstr (path, ==, expected);
}

static void
test_file_create_and_reload (void)
{
  g_autofree char *path = quipu_key_store_default_file ("alice");
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *contents = NULL;
  g_autoptr(GDir) listing = NULL;
  QuipuIdentity *first;
  QuipuIdentity *second;

  first = load_file_ok (path, TRUE, TRUE);
  assert_mode (path, 0600);
  assert_mode (dir, 0700);
  assert_mode (parent, 0700);

  /* Nothing but the key itself: the temporary file was renamed. */
  listing = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (listing), ==, "alice.key");
  g_assert_null (g_dir_read_name (listing));

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_true (g_str_has_prefix (contents, "-----BEGIN PRIVATE KEY-----\n"));

  second = load_file_ok (path, TRUE, FALSE);
  g_assert_cmpstr (quipu_identity_get_user_id (second), ==, quipu_identity_get_user_id (first));
  g_assert_cmpmem (quipu_identity_get_public_key (second), QUIPU_KEY_SIZE,
                   quipu_identity_get_public_key (first), QUIPU_KEY_SIZE);

  g_assert_finalize_object (first);
  g_assert_finalize_object (second);
}

/* The file is standard PKCS#8: GnuTLS reads it as the same Ed25519 key. */
static void
test_file_is_pkcs8 (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *contents = NULL;
  gnutls_x509_privkey_t x509;
  gnutls_datum_t datum;
  gnutls_datum_t pub = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  QuipuIdentity *identity;
  gsize len;

  identity = load_file_ok (path, TRUE, TRUE);
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));

  g_assert_cmpint (gnutls_x509_privkey_init (&x509), ==, 0);
  datum.data = (unsigned char *) contents;
  datum.size = len;
  g_assert_cmpint (gnutls_x509_privkey_import_pkcs8 (x509, &datum, GNUTLS_X509_FMT_PEM,
                                                     NULL, GNUTLS_PKCS_PLAIN), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_get_pk_algorithm (x509), ==, GNUTLS_PK_EDDSA_ED25519);
  g_assert_cmpint (gnutls_x509_privkey_export_ecc_raw (x509, &curve, &pub, NULL, NULL), ==, 0);
  g_assert_cmpint (curve, ==, GNUTLS_ECC_CURVE_ED25519);
  g_assert_cmpmem (pub.data, pub.size, quipu_identity_get_public_key (identity), QUIPU_KEY_SIZE);

  gnutls_free (pub.data);
  gnutls_x509_privkey_deinit (x509);
  g_assert_finalize_object (identity);
}

static void
test_file_world_readable (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *message = NULL;
  QuipuIdentity *identity = load_file_ok (path, TRUE, TRUE);

  g_assert_finalize_object (identity);
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);

  message = g_strdup_printf ("identity file %s is accessible by others (mode 0644); "
                             "run: chmod 600 %s", path, path);
  assert_load_file_fails (path, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, message);

  /* Group access alone is refused too, and the file is left alone. */
  g_assert_cmpint (g_chmod (path, 0620), ==, 0);
  g_clear_pointer (&message, g_free);
  message = g_strdup_printf ("identity file %s is accessible by others (mode 0620); "
                             "run: chmod 600 %s", path, path);
  assert_load_file_fails (path, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, message);
  assert_mode (path, 0620);
}

static void
test_file_hint_quotes_path (void)
{
  g_autofree char *test_dir = make_test_dir ();
  g_autofree char *dir = g_build_filename (test_dir, "my keys", NULL);
  g_autofree char *path = g_build_filename (dir, "test.key", NULL);
  g_autofree char *message = NULL;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  write_private_file (path, "x", -1);
  g_assert_cmpint (g_chmod (path, 0640), ==, 0);

  message = g_strdup_printf ("identity file %s is accessible by others (mode 0640); "
                             "run: chmod 600 '%s'", path, path);
  assert_load_file_fails (path, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, message);
}

static void
test_file_garbage (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *message = g_strdup_printf ("identity file %s does not hold an Ed25519 private key",
                                              path);

  write_private_file (path, "this is not a key\n", -1);
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);

  write_private_file (path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", -1);
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);

  write_private_file (path, "", 0);
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);
}

static void
write_generated_key (const char           *path,
                     gnutls_pk_algorithm_t algorithm,
                     unsigned int          bits)
{
  gnutls_x509_privkey_t x509;
  gnutls_datum_t pem = { NULL, 0 };

  g_assert_cmpint (gnutls_x509_privkey_init (&x509), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (x509, algorithm, bits, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_PEM, NULL,
                                                      GNUTLS_PKCS_PLAIN, &pem), ==, 0);
  write_private_file (path, (const char *) pem.data, pem.size);

  gnutls_free (pem.data);
  gnutls_x509_privkey_deinit (x509);
}

static void
test_file_other_key_types (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *message = g_strdup_printf ("identity file %s does not hold an Ed25519 private key",
                                              path);

  write_generated_key (path, GNUTLS_PK_RSA, 2048);
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);

  write_generated_key (path, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1));
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);

  /* Ed448 is EdDSA too, but not ours. */
  write_generated_key (path, GNUTLS_PK_EDDSA_ED448, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_ED448));
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);
}

static void
test_file_too_large (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *contents = g_strnfill (16 * 1024 + 1, 'k');
  g_autofree char *message = g_strdup_printf ("identity file %s is larger than 16 KiB", path);

  write_private_file (path, contents, -1);
  assert_load_file_fails (path, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY, message);
}

static void
test_file_not_regular (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *message = g_strdup_printf ("identity file %s is not a regular file", path);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  assert_load_file_fails (path, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, message);
  g_assert_cmpint (g_rmdir (path), ==, 0);

  /* A FIFO must be refused without blocking on it. */
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  assert_load_file_fails (path, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, message);
}

static void
test_file_not_owned (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *message = NULL;
  QuipuIdentity *identity;

  if (geteuid () != 0)
    {
      g_test_skip ("giving a file away needs root");
      return;
    }

  identity = load_file_ok (path, TRUE, TRUE);
  g_assert_finalize_object (identity);
  g_assert_cmpint (chown (path, 65534, 65534), ==, 0);

  message = g_strdup_printf ("identity file %s is owned by uid 65534, not by the current user (uid 0)",
                             path);
  assert_load_file_fails (path, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, message);
}

static void
test_file_missing (void)
{
  g_autofree char *path = make_key_path ();
  g_autofree char *message = g_strdup_printf ("identity file %s does not exist", path);
  g_autoptr(GError) error = NULL;
  gboolean created = TRUE;

  g_assert_null (quipu_key_store_load_file (path, FALSE, &created, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_false (created);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* Secret Service: these run inside tests/keyring-wrapper.sh, never against
 * a developer's real keyring, and never skip. */

static void
assert_private_keyring (void)
{
  if (g_getenv ("QUIPU_PRIVATE_KEYRING") == NULL)
    g_error ("run the Secret Service tests through tests/keyring-wrapper.sh");
  g_assert_true (quipu_key_store_secret_service_available ());
}

static QuipuIdentity *
load_secret_ok (const char *username,
                gboolean    expect_created)
{
  g_autoptr(GError) error = NULL;
  gboolean created = !expect_created;
  QuipuIdentity *identity;

  identity = quipu_key_store_load_secret (username, TRUE, &created, &error);
  g_assert_no_error (error);
  g_assert_true (QUIPU_IS_IDENTITY (identity));
  g_assert_true (created == expect_created);
  return identity;
}

/* Runs secret-tool; its output holds secrets, so it is never printed. */
static char *
secret_tool (const char * const *args)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  int status;

  g_strv_builder_add (builder, "secret-tool");
  g_strv_builder_addv (builder, (const char **) args);
  argv = g_strv_builder_end (builder);

  g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
  return out;
}

static guint
count_items (const char *search_output)
{
  g_auto(GStrv) lines = g_strsplit (search_output, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    n += lines[i][0] == '[';
  return n;
}

static void
assert_one_item (const char *username)
{
  const char *args[] = { "search", "--all", "username", username, NULL };
  g_autofree char *out = secret_tool (args);
  g_autofree char *label = g_strdup_printf ("\nlabel = Quipu identity for %s\n", username);

  g_assert_cmpuint (count_items (out), ==, 1);
  g_assert_nonnull (strstr (out, label));
  g_assert_nonnull (strstr (out, "\nschema = " SCHEMA_NAME "\n"));
}

static void
test_secret_create_and_reload (void)
{
  const char *lookup[] = { "lookup", "username", "alice", NULL };
  g_autofree char *stored = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GBytes) seed = NULL;
  QuipuIdentity *first;
  QuipuIdentity *second;

  assert_private_keyring ();

  first = load_secret_ok ("alice", TRUE);
  second = load_secret_ok ("alice", FALSE);
  g_assert_cmpstr (quipu_identity_get_user_id (second), ==, quipu_identity_get_user_id (first));

  assert_one_item ("alice");
  /* The secret is the base64 of the seed, as documented. */
  seed = quipu_identity_dup_seed (first);
  expected = g_base64_encode (g_bytes_get_data (seed, NULL), g_bytes_get_size (seed));
  stored = secret_tool (lookup);
  g_assert_true (g_str_equal (stored, expected));

  g_assert_finalize_object (first);
  g_assert_finalize_object (second);
}

static void
test_secret_two_users (void)
{
  const char *all[] = { "search", "--all", "xdg:schema", SCHEMA_NAME, NULL };
  g_autofree char *out = NULL;
  QuipuIdentity *bob;
  QuipuIdentity *carol;

  assert_private_keyring ();

  bob = load_secret_ok ("bob", TRUE);
  carol = load_secret_ok ("carol", TRUE);
  g_assert_cmpstr (quipu_identity_get_user_id (bob), !=, quipu_identity_get_user_id (carol));

  assert_one_item ("bob");
  assert_one_item ("carol");
  out = secret_tool (all);
  g_assert_nonnull (strstr (out, "\nlabel = Quipu identity for bob\n"));
  g_assert_nonnull (strstr (out, "\nlabel = Quipu identity for carol\n"));

  g_assert_finalize_object (bob);
  g_assert_finalize_object (carol);
}

static void
test_secret_missing (void)
{
  g_autoptr(GError) error = NULL;
  gboolean created = TRUE;

  assert_private_keyring ();

  g_assert_null (quipu_key_store_load_secret ("nobody", FALSE, &created, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no identity for nobody in the keyring");
  g_assert_false (created);
}

static void
test_secret_corrupt (void)
{
  static const SecretSchema schema = {
    SCHEMA_NAME, SECRET_SCHEMA_NONE,
    { { "username", SECRET_SCHEMA_ATTRIBUTE_STRING }, { NULL, 0 } },
  };
  g_autoptr(GError) error = NULL;
  gboolean created = TRUE;

  assert_private_keyring ();

  g_assert_true (secret_password_store_sync (&schema, SECRET_COLLECTION_DEFAULT, "damaged",
                                             "c2hvcnQ=", NULL, &error, "username", "dave", NULL));
  g_assert_no_error (error);

  g_assert_null (quipu_key_store_load_secret ("dave", TRUE, &created, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY);
  g_assert_cmpstr (error->message, ==, "the keyring item for dave does not hold a Quipu identity key");
  g_assert_false (created);
  g_clear_error (&error);

  /* The right length, but not base64. */
  g_assert_true (secret_password_store_sync (&schema, SECRET_COLLECTION_DEFAULT, "damaged",
                                             "********************************************",
                                             NULL, &error, "username", "erin", NULL));
  g_assert_no_error (error);
  g_assert_null (quipu_key_store_load_secret ("erin", TRUE, &created, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY);
  g_assert_cmpstr (error->message, ==, "the keyring item for erin does not hold a Quipu identity key");
}


/* Async API. A result arrives through the default main context;
 * `iterations` counts the loop's turns until it did. A call that blocked
 * and then completed would take one turn; talking to a Secret Service
 * without blocking takes one per D-Bus round trip at least. */

typedef struct {
  GAsyncResult *result;
  guint         iterations;
  guint         ticks;
} Wait;

static void
got_result (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Wait *wait = user_data;

  g_assert_null (wait->result);
  wait->result = g_object_ref (result);
}

static gboolean
count_tick (gpointer user_data)
{
  ((Wait *) user_data)->ticks++;
  return G_SOURCE_CONTINUE;
}

static GAsyncResult *
wait_for_result (Wait *wait)
{
  gint64 deadline = g_get_monotonic_time () + QUIPU_TEST_WAIT_US;
  guint tick_id = quipu_test_start_ticker ();

  while (wait->result == NULL && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, TRUE);
      wait->iterations++;
    }
  g_source_remove (tick_id);
  g_assert_nonnull (wait->result);
  return wait->result;
}

static void
wait_clear (Wait *wait)
{
  g_clear_object (&wait->result);
  wait->iterations = 0;
  wait->ticks = 0;
}

static QuipuIdentity *
load_or_create_async_ok (const char *username,
                         const char *path,
                         gboolean    expect_created,
                         const char *expect_file,
                         guint      *iterations)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  gboolean created = !expect_created;
  Wait wait = { 0 };
  QuipuIdentity *identity;

  quipu_key_store_load_or_create_async (username, path, NULL, got_result, &wait);
  g_assert_null (wait.result);   /* never completes inside the call */
  identity = quipu_key_store_load_or_create_finish (wait_for_result (&wait), &created, &file, &error);
  g_assert_no_error (error);
  g_assert_true (QUIPU_IS_IDENTITY (identity));
  g_assert_true (created == expect_created);
  g_assert_cmpstr (file, ==, expect_file);
  if (iterations != NULL)
    *iterations = wait.iterations;
  wait_clear (&wait);
  return identity;
}

static gboolean
store_async (QuipuIdentity  *identity,
             const char     *username,
             const char     *path,
             char          **file,
             GError        **error)
{
  Wait wait = { 0 };
  gboolean stored;

  quipu_key_store_store_async (identity, username, path, NULL, got_result, &wait);
  stored = quipu_key_store_store_finish (wait_for_result (&wait), file, error);
  wait_clear (&wait);
  return stored;
}

static QuipuIdentity *
lookup_async (const char  *username,
              const char  *path,
              GError     **error)
{
  Wait wait = { 0 };
  QuipuIdentity *identity;

  quipu_key_store_lookup_async (username, path, NULL, got_result, &wait);
  identity = quipu_key_store_lookup_finish (wait_for_result (&wait), NULL, error);
  wait_clear (&wait);
  return identity;
}

static gboolean
delete_async (const char  *username,
              const char  *path,
              GError     **error)
{
  Wait wait = { 0 };
  gboolean deleted;

  quipu_key_store_delete_async (username, path, NULL, got_result, &wait);
  deleted = quipu_key_store_delete_finish (wait_for_result (&wait), error);
  wait_clear (&wait);
  return deleted;
}

static void
assert_same_identity (QuipuIdentity *a,
                      QuipuIdentity *b)
{
  g_assert_cmpstr (quipu_identity_get_user_id (a), ==, quipu_identity_get_user_id (b));
  g_assert_cmpmem (quipu_identity_get_public_key (a), QUIPU_KEY_SIZE,
                   quipu_identity_get_public_key (b), QUIPU_KEY_SIZE);
}

/* The real keyring: the loop keeps running while libsecret talks to it,
 * and what the async calls store the sync ones read back. */
static void
test_async_keyring_load_or_create (void)
{
  g_autoptr(GError) error = NULL;
  QuipuIdentity *first;
  QuipuIdentity *second;
  QuipuIdentity *sync;
  guint iterations = 0;

  assert_private_keyring ();

  first = load_or_create_async_ok ("fay", NULL, TRUE, NULL, &iterations);
  g_test_message ("%u main-loop iterations while the keyring created an identity", iterations);
  g_assert_cmpuint (iterations, >=, 3);
  second = load_or_create_async_ok ("fay", NULL, FALSE, NULL, &iterations);
  g_test_message ("%u main-loop iterations while the keyring looked it up", iterations);
  g_assert_cmpuint (iterations, >=, 3);
  assert_same_identity (first, second);
  assert_one_item ("fay");

  sync = quipu_key_store_load_secret ("fay", FALSE, NULL, &error);
  g_assert_no_error (error);
  assert_same_identity (first, sync);
  /* No key file appeared next to the keyring item. */
  {
    g_autofree char *path = quipu_key_store_default_file ("fay");

    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  }

  g_assert_finalize_object (first);
  g_assert_finalize_object (second);
  g_assert_finalize_object (sync);
}

static void
test_async_keyring_store_lookup_delete (void)
{
  g_autoptr(QuipuIdentity) mine = quipu_test_identity_from_seed (0x11);
  g_autoptr(QuipuIdentity) other = quipu_test_identity_from_seed (0x22);
  g_autoptr(QuipuIdentity) found = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *message = NULL;

  assert_private_keyring ();

  found = lookup_async ("gus", NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no identity for gus in the keyring");
  g_assert_null (found);
  g_clear_error (&error);

  g_assert_true (store_async (mine, "gus", NULL, &file, &error));
  g_assert_no_error (error);
  g_assert_null (file);
  found = lookup_async ("gus", NULL, &error);
  g_assert_no_error (error);
  assert_same_identity (found, mine);
  g_clear_object (&found);

  /* The same one again changes nothing; another one is refused. */
  g_assert_true (store_async (mine, "gus", NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (store_async (other, "gus", NULL, NULL, &error));
  message = g_strdup_printf ("gus already has another identity (user id %s) in the keyring; "
                             "it was left alone", quipu_identity_get_user_id (mine));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_cmpstr (error->message, ==, message);
  g_clear_error (&error);
  assert_one_item ("gus");
  found = lookup_async ("gus", NULL, &error);
  g_assert_no_error (error);
  assert_same_identity (found, mine);
  g_clear_object (&found);

  g_assert_true (delete_async ("gus", NULL, &error));
  g_assert_no_error (error);
  g_assert_null (lookup_async ("gus", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (delete_async ("gus", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_async_file_explicit (void)
{
  g_autofree char *path = make_key_path ();
  g_autoptr(QuipuIdentity) mine = quipu_test_identity_from_seed (0x33);
  g_autoptr(QuipuIdentity) other = quipu_test_identity_from_seed (0x44);
  g_autoptr(QuipuIdentity) found = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *message = NULL;
  QuipuIdentity *created;
  QuipuIdentity *loaded;

  /* An explicit file wins over the keyring that is there. */
  created = load_or_create_async_ok ("hal", path, TRUE, path, NULL);
  assert_mode (path, 0600);
  loaded = load_or_create_async_ok ("hal", path, FALSE, path, NULL);
  assert_same_identity (created, loaded);
  g_assert_finalize_object (created);
  g_assert_finalize_object (loaded);

  g_assert_true (delete_async ("hal", path, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_null (lookup_async ("hal", path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (store_async (mine, "hal", path, &file, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (file, ==, path);
  assert_mode (path, 0600);
  found = lookup_async ("hal", path, &error);
  g_assert_no_error (error);
  assert_same_identity (found, mine);

  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));
  g_assert_false (store_async (other, "hal", path, NULL, &error));
  message = g_strdup_printf ("hal already has another identity (user id %s) in %s; it was left alone",
                             quipu_identity_get_user_id (mine), path);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
}

static void
test_async_cancelled (void)
{
  g_autofree char *path = make_key_path ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Wait wait = { 0 };

  quipu_key_store_load_or_create_async ("ida", path, cancellable, got_result, &wait);
  g_cancellable_cancel (cancellable);
  g_assert_null (quipu_key_store_load_or_create_finish (wait_for_result (&wait), NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  wait_clear (&wait);
}

/* A session bus of our own, in a subprocess (GDBus and libsecret keep the
 * first bus they see for the life of a process), with an optional
 * activatable org.freedesktop.secrets that runs @service_exec. */
typedef struct {
  GTestDBus *bus;
  char      *dir;
} PrivateBus;

static void
private_bus_start (PrivateBus *bus,
                   const char *service_exec)
{
  g_autoptr(GError) error = NULL;

  bus->dir = g_dir_make_tmp ("quipu-bus-XXXXXX", &error);
  g_assert_no_error (error);
  bus->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  if (service_exec != NULL)
    {
      g_autofree char *service = g_strdup_printf ("[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s\n",
                                                  service_exec);
      g_autofree char *service_path = g_build_filename (bus->dir, "secrets.service", NULL);

      g_assert_true (g_file_set_contents (service_path, service, -1, NULL));
      g_test_dbus_add_service_dir (bus->bus, bus->dir);
    }
  g_test_dbus_up (bus->bus);
}

/* Stops the bus without g_test_dbus_down(), which would wait for the
 * connection that libsecret keeps for the life of the process. */
static void
private_bus_stop (PrivateBus *bus)
{
  g_test_dbus_stop (bus->bus);
  quipu_test_remove_tree (bus->dir);
  g_free (bus->dir);
}

static gboolean
secret_service_available_async (void)
{
  g_autoptr(GError) error = NULL;
  Wait wait = { 0 };
  gboolean available;

  quipu_key_store_secret_service_available_async (NULL, got_result, &wait);
  available = quipu_key_store_secret_service_available_finish (wait_for_result (&wait), &error);
  g_assert_no_error (error);
  wait_clear (&wait);
  return available;
}

/* No Secret Service on the bus: a 0600 key file, made in one step. */
static void
test_async_fallback_no_service (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *path = quipu_key_store_default_file ("jon");
      PrivateBus bus;
      QuipuIdentity *created;
      QuipuIdentity *loaded;

      private_bus_start (&bus, NULL);
      g_assert_false (secret_service_available_async ());
      g_assert_false (quipu_key_store_secret_service_available ());
      created = load_or_create_async_ok ("jon", NULL, TRUE, path, NULL);
      assert_mode (path, 0600);
      loaded = load_or_create_async_ok ("jon", NULL, FALSE, path, NULL);
      assert_same_identity (created, loaded);
      g_assert_finalize_object (created);
      g_assert_finalize_object (loaded);
      private_bus_stop (&bus);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* No session bus at all (and none autolaunched): the key file too. */
static void
test_async_fallback_no_bus (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *path = quipu_key_store_default_file ("kit");
      g_autofree char *runtime = make_test_dir ();
      QuipuIdentity *created;

      g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
      g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
      g_assert_false (secret_service_available_async ());
      created = load_or_create_async_ok ("kit", NULL, TRUE, path, NULL);
      assert_mode (path, 0600);
      g_assert_finalize_object (created);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A Secret Service that is activatable but slow to come up (as inside a
 * Flatpak sandbox, where the name is not owned until first used): the key
 * store waits for it with the loop running, and never falls back to a
 * key file, which would give the person a second key. */
static void
test_async_slow_service (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *path = quipu_key_store_default_file ("liv");
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *file = NULL;
      PrivateBus bus;
      Wait wait = { 0 };
      guint tick_id;

      /* Started on demand, it never takes the name. */
      private_bus_start (&bus, "/bin/sh -c \"exec sleep 5 </dev/null >/dev/null 2>&1\"");
      g_assert_true (secret_service_available_async ());

      quipu_key_store_load_or_create_async ("liv", NULL, cancellable, got_result, &wait);
      tick_id = g_timeout_add (10, count_tick, &wait);
      QUIPU_TEST_WAIT_FOR (wait.ticks >= 20);
      g_source_remove (tick_id);
      g_test_message ("a 10 ms timer fired %u times while the Secret Service started", wait.ticks);
      g_assert_null (wait.result);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

      g_cancellable_cancel (cancellable);
      g_assert_null (quipu_key_store_load_or_create_finish (wait_for_result (&wait), NULL, &file, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (file);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
      wait_clear (&wait);
      private_bus_stop (&bus);
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Export and import */

static void
test_export_import_round_trip (void)
{
  g_autofree char *dir = make_test_dir ();
  g_autofree char *path = g_build_filename (dir, "me.quipu-identity", NULL);
  g_autoptr(QuipuIdentity) identity = quipu_test_identity_from_seed (0x55);
  g_autoptr(QuipuIdentity) imported = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GBytes) seed = quipu_identity_dup_seed (identity);
  g_autofree char *seed_b64 = g_base64_encode (g_bytes_get_data (seed, NULL), g_bytes_get_size (seed));
  mode_t old_umask;

  /* 0600 whatever the umask says. */
  old_umask = umask (022);
  g_assert_true (quipu_key_store_export (identity, path, "correct horse", &error));
  umask (old_umask);
  g_assert_no_error (error);
  assert_mode (path, 0600);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_true (g_str_has_prefix (contents, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
  /* The seed is not in it in the clear. */
  g_assert_null (strstr (contents, seed_b64));

  imported = quipu_key_store_import (path, "correct horse", &error);
  g_assert_no_error (error);
  assert_same_identity (imported, identity);
}

/* The export is standard: GnuTLS opens it as PBES2 with AES-256. */
static void
test_export_is_pkcs8_aes256 (void)
{
  g_autoptr(QuipuIdentity) identity = quipu_test_identity_from_seed (0x66);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) pem = quipu_key_store_export_to_bytes (identity, "pw", &error);
  gnutls_datum_t datum, pub = { NULL, 0 };
  gnutls_x509_privkey_t x509;
  gnutls_ecc_curve_t curve;
  unsigned int schema = 0;
  unsigned int cipher = 0;
  unsigned int iterations = 0;
  char *oid = NULL;

  g_assert_no_error (error);
  datum.data = (unsigned char *) g_bytes_get_data (pem, NULL);
  datum.size = g_bytes_get_size (pem);
  g_assert_cmpint (gnutls_pkcs8_info (&datum, GNUTLS_X509_FMT_PEM, &schema, &cipher, NULL, NULL,
                                      &iterations, &oid), ==, 0);
  g_test_message ("PBKDF2 iterations: %u", iterations);
  g_assert_cmpuint (schema, ==, GNUTLS_PKCS_PBES2_AES_256);
  g_assert_cmpuint (cipher, ==, GNUTLS_CIPHER_AES_256_CBC);
  g_assert_cmpuint (iterations, >=, 10000);
  gnutls_free (oid);

  g_assert_cmpint (gnutls_x509_privkey_init (&x509), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_import_pkcs8 (x509, &datum, GNUTLS_X509_FMT_PEM, "pw", 0), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_export_ecc_raw (x509, &curve, &pub, NULL, NULL), ==, 0);
  g_assert_cmpint (curve, ==, GNUTLS_ECC_CURVE_ED25519);
  g_assert_cmpmem (pub.data, pub.size, quipu_identity_get_public_key (identity), QUIPU_KEY_SIZE);
  gnutls_free (pub.data);
  gnutls_x509_privkey_deinit (x509);
}

static void
test_import_wrong_passphrase (void)
{
  g_autofree char *dir = make_test_dir ();
  g_autofree char *path = g_build_filename (dir, "me.quipu-identity", NULL);
  g_autofree char *message = g_strdup_printf ("%s: wrong passphrase", path);
  g_autoptr(QuipuIdentity) identity = quipu_test_identity_from_seed (0x77);
  g_autoptr(GError) error = NULL;

  g_assert_true (quipu_key_store_export (identity, path, "right", &error));
  g_assert_no_error (error);

  g_assert_null (quipu_key_store_import (path, "wrong", &error));
  g_assert_error (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_WRONG_PASSPHRASE);
  g_assert_cmpstr (error->message, ==, message);
  g_clear_error (&error);
  g_assert_null (quipu_key_store_import (path, "Right", &error));
  g_assert_error (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_WRONG_PASSPHRASE);
}

static void
test_export_refusals (void)
{
  g_autofree char *dir = make_test_dir ();
  g_autofree char *path = g_build_filename (dir, "me.quipu-identity", NULL);
  g_autofree char *key_path = g_build_filename (dir, "plain.key", NULL);
  g_autofree char *exists = g_strdup_printf ("%s already exists", path);
  g_autofree char *plain = g_strdup_printf ("%s: not a passphrase-protected identity "
                                            "(ENCRYPTED PRIVATE KEY)", key_path);
  g_autoptr(QuipuIdentity) identity = quipu_test_identity_from_seed (0x12);
  g_autoptr(QuipuIdentity) other = quipu_test_identity_from_seed (0x34);
  g_autoptr(QuipuIdentity) imported = NULL;
  g_autoptr(GError) error = NULL;
  QuipuIdentity *plain_identity;

  /* No passphrase, no export. */
  g_assert_false (quipu_key_store_export (identity, path, "", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* An existing file is never replaced. */
  g_assert_true (quipu_key_store_export (identity, path, "pw", &error));
  g_assert_no_error (error);
  g_assert_false (quipu_key_store_export (other, path, "pw", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_cmpstr (error->message, ==, exists);
  g_clear_error (&error);
  imported = quipu_key_store_import (path, "pw", &error);
  g_assert_no_error (error);
  assert_same_identity (imported, identity);

  /* An unencrypted key file is not an export. */
  plain_identity = load_file_ok (key_path, TRUE, TRUE);
  g_assert_finalize_object (plain_identity);
  g_assert_null (quipu_key_store_import (key_path, "pw", &error));
  g_assert_error (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_NOT_AN_EXPORT);
  g_assert_cmpstr (error->message, ==, plain);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data_home = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  data_home = g_dir_make_tmp ("quipu-key-store-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);

  g_test_add_func ("/quipu/key-store/file/default-path", test_default_file);
  g_test_add_func ("/quipu/key-store/file/create-reload", test_file_create_and_reload);
  g_test_add_func ("/quipu/key-store/file/pkcs8", test_file_is_pkcs8);
  g_test_add_func ("/quipu/key-store/file/world-readable", test_file_world_readable);
  g_test_add_func ("/quipu/key-store/file/hint-quotes-path", test_file_hint_quotes_path);
  g_test_add_func ("/quipu/key-store/file/garbage", test_file_garbage);
  g_test_add_func ("/quipu/key-store/file/other-key-types", test_file_other_key_types);
  g_test_add_func ("/quipu/key-store/file/too-large", test_file_too_large);
  g_test_add_func ("/quipu/key-store/file/not-regular", test_file_not_regular);
  g_test_add_func ("/quipu/key-store/file/not-owned", test_file_not_owned);
  g_test_add_func ("/quipu/key-store/file/missing", test_file_missing);
  g_test_add_func ("/quipu/key-store/secret/create-reload", test_secret_create_and_reload);
  g_test_add_func ("/quipu/key-store/secret/two-users", test_secret_two_users);
  g_test_add_func ("/quipu/key-store/secret/missing", test_secret_missing);
  g_test_add_func ("/quipu/key-store/secret/corrupt", test_secret_corrupt);
  g_test_add_func ("/quipu/key-store/async/keyring/load-or-create", test_async_keyring_load_or_create);
  g_test_add_func ("/quipu/key-store/async/keyring/store-lookup-delete", test_async_keyring_store_lookup_delete);
  g_test_add_func ("/quipu/key-store/async/file/explicit", test_async_file_explicit);
  g_test_add_func ("/quipu/key-store/async/file/cancelled", test_async_cancelled);
  g_test_add_func ("/quipu/key-store/async/fallback/no-service", test_async_fallback_no_service);
  g_test_add_func ("/quipu/key-store/async/fallback/no-bus", test_async_fallback_no_bus);
  g_test_add_func ("/quipu/key-store/async/slow-service", test_async_slow_service);
  g_test_add_func ("/quipu/key-store/export/round-trip", test_export_import_round_trip);
  g_test_add_func ("/quipu/key-store/export/pkcs8-aes256", test_export_is_pkcs8_aes256);
  g_test_add_func ("/quipu/key-store/export/wrong-passphrase", test_import_wrong_passphrase);
  g_test_add_func ("/quipu/key-store/export/refusals", test_export_refusals);

  status = g_test_run ();
  quipu_test_remove_tree (data_home);
  return status;
}
