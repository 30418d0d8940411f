#define G_LOG_DOMAIN "quipu-state"

#include "config.h"

#include "quipu-error.h"
#include "quipu-state-machine.h"

typedef struct {
  QuipuState   from;
  QuipuEvent   event;
  QuipuState   to;
  QuipuActions actions;
} Transition;

/* The whole machine; PROTOCOL.md carries the same table. Anything not listed
 * is an illegal event for that state. */
static const Transition transitions[] = {
  { QUIPU_STATE_DISCONNECTED,  QUIPU_EVENT_CONNECT,     QUIPU_STATE_CONNECTING,
    QUIPU_ACTION_OPEN_TRANSPORT },
  { QUIPU_STATE_CONNECTING,    QUIPU_EVENT_ESTABLISHED, QUIPU_STATE_CONNECTED,
    QUIPU_ACTION_RESEND_PENDING },
  { QUIPU_STATE_CONNECTING,    QUIPU_EVENT_DISCONNECT,  QUIPU_STATE_DISCONNECTING,
    QUIPU_ACTION_CLOSE_TRANSPORT },
  { QUIPU_STATE_CONNECTING,    QUIPU_EVENT_FAILURE,     QUIPU_STATE_ERROR,
    QUIPU_ACTION_ABORT_TRANSPORT | QUIPU_ACTION_SCHEDULE_RECONNECT },
  { QUIPU_STATE_CONNECTED,     QUIPU_EVENT_DISCONNECT,  QUIPU_STATE_DISCONNECTING,
    QUIPU_ACTION_CLOSE_TRANSPORT },
  { QUIPU_STATE_CONNECTED,     QUIPU_EVENT_FAILURE,     QUIPU_STATE_ERROR,
    QUIPU_ACTION_ABORT_TRANSPORT | QUIPU_ACTION_SCHEDULE_RECONNECT },
  { QUIPU_STATE_DISCONNECTING, QUIPU_EVENT_CLOSED,      QUIPU_STATE_DISCONNECTED,
    QUIPU_ACTION_ABORT_TRANSPORT },
  { QUIPU_STATE_DISCONNECTING, QUIPU_EVENT_FAILURE,     QUIPU_STATE_ERROR,
    QUIPU_ACTION_ABORT_TRANSPORT },
  { QUIPU_STATE_ERROR,         QUIPU_EVENT_CONNECT,     QUIPU_STATE_CONNECTING,
    QUIPU_ACTION_CANCEL_RECONNECT | QUIPU_ACTION_OPEN_TRANSPORT },
  { QUIPU_STATE_ERROR,         QUIPU_EVENT_DISCONNECT,  QUIPU_STATE_DISCONNECTED,
    QUIPU_ACTION_CANCEL_RECONNECT },
};

const char *
quipu_state_to_string (QuipuState state)
{
  switch (state)
    {
    case QUIPU_STATE_DISCONNECTED:  return "disconnected";
    case QUIPU_STATE_CONNECTING:    return "connecting";
    case QUIPU_STATE_CONNECTED:     return "connected";
    case QUIPU_STATE_DISCONNECTING: return "disconnecting";
    case QUIPU_STATE_ERROR:         return "error";
    default:                        return "invalid";
    }
}

const char *
quipu_event_to_string (QuipuEvent event)
{
  switch (event)
    {
    case QUIPU_EVENT_CONNECT:     return "connect";
    case QUIPU_EVENT_ESTABLISHED: return "established";
    case QUIPU_EVENT_DISCONNECT:  return "disconnect";
    case QUIPU_EVENT_CLOSED:      return "closed";
    case QUIPU_EVENT_FAILURE:     return "failure";
    default:                      return "invalid";
    }
}

gboolean
quipu_state_transition (QuipuState    from,
                        QuipuEvent    event,
                        QuipuState   *to,
                        QuipuActions *actions,
                        GError      **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (transitions); i++)
    {
      if (transitions[i].from == from && transitions[i].event == event)
        {
          *to = transitions[i].to;
          *actions = transitions[i].actions;
          return TRUE;
        }
    }

  g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_INVALID_STATE,
               "event '%s' is not allowed in state '%s'",
               quipu_event_to_string (event), quipu_state_to_string (from));
  return FALSE;
}
