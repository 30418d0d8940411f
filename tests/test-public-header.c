/* Compiled with -Werror against protocol_public_dep alone: quipu.h must be
 * enough for an application, and must not drag in GnuTLS, the wire codec or
 * any other internal header. */

#include "config.h"

#include "quipu.h"

#ifdef GNUTLS_GNUTLS_H
#error "quipu.h pulls in <gnutls/gnutls.h>"
#endif
#if __has_include("quipu-wire.h") || __has_include("quipu-tls.h") || \
    __has_include("quipu-endpoint.h") || __has_include("quipu-signing.h") || \
    __has_include("quipu-message-private.h")
#error "an internal header of the protocol library is reachable"
#endif

static void
test_public_api (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuIdentity) identity = quipu_identity_new_random (&error);
  g_autoptr(QuipuClient) client = NULL;
  g_autofree char *name = NULL;
  g_autofree char *fold = NULL;
  guint8 digest[32];

  g_assert_no_error (error);
  client = quipu_client_new (identity, "alice");
  g_assert_cmpint (quipu_client_get_state (client), ==, QUIPU_STATE_DISCONNECTED);
  g_assert_cmpstr (quipu_client_get_user_id (client), ==, quipu_identity_get_user_id (identity));
  g_assert_cmpstr (quipu_state_to_string (QUIPU_STATE_CONNECTED), !=, NULL);
  g_assert_true (G_TYPE_IS_ENUM (QUIPU_TYPE_STATE));
  g_assert_true (G_TYPE_IS_ENUM (QUIPU_TYPE_TRUST_VIA));

  name = quipu_name_normalize ("Bob", &error);
  g_assert_no_error (error);
  fold = quipu_name_fold (name);
  g_assert_cmpstr (fold, ==, "bob");
  g_assert_cmpint (QUIPU_MAX_NAME_CHARS, >, 0);
  g_assert_cmpint (QUIPU_MAX_RECIPIENTS, >, 0);
  g_assert_cmpint (QUIPU_KEY_SIZE, ==, 32);

  g_assert_false (quipu_tls_fingerprint_parse ("SHA256:nonsense", digest, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/quipu/public-header/api", test_public_api);

  return g_test_run ();
}
