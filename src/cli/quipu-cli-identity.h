#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  QUIPU_CLI_IDENTITY_EXPORT,
  QUIPU_CLI_IDENTITY_IMPORT,
} QuipuCliIdentityAction;

/* quipu-cli --user NAME identity export|import FILE: moves @username's
 * identity to or from a passphrase-protected file, through the key store
 * (@identity_path is --identity, or NULL). The passphrase comes from
 * @passphrase_file, else $QUIPU_PASSPHRASE, else the terminal without echo.
 * Prints the user id on stdout; returns the exit status. */
int quipu_cli_identity_run (QuipuCliIdentityAction  action,
                            const char             *username,
                            const char             *identity_path,
                            const char             *file,
                            const char             *passphrase_file);

G_END_DECLS
