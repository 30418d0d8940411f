#define G_LOG_DOMAIN "quipu-client"

#include "config.h"

#include "quipu-client-private.h"
#include "quipu-error.h"

/* The session's state machine at work: the actions each transition runs,
 * failures, reconnecting with backoff, and the checks a network change or a
 * resume from suspend calls for. */

#define PROBE_TIMEOUT_S      5
#define BACKOFF_MIN_MS       500
#define BACKOFF_MAX_MS       30000

static gboolean
is_retryable (const GError *error)
{
  if (error == NULL || error->domain != QUIPU_PROTOCOL_ERROR)
    return TRUE;
  switch (error->code)
    {
    case QUIPU_PROTOCOL_ERROR_UNTRUSTED:
    case QUIPU_PROTOCOL_ERROR_NAME_TAKEN:
    case QUIPU_PROTOCOL_ERROR_BAD_NAME:
    case QUIPU_PROTOCOL_ERROR_BAD_PROOF:
    case QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION:
    case QUIPU_PROTOCOL_ERROR_HANDSHAKE:
    case QUIPU_PROTOCOL_ERROR_BAD_KEY:
    case QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER:
    case QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED:
      return FALSE;
    default:
      return TRUE;
    }
}

static void
drop_connection (QuipuClient *self)
{
  quipu_timer_stop (&self->login_timer);
  quipu_timer_stop (&self->probe_timer);
  if (self->conn == NULL)
    return;
  quipu_connection_set_callbacks (self->conn, NULL, NULL);
  quipu_connection_abort (self->conn);
  g_clear_pointer (&self->conn, quipu_connection_unref);
}

void
quipu_client_fail (QuipuClient *self, GError *error)
{
  g_clear_error (&self->error);
  self->error = error;
  g_debug ("%s: failure: %s", self->username, error->message);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_ERROR]);
  quipu_client_dispatch_event (self, QUIPU_EVENT_FAILURE);
}

void
quipu_client_clear_error (QuipuClient *self)
{
  if (self->error == NULL)
    return;
  g_clear_error (&self->error);
  g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_ERROR]);
}

/* Answers what waits on the session once it settles in `state`. */
static void
answer_waiters (QuipuClient *self, QuipuState state)
{
  g_autoptr(GError) closed = NULL;

  switch (state)
    {
    case QUIPU_STATE_CONNECTED:
      quipu_waiters_succeed (self->connect_waiters, NULL);
      break;
    case QUIPU_STATE_ERROR:
      quipu_waiters_fail (self->connect_waiters, NULL, self->error);
      /* Rooms are joined again after a reconnect: only give up without one. */
      if (!quipu_timer_is_active (&self->reconnect_timer))
        quipu_waiters_fail (self->join_waiters, NULL, self->error);
      break;
    case QUIPU_STATE_DISCONNECTED:
      closed = g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                            "disconnected from %s", self->server);
      quipu_waiters_fail (self->connect_waiters, NULL, closed);
      quipu_waiters_fail (self->join_waiters, NULL, closed);
      break;
    case QUIPU_STATE_CONNECTING:
    case QUIPU_STATE_DISCONNECTING:
    default:
      break;
    }
}

static gboolean
reconnect_cb (gpointer data)
{
  QuipuClient *self = data;

  if (self->state == QUIPU_STATE_ERROR)
    quipu_client_connect (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (QuipuClient *self)
{
  if (!self->auto_reconnect || !self->ever_logged_in || !is_retryable (self->error))
    return;
  quipu_timer_start (&self->reconnect_timer, self->context,
                     quipu_backoff_next (&self->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS),
                     reconnect_cb, self);
}

static void
close_transport (QuipuClient *self)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_DISCONNECT);

  quipu_timer_stop (&self->login_timer);
  if (self->conn == NULL)
    {
      quipu_client_dispatch_event (self, QUIPU_EVENT_CLOSED);
      return;
    }
  quipu_frame_set_string (frame, QUIPU_FIELD_TEXT, "bye");
  quipu_client_queue_frame (self, frame);
  quipu_connection_close (self->conn, 0, "bye", 1000);
}

void
quipu_client_dispatch_event (QuipuClient *self, QuipuEvent event)
{
  g_autoptr(GError) error = NULL;
  QuipuActions actions;
  QuipuState from = self->state, to;

  if (!quipu_state_transition (from, event, &to, &actions, &error))
    {
      g_debug ("%s", error->message);
      return;
    }

  g_object_ref (self);
  g_debug ("%s: %s -> %s", self->username, quipu_state_to_string (from), quipu_state_to_string (to));
  /* The actions run in the new state, so one that fails moves on from it.
   * Observers hear of the state once the actions are done: a session
   * announced Connected has rejoined its rooms and resent its outbox, so
   * whatever they send follows that. A state left meanwhile is not
   * announced; the event that left it announced its own. */
  self->state = to;
  if (actions & QUIPU_ACTION_CANCEL_RECONNECT)
    quipu_timer_stop (&self->reconnect_timer);
  if (actions & QUIPU_ACTION_ABORT_TRANSPORT)
    drop_connection (self);
  if (actions & QUIPU_ACTION_CLOSE_TRANSPORT)
    close_transport (self);
  if (actions & QUIPU_ACTION_OPEN_TRANSPORT)
    quipu_client_open_connection (self);
  if (actions & QUIPU_ACTION_RESEND_PENDING)
    quipu_client_resume_session (self);
  if (actions & QUIPU_ACTION_SCHEDULE_RECONNECT)
    schedule_reconnect (self);
  if (self->state == to && from != to)
    {
      g_object_notify_by_pspec (G_OBJECT (self), quipu_client_pspecs[QUIPU_CLIENT_PROP_STATE]);
      answer_waiters (self, to);
    }
  g_object_unref (self);
}

/* Network changes and resume from suspend: retry at once instead of waiting
 * out the backoff, and check a connection that may have died meanwhile. */

static gboolean
probe_timeout_cb (gpointer data)
{
  QuipuClient *self = data;

  quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TIMED_OUT,
                           "%s stopped answering", self->server));
  return G_SOURCE_REMOVE;
}

void
quipu_client_check_connection (QuipuClient *self)
{
  if (self->state == QUIPU_STATE_ERROR && quipu_timer_is_active (&self->reconnect_timer))
    {
      quipu_timer_stop (&self->reconnect_timer);
      quipu_backoff_reset (&self->backoff);
      quipu_client_connect (self);
    }
  else if (self->state == QUIPU_STATE_CONNECTED && !quipu_timer_is_active (&self->probe_timer))
    {
      quipu_client_send_ping (self);
      quipu_timer_start (&self->probe_timer, self->context, PROBE_TIMEOUT_S * 1000, probe_timeout_cb, self);
    }
}
