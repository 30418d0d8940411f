#include "config.h"

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

  status = g_test_run ();
  quipu_test_remove_tree (data_home);
  return status;
}
