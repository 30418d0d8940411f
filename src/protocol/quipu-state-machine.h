#pragma once

#include "quipu-state.h"

G_BEGIN_DECLS

/* The session's table-driven state machine (PROTOCOL.md, "Client states"):
 * internal to the library; applications only see QuipuState. */

typedef enum {
  QUIPU_EVENT_CONNECT,      /* the user (or the reconnect timer) asks to connect */
  QUIPU_EVENT_ESTABLISHED,  /* WELCOME received: logged in */
  QUIPU_EVENT_DISCONNECT,   /* the user asks to disconnect */
  QUIPU_EVENT_CLOSED,       /* the transport finished closing */
  QUIPU_EVENT_FAILURE,      /* handshake failure, refused login, protocol violation,
                             * idle timeout, connection lost */
} QuipuEvent;

typedef enum /*< flags >*/ {
  QUIPU_ACTION_NONE               = 0,
  QUIPU_ACTION_OPEN_TRANSPORT     = 1 << 0,  /* start the QUIC handshake, then CONNECT */
  QUIPU_ACTION_CLOSE_TRANSPORT    = 1 << 1,  /* DISCONNECT, flush, CONNECTION_CLOSE */
  QUIPU_ACTION_ABORT_TRANSPORT    = 1 << 2,  /* drop the connection as it is */
  QUIPU_ACTION_RESEND_PENDING     = 1 << 3,  /* resend unacknowledged messages, resync */
  QUIPU_ACTION_SCHEDULE_RECONNECT = 1 << 4,  /* if the failure is retryable */
  QUIPU_ACTION_CANCEL_RECONNECT   = 1 << 5,
} QuipuActions;

const char *quipu_event_to_string (QuipuEvent event);

/* Looks the pair up in the transition table. Returns FALSE with
 * QUIPU_PROTOCOL_ERROR_INVALID_STATE for an event the state does not accept;
 * *to and *actions are then left alone. */
gboolean quipu_state_transition (QuipuState    from,
                                 QuipuEvent    event,
                                 QuipuState   *to,
                                 QuipuActions *actions,
                                 GError      **error);

G_END_DECLS
