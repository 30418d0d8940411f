#include "config.h"

#include <string.h>

#include "quipu-error.h"
#include "quipu-state-machine.h"

typedef struct {
  QuipuState   from;
  QuipuEvent   event;
  QuipuState   to;
  QuipuActions actions;
} Expected;

/* The table PROTOCOL.md documents, written out again independently. */
static const Expected legal[] = {
  { QUIPU_STATE_DISCONNECTED, QUIPU_EVENT_CONNECT, QUIPU_STATE_CONNECTING, QUIPU_ACTION_OPEN_TRANSPORT },
  { QUIPU_STATE_CONNECTING, QUIPU_EVENT_ESTABLISHED, QUIPU_STATE_CONNECTED, QUIPU_ACTION_RESEND_PENDING },
  { QUIPU_STATE_CONNECTING, QUIPU_EVENT_DISCONNECT, QUIPU_STATE_DISCONNECTING, QUIPU_ACTION_CLOSE_TRANSPORT },
  { QUIPU_STATE_CONNECTING, QUIPU_EVENT_FAILURE, QUIPU_STATE_ERROR,
    QUIPU_ACTION_ABORT_TRANSPORT | QUIPU_ACTION_SCHEDULE_RECONNECT },
  { QUIPU_STATE_CONNECTED, QUIPU_EVENT_DISCONNECT, QUIPU_STATE_DISCONNECTING, QUIPU_ACTION_CLOSE_TRANSPORT },
  { QUIPU_STATE_CONNECTED, QUIPU_EVENT_FAILURE, QUIPU_STATE_ERROR,
    QUIPU_ACTION_ABORT_TRANSPORT | QUIPU_ACTION_SCHEDULE_RECONNECT },
  { QUIPU_STATE_DISCONNECTING, QUIPU_EVENT_CLOSED, QUIPU_STATE_DISCONNECTED, QUIPU_ACTION_ABORT_TRANSPORT },
  { QUIPU_STATE_DISCONNECTING, QUIPU_EVENT_FAILURE, QUIPU_STATE_ERROR, QUIPU_ACTION_ABORT_TRANSPORT },
  { QUIPU_STATE_ERROR, QUIPU_EVENT_CONNECT, QUIPU_STATE_CONNECTING,
    QUIPU_ACTION_CANCEL_RECONNECT | QUIPU_ACTION_OPEN_TRANSPORT },
  { QUIPU_STATE_ERROR, QUIPU_EVENT_DISCONNECT, QUIPU_STATE_DISCONNECTED, QUIPU_ACTION_CANCEL_RECONNECT },
};

static const Expected *
find_legal (QuipuState from, QuipuEvent event)
{
  for (guint i = 0; i < G_N_ELEMENTS (legal); i++)
    if (legal[i].from == from && legal[i].event == event)
      return &legal[i];
  return NULL;
}

static void
test_legal_transitions (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (legal); i++)
    {
      g_autoptr(GError) error = NULL;
      QuipuState to = -1;
      QuipuActions actions = -1;

      g_assert_true (quipu_state_transition (legal[i].from, legal[i].event, &to, &actions, &error));
      g_assert_no_error (error);
      g_assert_cmpint (to, ==, legal[i].to);
      g_assert_cmpint (actions, ==, legal[i].actions);
    }
}

/* Every (state, event) pair not in the table is refused and changes nothing. */
static void
test_illegal_events (void)
{
  guint refused = 0;

  for (QuipuState from = QUIPU_STATE_DISCONNECTED; from <= QUIPU_STATE_ERROR; from++)
    for (QuipuEvent event = QUIPU_EVENT_CONNECT; event <= QUIPU_EVENT_FAILURE; event++)
      {
        g_autoptr(GError) error = NULL;
        QuipuState to = 42;
        QuipuActions actions = 42;

        if (find_legal (from, event) != NULL)
          continue;
        g_assert_false (quipu_state_transition (from, event, &to, &actions, &error));
        g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_INVALID_STATE);
        g_assert_nonnull (strstr (error->message, quipu_state_to_string (from)));
        g_assert_nonnull (strstr (error->message, quipu_event_to_string (event)));
        g_assert_cmpint (to, ==, 42);
        g_assert_cmpint (actions, ==, 42);
        refused++;
      }
  g_assert_cmpuint (refused, ==, 5 * 5 - G_N_ELEMENTS (legal));
}

/* The lifecycle the issue names: Disconnected -> Connecting -> Connected ->
 * Disconnecting -> Disconnected, and Error reachable from every state that
 * has a connection, with a way back. */
static void
test_lifecycle (void)
{
  const QuipuEvent path[] = {
    QUIPU_EVENT_CONNECT, QUIPU_EVENT_ESTABLISHED, QUIPU_EVENT_FAILURE, QUIPU_EVENT_CONNECT,
    QUIPU_EVENT_ESTABLISHED, QUIPU_EVENT_DISCONNECT, QUIPU_EVENT_CLOSED,
  };
  const QuipuState states[] = {
    QUIPU_STATE_CONNECTING, QUIPU_STATE_CONNECTED, QUIPU_STATE_ERROR, QUIPU_STATE_CONNECTING,
    QUIPU_STATE_CONNECTED, QUIPU_STATE_DISCONNECTING, QUIPU_STATE_DISCONNECTED,
  };
  QuipuState state = QUIPU_STATE_DISCONNECTED;

  for (guint i = 0; i < G_N_ELEMENTS (path); i++)
    {
      QuipuActions actions;

      g_assert_true (quipu_state_transition (state, path[i], &state, &actions, NULL));
      g_assert_cmpint (state, ==, states[i]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/quipu/state/legal", test_legal_transitions);
  g_test_add_func ("/quipu/state/illegal", test_illegal_events);
  g_test_add_func ("/quipu/state/lifecycle", test_lifecycle);
  return g_test_run ();
}
