#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define QUIPU_TYPE_HOSTED_SERVER (quipu_hosted_server_get_type ())
G_DECLARE_FINAL_TYPE (QuipuHostedServer, quipu_hosted_server, QUIPU, HOSTED_SERVER, GObject)

/* A quipu-server of the same installation, run by the app for as long as the
 * app runs ("Start a server on this computer"). Its data lives in
 * $XDG_STATE_HOME/quipu-server; it listens on a free UDP port.
 *
 * Properties: port (guint), fingerprint (string), running (bool). */

QuipuHostedServer *quipu_hosted_server_new             (void);

void               quipu_hosted_server_start_async     (QuipuHostedServer   *self,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean           quipu_hosted_server_start_finish    (QuipuHostedServer   *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);
/* SIGTERM: the server says goodbye to its clients. */
void               quipu_hosted_server_stop            (QuipuHostedServer   *self);

guint              quipu_hosted_server_get_port        (QuipuHostedServer   *self);
const char        *quipu_hosted_server_get_fingerprint (QuipuHostedServer   *self);
gboolean           quipu_hosted_server_get_running     (QuipuHostedServer   *self);

/* The quipu-server next to this executable, else the one in the configured
 * bindir. */
char              *quipu_hosted_server_find_binary     (void);

G_END_DECLS
