#pragma once

#include <gio/gio.h>

#include "quipu.h"

G_BEGIN_DECLS

/* Where a user's identity (its Ed25519 seed) is kept between runs.
 *
 * Keyring: one Secret Service item per username, schema
 * "io.github.quipuchat.Quipu" (shared by the stable and .Devel profiles),
 * attribute "username", label "Quipu identity for <username>", secret the
 * base64 of the 32-byte seed.
 *
 * Key file: the unencrypted PKCS#8 PEM of the key ("certtool -k" reads it),
 * mode 0600 in a 0700 directory; files others could read are refused.
 *
 * Which one: an explicit key file if the caller names one; else the keyring
 * when a Secret Service is there (running, or activatable on the session
 * bus); else $XDG_DATA_HOME/quipu/identities/<username>.key. A Secret
 * Service that is there but locked or slow is waited for (or the call is
 * cancelled), never replaced by a key file: that would make a second key
 * and lock the person out of their name. */

#define QUIPU_KEY_STORE_ERROR (quipu_key_store_error_quark ())

typedef enum {
  /* An exported identity that this passphrase does not open. */
  QUIPU_KEY_STORE_ERROR_WRONG_PASSPHRASE,
  /* A file that is not a passphrase-protected identity export. */
  QUIPU_KEY_STORE_ERROR_NOT_AN_EXPORT,
} QuipuKeyStoreError;

GQuark quipu_key_store_error_quark (void);

/* Asynchronous API: for the app and the cli, from their main loop. None of
 * these blocks on D-Bus; key files are small and read or written in one
 * main-loop step. @path is an explicit key file, or NULL for the rule
 * above. Where a key file was used, @file (may be NULL) returns its path,
 * else NULL (the keyring). */

/* The stored identity, or a new one that is stored first (@created says
 * which; may be NULL). */
void           quipu_key_store_load_or_create_async  (const char           *username,
                                                      const char           *path,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
QuipuIdentity *quipu_key_store_load_or_create_finish (GAsyncResult         *result,
                                                      gboolean             *created,
                                                      char                **file,
                                                      GError              **error);

/* The stored identity; G_IO_ERROR_NOT_FOUND if there is none. */
void           quipu_key_store_lookup_async          (const char           *username,
                                                      const char           *path,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
QuipuIdentity *quipu_key_store_lookup_finish         (GAsyncResult         *result,
                                                      char                **file,
                                                      GError              **error);

/* Stores @identity for @username (an imported one, say). Storing the
 * identity that is already there succeeds and changes nothing; a different
 * one already stored is G_IO_ERROR_EXISTS and is left alone. */
void           quipu_key_store_store_async           (QuipuIdentity        *identity,
                                                      const char           *username,
                                                      const char           *path,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
gboolean       quipu_key_store_store_finish          (GAsyncResult         *result,
                                                      char                **file,
                                                      GError              **error);

/* Forgets @username's identity; G_IO_ERROR_NOT_FOUND if there was none. */
void           quipu_key_store_delete_async          (const char           *username,
                                                      const char           *path,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
gboolean       quipu_key_store_delete_finish         (GAsyncResult         *result,
                                                      GError              **error);

/* TRUE if a session bus is configured (never autolaunched) and
 * org.freedesktop.secrets is owned or activatable on it. Works inside a
 * Flatpak sandbox given --talk-name=org.freedesktop.secrets, where the name
 * is often activatable but not yet running. */
void           quipu_key_store_secret_service_available_async  (GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
gboolean       quipu_key_store_secret_service_available_finish (GAsyncResult        *result,
                                                                GError             **error);

/* Synchronous API, for tools and tests: these block (the keyring ones on
 * D-Bus round trips) and must not run on a UI's main loop. The load
 * functions return the stored identity, or with @create a new one that they
 * store first; @created (may be NULL) says which happened. A missing
 * identity without @create is G_IO_ERROR_NOT_FOUND. */
gboolean       quipu_key_store_secret_service_available (void);

QuipuIdentity *quipu_key_store_load_secret  (const char  *username,
                                             gboolean     create,
                                             gboolean    *created,
                                             GError     **error);

QuipuIdentity *quipu_key_store_load_file    (const char  *path,
                                             gboolean     create,
                                             gboolean    *created,
                                             GError     **error);

/* $XDG_DATA_HOME/quipu/identities/<username>.key. @username must be a valid
 * name (quipu_name_validate()), so it cannot contain '/'. */
char          *quipu_key_store_default_file (const char  *username);

/* Export and import: the identity as an encrypted PKCS#8 PEM ("ENCRYPTED
 * PRIVATE KEY", PBES2 with AES-256; "certtool -k" reads it given the
 * passphrase), so a person can carry their name to another machine or
 * between the app and quipu-cli. The key derivation costs ~0.1 s of CPU on
 * purpose. quipu_key_store_export() writes a new 0600 file and refuses to
 * replace an existing one (G_IO_ERROR_EXISTS). A wrong passphrase is
 * QUIPU_KEY_STORE_ERROR_WRONG_PASSPHRASE. */
GBytes        *quipu_key_store_export_to_bytes   (QuipuIdentity  *identity,
                                                  const char     *passphrase,
                                                  GError        **error);
QuipuIdentity *quipu_key_store_import_from_bytes (GBytes         *pem,
                                                  const char     *passphrase,
                                                  GError        **error);
gboolean       quipu_key_store_export            (QuipuIdentity  *identity,
                                                  const char     *path,
                                                  const char     *passphrase,
                                                  GError        **error);
QuipuIdentity *quipu_key_store_import            (const char     *path,
                                                  const char     *passphrase,
                                                  GError        **error);

G_END_DECLS
