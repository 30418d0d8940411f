#define G_LOG_DOMAIN "quipu-key-store"

#include "config.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "quipu-error.h"
#include "quipu-key-store-private.h"

/* Identity export: an encrypted PKCS#8 PEM, the standard form any tool
 * reads ("certtool -k", "openssl pkey"), protected by PBES2 with AES-256
 * and GnuTLS's PBKDF2 iteration count. */

#define ENCRYPTED_PEM_HEADER "-----BEGIN ENCRYPTED PRIVATE KEY-----"

GBytes *
quipu_key_store_export_to_bytes (QuipuIdentity  *identity,
                                 const char     *passphrase,
                                 GError        **error)
{
  gnutls_x509_privkey_t x509;
  gnutls_datum_t pem = { NULL, 0 };
  GBytes *bytes;
  int ret;

  g_return_val_if_fail (QUIPU_IS_IDENTITY (identity), NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (*passphrase == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "an exported identity needs a passphrase");
      return NULL;
    }

  if (!quipu_key_store_identity_to_x509 (identity, &x509, error))
    return NULL;
  ret = gnutls_x509_privkey_export2_pkcs8 (x509, GNUTLS_X509_FMT_PEM, passphrase,
                                           GNUTLS_PKCS_PBES2_AES_256, &pem);
  gnutls_x509_privkey_deinit (x509);
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot encrypt the identity key: %s", gnutls_strerror (ret));
      return NULL;
    }

  /* Encrypted, so it needs no wiping. */
  bytes = g_bytes_new (pem.data, pem.size);
  gnutls_free (pem.data);
  return bytes;
}

static gboolean
is_encrypted_pem (GBytes *pem)
{
  gsize len;
  const char *data = g_bytes_get_data (pem, &len);
  gsize header_len = strlen (ENCRYPTED_PEM_HEADER);

  for (gsize i = 0; i + header_len <= len; i++)
    if (memcmp (data + i, ENCRYPTED_PEM_HEADER, header_len) == 0)
      return TRUE;
  return FALSE;
}

QuipuIdentity *
quipu_key_store_import_from_bytes (GBytes      *pem,
                                   const char  *passphrase,
                                   GError     **error)
{
  gnutls_datum_t datum;
  gnutls_x509_privkey_t x509;
  QuipuIdentity *identity = NULL;
  int ret;

  g_return_val_if_fail (pem != NULL, NULL);
  g_return_val_if_fail (passphrase != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!is_encrypted_pem (pem))
    {
      g_set_error_literal (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_NOT_AN_EXPORT,
                           "not a passphrase-protected identity (ENCRYPTED PRIVATE KEY)");
      return NULL;
    }

  ret = gnutls_x509_privkey_init (&x509);
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot allocate a private key: %s", gnutls_strerror (ret));
      return NULL;
    }

  datum.data = (unsigned char *) g_bytes_get_data (pem, NULL);
  datum.size = g_bytes_get_size (pem);
  ret = gnutls_x509_privkey_import_pkcs8 (x509, &datum, GNUTLS_X509_FMT_PEM, passphrase, 0);
  if (ret == GNUTLS_E_DECRYPTION_FAILED)
    g_set_error_literal (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_WRONG_PASSPHRASE,
                         "wrong passphrase");
  else if (ret < 0)
    g_set_error (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_NOT_AN_EXPORT,
                 "not a readable identity export: %s", gnutls_strerror (ret));
  else
    identity = quipu_key_store_identity_from_x509 (x509, error);

  gnutls_x509_privkey_deinit (x509);
  return identity;
}

gboolean
quipu_key_store_export (QuipuIdentity  *identity,
                        const char     *path,
                        const char     *passphrase,
                        GError        **error)
{
  g_autoptr(GBytes) pem = NULL;

  g_return_val_if_fail (path != NULL, FALSE);

  pem = quipu_key_store_export_to_bytes (identity, passphrase, error);
  if (pem == NULL)
    return FALSE;
  return quipu_key_file_write_new (path, g_bytes_get_data (pem, NULL), g_bytes_get_size (pem), error);
}

QuipuIdentity *
quipu_key_store_import (const char  *path,
                        const char  *passphrase,
                        GError     **error)
{
  g_autoptr(GBytes) pem = NULL;
  QuipuIdentity *identity;

  g_return_val_if_fail (path != NULL, NULL);

  /* Encrypted, so it may have travelled with any mode. */
  pem = quipu_key_file_read (path, FALSE, error);
  if (pem == NULL)
    return NULL;

  identity = quipu_key_store_import_from_bytes (pem, passphrase, error);
  if (identity == NULL)
    g_prefix_error (error, "%s: ", path);
  return identity;
}
