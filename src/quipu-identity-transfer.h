#pragma once

#include <gtk/gtk.h>

#include "quipu.h"

G_BEGIN_DECLS

/* Carrying a name to another machine or to quipu-cli: the identity as a
 * passphrase-protected file (the key store's export format). Both ask for
 * the passphrase and the file themselves and report in a toast of the
 * window around @parent. */
void quipu_identity_transfer_export (GtkWidget     *parent,
                                     QuipuIdentity *identity,
                                     const char    *username);
/* Stores the imported identity for @username; refused if another one is
 * already stored for that name. */
void quipu_identity_transfer_import (GtkWidget     *parent,
                                     const char    *username);

G_END_DECLS
