#pragma once

#include <gnutls/gnutls.h>

#include "quipu-key-store.h"

G_BEGIN_DECLS

/* Shared by the key store's files; not for its users. */

#define QUIPU_KEY_FILE_MAX_SIZE (16 * 1024)

/* quipu-key-file.c */

/* The contents of a regular file of at most QUIPU_KEY_FILE_MAX_SIZE bytes,
 * zeroed when released. @private refuses a file that is not the user's own
 * or that others can access. */
GBytes        *quipu_key_file_read          (const char     *path,
                                             gboolean        private,
                                             GError        **error);
/* Writes a new 0600 file at @path atomically (temporary file, fsync,
 * rename): a reader sees all of it or nothing. G_IO_ERROR_EXISTS, and no
 * change, if @path exists. */
gboolean       quipu_key_file_write_new     (const char     *path,
                                             const guint8   *data,
                                             gsize           len,
                                             GError        **error);
/* Stores @identity in a new key file at @path, its directory made 0700. */
gboolean       quipu_key_file_store         (const char     *path,
                                             QuipuIdentity  *identity,
                                             GError        **error);
/* Zeroes and frees a datum that GnuTLS allocated. */
void           quipu_key_store_clear_datum  (gnutls_datum_t *datum);
/* The Ed25519 identity in a GnuTLS private key, or NULL. */
QuipuIdentity *quipu_key_store_identity_from_x509 (gnutls_x509_privkey_t   x509,
                                                   GError                **error);
/* A GnuTLS private key holding @identity. */
gboolean       quipu_key_store_identity_to_x509   (QuipuIdentity          *identity,
                                                   gnutls_x509_privkey_t  *x509,
                                                   GError                **error);

/* quipu-key-secret.c: the keyring, through libsecret's async calls. */

void           quipu_key_secret_lookup_async  (const char           *username,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
QuipuIdentity *quipu_key_secret_lookup_finish (GAsyncResult         *result,
                                               GError              **error);
void           quipu_key_secret_store_async   (QuipuIdentity        *identity,
                                               const char           *username,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       quipu_key_secret_store_finish  (GAsyncResult         *result,
                                               GError              **error);
void           quipu_key_secret_delete_async  (const char           *username,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       quipu_key_secret_delete_finish (GAsyncResult         *result,
                                               GError              **error);

G_END_DECLS
