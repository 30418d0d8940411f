#pragma once

#include <adwaita.h>

#include "quipu.h"
#include "quipu-drafts.h"
#include "quipu-hosted-server.h"

G_BEGIN_DECLS

#define QUIPU_TYPE_APPLICATION (quipu_application_get_type ())
G_DECLARE_FINAL_TYPE (QuipuApplication, quipu_application, QUIPU, APPLICATION, AdwApplication)

/* The app owns the session (so it lives on with the window closed, in the
 * background), the hosted server and the notifications.
 *
 * Properties: client (QuipuClient, the logged-in session or NULL). */

QuipuApplication  *quipu_application_new                 (void);

GSettings         *quipu_application_get_settings        (QuipuApplication *self);
QuipuClient       *quipu_application_get_client          (QuipuApplication *self);
QuipuDrafts       *quipu_application_get_drafts          (QuipuApplication *self);
QuipuHostedServer *quipu_application_get_hosted_server   (QuipuApplication *self);

/* Loads the identity of @username (async key store), makes a session for
 * @server and connects it. On a certificate problem the error is in the
 * QUIPU_TRUST_ERROR domain and *attempt (transfer full) holds the session,
 * and the error carries both fingerprints; after the user accepts,
 * quipu_client_trust_fingerprint() it and pass it to
 * quipu_application_connect_async(), which completes with
 * quipu_application_log_in_finish() as well. */
void               quipu_application_log_in_async        (QuipuApplication    *self,
                                                          const char          *server,
                                                          const char          *username,
                                                          const char          *fingerprint,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
gboolean           quipu_application_log_in_finish       (QuipuApplication    *self,
                                                          GAsyncResult        *result,
                                                          QuipuClient        **attempt,
                                                          GError             **error);
void               quipu_application_connect_async       (QuipuApplication    *self,
                                                          QuipuClient         *client,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
/* Closes the session; back to the login page. */
void               quipu_application_log_out             (QuipuApplication    *self);

/* The window shows @key in front of the user: its notification goes. */
void               quipu_application_withdraw_notification (QuipuApplication *self,
                                                            const char       *key);
/* Closing the window: TRUE if the app keeps running in the background. */
gboolean           quipu_application_keep_in_background  (QuipuApplication    *self);

G_END_DECLS
