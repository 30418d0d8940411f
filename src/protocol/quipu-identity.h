#pragma once

#include <glib-object.h>

#include "quipu-error.h"

G_BEGIN_DECLS

#define QUIPU_KEY_SIZE        32   /* Ed25519 public key */
#define QUIPU_SIGNATURE_SIZE  64   /* Ed25519 signature */
#define QUIPU_SEED_SIZE       32   /* Ed25519 private key (RFC 8032 seed) */
#define QUIPU_USER_ID_LEN     16   /* base32 characters */

#define QUIPU_TYPE_IDENTITY (quipu_identity_get_type ())
G_DECLARE_FINAL_TYPE (QuipuIdentity, quipu_identity, QUIPU, IDENTITY, GObject)

/* A user's Ed25519 key pair. Where the private key is stored is the caller's
 * business (keyring, key file); this object never writes it anywhere. */
QuipuIdentity *quipu_identity_new_random    (GError       **error);
QuipuIdentity *quipu_identity_new_from_seed (const guint8  *seed,
                                             gsize          len,
                                             GError       **error);
const guint8  *quipu_identity_get_public_key (QuipuIdentity *self);   /* QUIPU_KEY_SIZE bytes */
const char    *quipu_identity_get_user_id    (QuipuIdentity *self);
/* The secret seed, for a key store to save. Zeroed and freed when released. */
GBytes        *quipu_identity_dup_seed       (QuipuIdentity *self);
gboolean       quipu_identity_sign           (QuipuIdentity *self,
                                              const guint8  *data,
                                              gsize          len,
                                              guint8         signature[QUIPU_SIGNATURE_SIZE],
                                              GError       **error);

/* Verifies an Ed25519 signature; FALSE for a bad key or signature. */
gboolean quipu_signature_verify (const guint8 key[QUIPU_KEY_SIZE],
                                 const guint8 *data,
                                 gsize         len,
                                 const guint8  signature[QUIPU_SIGNATURE_SIZE]);

/* The stable user id: the first 10 bytes of SHA-256(public key) in lower-case
 * RFC 4648 base32, QUIPU_USER_ID_LEN characters, no padding. */
char *quipu_user_id_from_key (const guint8 key[QUIPU_KEY_SIZE]);
/* "abcd-efgh": the first 8 characters of a user id, grouped, for display
 * next to a name. */
char *quipu_user_id_short    (const char *user_id);

G_END_DECLS
