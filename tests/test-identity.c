#include "config.h"

#include <string.h>

#include "quipu-identity.h"
#include "quipu-signing.h"
#include "quipu-test-frames.h"

/* RFC 8032 §7.1, TEST 1: the empty message. */
static const guint8 rfc8032_seed[QUIPU_SEED_SIZE] = {
  0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
  0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
static const guint8 rfc8032_public_key[QUIPU_KEY_SIZE] = {
  0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
  0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
};
static const guint8 rfc8032_signature[QUIPU_SIGNATURE_SIZE] = {
  0xe5, 0x56, 0x43, 0x00, 0xc3, 0x60, 0xac, 0x72, 0x90, 0x86, 0xe2, 0xcc, 0x80, 0x6e, 0x82, 0x8a,
  0x84, 0x87, 0x7f, 0x1e, 0xb8, 0xe5, 0xd9, 0x74, 0xd8, 0x73, 0xe0, 0x65, 0x22, 0x49, 0x01, 0x55,
  0x5f, 0xb8, 0x82, 0x15, 0x90, 0xa3, 0x3b, 0xac, 0xc6, 0x1e, 0x39, 0x70, 0x1c, 0xf9, 0xb4, 0x6b,
  0xd2, 0x5b, 0xf5, 0xf0, 0x59, 0x5b, 0xbe, 0x24, 0x65, 0x51, 0x41, 0x43, 0x8e, 0x7a, 0x10, 0x0b,
};
/* base32 of SHA-256(rfc8032_public_key)[0..10), computed independently. */
static const char rfc8032_user_id[] = "eh7ddx5bksrgcytl";

static const guint8 message[] = "hello, quipu";

static QuipuIdentity *
new_random_identity (void)
{
  g_autoptr(GError) error = NULL;
  QuipuIdentity *identity;

  identity = quipu_identity_new_random (&error);
  g_assert_no_error (error);
  g_assert_true (QUIPU_IS_IDENTITY (identity));
  return identity;
}

static void
sign_message (QuipuIdentity *identity,
              guint8         signature[QUIPU_SIGNATURE_SIZE])
{
  g_autoptr(GError) error = NULL;

  g_assert_true (quipu_identity_sign (identity, message, sizeof message, signature, &error));
  g_assert_no_error (error);
}

static void
test_rfc8032_vector (void)
{
  g_autoptr(GError) error = NULL;
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  QuipuIdentity *identity;

  identity = quipu_identity_new_from_seed (rfc8032_seed, sizeof rfc8032_seed, &error);
  g_assert_no_error (error);

  g_assert_cmpmem (quipu_identity_get_public_key (identity), QUIPU_KEY_SIZE,
                   rfc8032_public_key, sizeof rfc8032_public_key);
  g_assert_true (quipu_identity_sign (identity, NULL, 0, signature, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (signature, sizeof signature, rfc8032_signature, sizeof rfc8032_signature);
  g_assert_true (quipu_signature_verify (rfc8032_public_key, NULL, 0, rfc8032_signature));

  g_assert_finalize_object (identity);
}

static void
test_sign_verify_round_trip (void)
{
  QuipuIdentity *identity = new_random_identity ();
  guint8 signature[QUIPU_SIGNATURE_SIZE];

  sign_message (identity, signature);
  g_assert_true (quipu_signature_verify (quipu_identity_get_public_key (identity),
                                         message, sizeof message, signature));

  g_assert_finalize_object (identity);
}

static void
test_verify_flipped_data (void)
{
  QuipuIdentity *identity = new_random_identity ();
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  guint8 tampered[sizeof message];

  sign_message (identity, signature);
  for (gsize bit = 0; bit < 8 * sizeof message; bit += 7)
    {
      memcpy (tampered, message, sizeof message);
      tampered[bit / 8] ^= 1u << (bit % 8);
      g_assert_false (quipu_signature_verify (quipu_identity_get_public_key (identity),
                                              tampered, sizeof tampered, signature));
    }
  /* A truncated message is different data too. */
  g_assert_false (quipu_signature_verify (quipu_identity_get_public_key (identity),
                                          message, sizeof message - 1, signature));

  g_assert_finalize_object (identity);
}

static void
test_verify_flipped_signature (void)
{
  QuipuIdentity *identity = new_random_identity ();
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  guint8 tampered[QUIPU_SIGNATURE_SIZE];

  sign_message (identity, signature);
  for (gsize bit = 0; bit < 8 * QUIPU_SIGNATURE_SIZE; bit += 5)
    {
      memcpy (tampered, signature, sizeof signature);
      tampered[bit / 8] ^= 1u << (bit % 8);
      g_assert_false (quipu_signature_verify (quipu_identity_get_public_key (identity),
                                              message, sizeof message, tampered));
    }

  g_assert_finalize_object (identity);
}

static void
test_verify_other_key (void)
{
  QuipuIdentity *signer = new_random_identity ();
  QuipuIdentity *other = new_random_identity ();
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  guint8 not_a_point[QUIPU_KEY_SIZE];

  sign_message (signer, signature);
  g_assert_false (quipu_signature_verify (quipu_identity_get_public_key (other),
                                          message, sizeof message, signature));

  /* y = 2^255 - 1 is not a valid field element, so no curve point. */
  memset (not_a_point, 0xff, sizeof not_a_point);
  not_a_point[QUIPU_KEY_SIZE - 1] = 0x7f;
  g_assert_false (quipu_signature_verify (not_a_point, message, sizeof message, signature));

  g_assert_finalize_object (signer);
  g_assert_finalize_object (other);
}

/* The server relays a room or recipient in the spelling it stored first, so
 * a signature must hold whatever the case of those names, and only that. */
static void
test_message_signature_folds_destinations (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuFrame) frame = quipu_test_frame_message_room ();
  g_autoptr(QuipuFrame) direct = quipu_test_frame_message_direct ();
  g_autoptr(GBytes) legacy_input = NULL;
  QuipuIdentity *signer = new_random_identity ();
  const guint8 *key = quipu_identity_get_public_key (signer);
  guint8 legacy[QUIPU_SIGNATURE_SIZE];

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, "lobby");
  g_assert_true (quipu_identity_sign_message (signer, frame, &error));
  g_assert_no_error (error);
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, "LOBBY");
  g_assert_true (quipu_message_frame_verify (frame, key));
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, "lobbies");
  g_assert_false (quipu_message_frame_verify (frame, key));

  quipu_frame_set_string (direct, QUIPU_FIELD_SENDER, "alice");
  g_assert_true (quipu_identity_sign_message (signer, direct, &error));
  g_free (direct->recipients->pdata[1]);
  direct->recipients->pdata[1] = g_strdup ("CAROL");
  g_assert_true (quipu_message_frame_verify (direct, key));
  g_ptr_array_remove_index (direct->recipients, 0);
  quipu_frame_add_string (direct, QUIPU_FIELD_RECIPIENT, "BOB");
  g_assert_false (quipu_message_frame_verify (direct, key));  /* order still counts */

  /* Signed as spelled, before the folding rule: still genuine as spelled,
   * and nothing else. */
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, "Kitchen");
  legacy_input = quipu_message_signing_input_full (frame, FALSE);
  g_assert_true (quipu_identity_sign (signer, g_bytes_get_data (legacy_input, NULL),
                                      g_bytes_get_size (legacy_input), legacy, &error));
  quipu_frame_set_bytes (frame, QUIPU_FIELD_SIGNATURE, legacy, sizeof legacy);
  g_assert_true (quipu_message_frame_verify (frame, key));
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY, "altered");
  g_assert_false (quipu_message_frame_verify (frame, key));

  g_assert_finalize_object (signer);
}

