#pragma once

#include <glib.h>

#include "quipu-identity.h"

G_BEGIN_DECLS

/* The public keys a client has seen for other users, per server, so that a
 * key swapped by a server (or anyone else) between two runs is noticed.
 * One "HOST:PORT NAME BASE64KEY" line per pin, in
 * $XDG_DATA_HOME/quipu/known-users by default; first sight wins. */

/* path NULL: the default file. */
char       *quipu_known_users_default_path (void);

/* Returns name -> GBytes (QUIPU_KEY_SIZE) for `server`. A missing file is
 * empty; malformed lines are skipped (a damaged line must not hide the
 * others). */
GHashTable *quipu_known_users_load         (const char *path,
                                            const char *server);

/* Appends a pin (directory 0700 and file 0600 created as needed). */
gboolean    quipu_known_users_add          (const char   *path,
                                            const char   *server,
                                            const char   *name,
                                            const guint8  key[QUIPU_KEY_SIZE],
                                            GError      **error);

/* The line quipu_known_users_add would append, newline included. */
char       *quipu_known_users_format       (const char   *server,
                                            const char   *name,
                                            const guint8  key[QUIPU_KEY_SIZE]);
/* Appends whole lines made by quipu_known_users_format in one write, so
 * concurrent clients interleave whole lines. */
gboolean    quipu_known_users_append       (const char   *path,
                                            const char   *lines,
                                            gsize         len,
                                            GError      **error);

G_END_DECLS
