#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Where a QuipuClient session stands; the "state" property. */
typedef enum {
  QUIPU_STATE_DISCONNECTED,
  QUIPU_STATE_CONNECTING,
  QUIPU_STATE_CONNECTED,
  QUIPU_STATE_DISCONNECTING,
  QUIPU_STATE_ERROR,
} QuipuState;

const char *quipu_state_to_string (QuipuState state);

G_END_DECLS
