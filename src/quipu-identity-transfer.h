#pragma once

#include <gtk/gtk.h>

#include "quipu.h"

G_BEGIN_DECLS

/* Carrying a name to another machine or to quipu-cli: the identity as a
 * passphrase-protected file (the key store's export format). Each is one
 * dialog that asks for everything it needs, shows what went wrong inside
 * itself (and stays open, changing nothing), and says in a toast of the
 * window around @parent what it did once it closes. */
void quipu_identity_transfer_export (GtkWidget     *parent,
                                     QuipuIdentity *identity,
                                     const char    *username);

/* Called once an identity was stored for @username. */
typedef void (*QuipuIdentityImportedFunc) (GtkWidget  *parent,
                                           const char *username);

/* Stores the imported identity for the name typed in the dialog (starting
 * as @username, may be NULL or empty); refused if another one is already
 * stored for that name. */
void quipu_identity_transfer_import (GtkWidget                 *parent,
                                     const char                *username,
                                     QuipuIdentityImportedFunc  imported);

G_END_DECLS
