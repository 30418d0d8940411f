#pragma once

#include <glib.h>

#include "quipu-identity.h"

G_BEGIN_DECLS

/* The keys a client has seen for other users on one server: the first key
 * seen for a name is the one expected after, in this process and (through
 * the known-users file) in later ones. Internal to QuipuClient. */
typedef struct _QuipuPins QuipuPins;

typedef struct {
  guint8  key[QUIPU_KEY_SIZE];
  char   *user_id;
} QuipuPin;

/* Writes of new pins are batched and made from an idle source on `context`,
 * never from the frame handler that saw the key. */
QuipuPins      *quipu_pins_new              (GMainContext *context);
/* Writes what is still pending, then frees. */
void            quipu_pins_free             (QuipuPins    *self);

/* NULL: $XDG_DATA_HOME/quipu/known-users. Pins are loaded again. */
void            quipu_pins_set_path         (QuipuPins    *self,
                                             const char   *path);
/* The path set, NULL for the default. */
const char     *quipu_pins_get_path         (QuipuPins    *self);
/* Loads the pins stored for `server` unless they are loaded already. */
void            quipu_pins_load             (QuipuPins    *self,
                                             const char   *server);
/* The pin for `name`, made from `key` at first sight (and queued for
 * writing). *changed is TRUE when `key` differs from the pinned one. */
const QuipuPin *quipu_pins_lookup_or_add    (QuipuPins    *self,
                                             const char   *name,
                                             const guint8  key[QUIPU_KEY_SIZE],
                                             gboolean     *changed);
/* Writes the queued pins now. */
void            quipu_pins_flush            (QuipuPins    *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuPins, quipu_pins_free)

G_END_DECLS
