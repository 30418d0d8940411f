#pragma once

#include <glib.h>

#include "quipu-identity.h"

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
 * The load functions return the stored identity, or with @create a new one
 * that they store first; @created (may be NULL) says which happened. A
 * missing identity without @create is G_IO_ERROR_NOT_FOUND. They block: the
 * keyring ones on D-Bus round trips. */

/* TRUE if a session bus is configured (never autolaunched) and a Secret
 * Service answers on it within a few seconds. */
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

G_END_DECLS