static void
test_bad_seed_length (void)
{
  g_autoptr(GError) error = NULL;
  guint8 seed[QUIPU_SEED_SIZE + 1] = { 0 };

  g_assert_null (quipu_identity_new_from_seed (seed, 31, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY);
  g_assert_cmpstr (error->message, ==, "identity key must be 32 bytes, got 31");
  g_clear_error (&error);

  g_assert_null (quipu_identity_new_from_seed (seed, sizeof seed, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY);
  g_assert_cmpstr (error->message, ==, "identity key must be 32 bytes, got 33");
  g_clear_error (&error);

  g_assert_null (quipu_identity_new_from_seed (NULL, 0, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY);
  g_assert_cmpstr (error->message, ==, "identity key must be 32 bytes, got 0");
}

static void
assert_user_id_alphabet (const char *user_id)
{
  g_assert_cmpuint (strlen (user_id), ==, QUIPU_USER_ID_LEN);
  g_assert_cmpuint (strspn (user_id, "abcdefghijklmnopqrstuvwxyz234567"), ==, QUIPU_USER_ID_LEN);
}

static void
test_user_id_known_value (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *from_key = quipu_user_id_from_key (rfc8032_public_key);
  QuipuIdentity *identity;

  g_assert_cmpstr (from_key, ==, rfc8032_user_id);

  identity = quipu_identity_new_from_seed (rfc8032_seed, sizeof rfc8032_seed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (quipu_identity_get_user_id (identity), ==, rfc8032_user_id);
  g_assert_finalize_object (identity);
}

static void
test_user_id_deterministic (void)
{
  QuipuIdentity *a = new_random_identity ();
  QuipuIdentity *b = new_random_identity ();
  g_autofree char *again = quipu_user_id_from_key (quipu_identity_get_public_key (a));

  assert_user_id_alphabet (quipu_identity_get_user_id (a));
  assert_user_id_alphabet (quipu_identity_get_user_id (b));
  g_assert_cmpstr (again, ==, quipu_identity_get_user_id (a));
  g_assert_cmpstr (quipu_identity_get_user_id (a), !=, quipu_identity_get_user_id (b));
  g_assert_false (memcmp (quipu_identity_get_public_key (a),
                          quipu_identity_get_public_key (b), QUIPU_KEY_SIZE) == 0);

  g_assert_finalize_object (a);
  g_assert_finalize_object (b);
}

static void
test_user_id_short (void)
{
  g_autofree char *short_id = quipu_user_id_short ("abcdefghijklmnop");
  g_autofree char *rfc_short = quipu_user_id_short (rfc8032_user_id);

  g_assert_cmpstr (short_id, ==, "abcd-efgh");
  g_assert_cmpstr (rfc_short, ==, "eh7d-dx5b");
}

static void
test_dup_seed_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  QuipuIdentity *original = new_random_identity ();
  QuipuIdentity *restored;
  g_autoptr(GBytes) seed = quipu_identity_dup_seed (original);
  guint8 signature[QUIPU_SIGNATURE_SIZE];

  g_assert_cmpuint (g_bytes_get_size (seed), ==, QUIPU_SEED_SIZE);
  restored = quipu_identity_new_from_seed (g_bytes_get_data (seed, NULL),
                                           g_bytes_get_size (seed), &error);
  g_assert_no_error (error);

  g_assert_cmpmem (quipu_identity_get_public_key (restored), QUIPU_KEY_SIZE,
                   quipu_identity_get_public_key (original), QUIPU_KEY_SIZE);
  g_assert_cmpstr (quipu_identity_get_user_id (restored), ==,
                   quipu_identity_get_user_id (original));
  sign_message (restored, signature);
  g_assert_true (quipu_signature_verify (quipu_identity_get_public_key (original),
                                         message, sizeof message, signature));

  g_assert_finalize_object (original);
  g_assert_finalize_object (restored);
}

/* Run by hand with -m perf: the receive path verifies every message. */
static void
test_perf (void)
{
  QuipuIdentity *identity = new_random_identity ();
  const guint n_rounds = 2000;
  guint8 signature[QUIPU_SIGNATURE_SIZE];
  guint n_valid = 0;
  double seconds;

  g_test_timer_start ();
  for (guint i = 0; i < n_rounds; i++)
    sign_message (identity, signature);
  seconds = g_test_timer_elapsed ();
  g_test_maximized_result (n_rounds / seconds, "%.0f signs/s", n_rounds / seconds);

  g_test_timer_start ();
  for (guint i = 0; i < n_rounds; i++)
    n_valid += quipu_signature_verify (quipu_identity_get_public_key (identity),
                                       message, sizeof message, signature);
  seconds = g_test_timer_elapsed ();
  g_test_maximized_result (n_rounds / seconds, "%.0f verifications/s", n_rounds / seconds);

  g_assert_cmpuint (n_valid, ==, n_rounds);
  g_assert_finalize_object (identity);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/quipu/identity/rfc8032-vector", test_rfc8032_vector);
  g_test_add_func ("/quipu/identity/sign-verify", test_sign_verify_round_trip);
  g_test_add_func ("/quipu/identity/verify/flipped-data", test_verify_flipped_data);
  g_test_add_func ("/quipu/identity/verify/flipped-signature", test_verify_flipped_signature);
  g_test_add_func ("/quipu/identity/verify/other-key", test_verify_other_key);
  g_test_add_func ("/quipu/identity/message/folds-destinations", test_message_signature_folds_destinations);
  g_test_add_func ("/quipu/identity/seed/bad-length", test_bad_seed_length);
  g_test_add_func ("/quipu/identity/seed/round-trip", test_dup_seed_round_trip);
  g_test_add_func ("/quipu/identity/user-id/known-value", test_user_id_known_value);
  g_test_add_func ("/quipu/identity/user-id/deterministic", test_user_id_deterministic);
  g_test_add_func ("/quipu/identity/user-id/short", test_user_id_short);
  if (g_test_perf ())
    g_test_add_func ("/quipu/identity/perf", test_perf);

  return g_test_run ();
}
