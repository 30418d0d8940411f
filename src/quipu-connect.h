#pragma once

#include <gio/gio.h>

#include "quipu.h"

G_BEGIN_DECLS

/* Connects @client and completes once it is logged in (TRUE) or has failed
 * (FALSE with the session's error), for a log-in page that waits for the
 * outcome. The library's own connect_async replaces this once it exists. */
void     quipu_connect_async  (QuipuClient         *client,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data);
gboolean quipu_connect_finish (QuipuClient         *client,
                               GAsyncResult        *result,
                               GError             **error);

G_END_DECLS
