#pragma once

#include <glib.h>

#include "quipu-bench-histogram.h"

G_BEGIN_DECLS

/* What the single-process load clients for other chat servers share with
 * each other and with quipu-bench (tests/bench/compare): one GLib main loop,
 * one publisher and N receivers in one room or topic, the publisher
 * keeping `window` messages unacknowledged (by the protocol's own means),
 * the send time in the body, and quipu-bench's report (--json). */
typedef struct _QuipuLoad QuipuLoad;

typedef struct {
  /* Opens the publisher and the receivers; each calls
   * quipu_load_ready () once it can send or receive. */
  gboolean (*connect_all) (QuipuLoad *load, gpointer data, GError **error);
  /* Sends one message of quipu_load_get_size () bytes (body from
   * quipu_load_body_new ()). */
  void     (*send)        (QuipuLoad *load, gpointer data);
  /* Optional: sending stopped; ask for what acknowledges the last ones. */
  void     (*flush)       (QuipuLoad *load, gpointer data);
} QuipuLoadDriver;

typedef struct {
  char    *host;
  int      port;
  int      server_pid;
  int      receivers;
  int      size;
  double   duration;
  int      window;
  double   drain_timeout;
  gboolean json;
} QuipuLoadOptions;

/* The options every load client takes; add them to a GOptionContext. */
GOptionGroup *quipu_load_option_group (QuipuLoadOptions *options);

/* Runs the whole test: connect, measure, send for the duration, drain,
 * report. Returns the exit status. */
int           quipu_load_run          (const char             *name,
                                       QuipuLoadOptions       *options,
                                       const QuipuLoadDriver  *driver,
                                       gpointer                data);

/* From the drivers. */
void          quipu_load_ready        (QuipuLoad  *load);
void          quipu_load_error        (QuipuLoad  *load,
                                       const char *what);
/* `n` messages were acknowledged: each owes a delivery to every receiver;
 * while sending, as many new ones go out. */
void          quipu_load_acked        (QuipuLoad  *load,
                                       guint       n);
/* A receiver got a message with this body. */
void          quipu_load_delivered    (QuipuLoad  *load,
                                       const char *body,
                                       gsize       len);
void          quipu_load_sent         (QuipuLoad  *load);

G_END_DECLS
