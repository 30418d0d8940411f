#pragma once

#include "quipu-tls.h"

G_BEGIN_DECLS

/* Helpers quipu-tls.c (certificates) and quipu-trust-store.c (known servers,
 * verification) share; library-internal. */

#define DIGEST_SIZE 32   /* SHA-256 */

gboolean quipu_tls_gnutls_failed         (GError    **error,
                                          int         ret,
                                          const char *what);
/* "SHA256:" + unpadded base64. */
char    *quipu_tls_format_digest         (const guint8 digest[DIGEST_SIZE]);
/* Any accepted spelling of a fingerprint, in the form above. */
char    *quipu_tls_fingerprint_canonical (const char  *text,
                                          GError     **error);
/* A whole regular file of at most 1 MiB, NUL-terminated; `what` names its
 * role in errors. With `missing_ok`, a missing file reads as empty. */
char    *quipu_tls_read_small_file       (const char  *what,
                                          const char  *path,
                                          gboolean     missing_ok,
                                          gsize       *len_out,
                                          GError     **error);
gboolean quipu_tls_ensure_directory      (const char  *dir,
                                          GError     **error);
/* Temporary file, fsync, rename: readers see the old or the new file. */
gboolean quipu_tls_write_atomically      (const char  *path,
                                          const char  *contents,
                                          gsize        len,
                                          int          mode,
                                          GError     **error);

/* Whether the system CAs were loaded into the client credentials yet (for
 * tests: pinned and known servers must not cause it). */
gboolean quipu_tls_system_trust_loaded   (void);

/* Loads them ahead of a handshake that will need them, in a worker thread:
 * parsing the bundle takes tens of milliseconds, which the main loop (a
 * window, other sessions) must not wait for. A handshake that needs them
 * before this finishes waits for it to finish instead of loading them twice. */
void     quipu_tls_load_system_trust_async  (GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gboolean quipu_tls_load_system_trust_finish (GAsyncResult        *result,
                                             GError             **error);

G_END_DECLS
