#pragma once

#include "quipu-client.h"
#include "quipu-endpoint.h"

G_BEGIN_DECLS

/* Internal hooks for quipu-bench, which drives thousands of sessions from
 * one process. Applications have no use for them: they stay out of quipu.h. */

/* The session opens its connections on `endpoint` (a client endpoint that
 * the caller made and keeps) instead of a socket of its own, so thousands of
 * sessions share a handful of sockets. The session never releases it; the
 * caller releases it after the sessions are gone. Call before connecting. */
void quipu_client_set_shared_endpoint   (QuipuClient   *self,
                                         QuipuEndpoint *endpoint);
/* Received messages still come as message-received but are no longer kept
 * in the conversation models, which would otherwise hold every message a
 * load test delivers. One-way. */
void quipu_client_stop_keeping_received (QuipuClient   *self);

G_END_DECLS
