#pragma once

#include <glib.h>

#include "quipu.h"
#include "quipu-bench-histogram.h"

G_BEGIN_DECLS

/* Many QuipuClient sessions in one process and one main loop, sharing a
 * few client endpoints (UDP sockets), with the counters a load test
 * reports. Session i is named PREFIX + i and, when rooms are given, joins
 * rooms[i % n_rooms]; the first n_senders sessions send. */
typedef struct _QuipuBenchFleet QuipuBenchFleet;

typedef struct {
  const char *server;         /* host:port */
  const char *fingerprint;    /* NULL: trusted on first use by the first session */
  const char *scratch_dir;    /* the sessions' known-servers and known-users files */
  const char *user_prefix;
  guint       n_endpoints;
  guint       concurrency;    /* logins (connect + join) in flight at once */
  double      verify_sample;  /* the fraction of deliveries whose signature is checked */
} QuipuBenchFleetOptions;

typedef struct {
  guint   logged_in;
  guint   ready;              /* logged in and joined */
  guint   login_failures;
  guint   errors;             /* any failure: login, refused message, lost session, bad body */
  guint64 sent;
  guint64 acked;
  guint64 delivered;          /* live messages from others */
  guint64 expected;           /* what the acked messages owe the rooms' other members */
  guint64 verified;
  guint64 bad_signatures;
  guint64 history_received;
  gint64  last_delivery_us;
} QuipuBenchCounters;

QuipuBenchFleet          *quipu_bench_fleet_new        (const QuipuBenchFleetOptions *options,
                                                        GError                      **error);
void                      quipu_bench_fleet_free       (QuipuBenchFleet *self);

/* Adds n sessions (not yet connected). */
void                      quipu_bench_fleet_add        (QuipuBenchFleet    *self,
                                                        guint               n,
                                                        const char * const *rooms);
guint                     quipu_bench_fleet_size       (QuipuBenchFleet *self);
QuipuClient              *quipu_bench_fleet_get_client (QuipuBenchFleet *self,
                                                        guint            index);
const QuipuBenchCounters *quipu_bench_fleet_counters   (QuipuBenchFleet *self);
QuipuBenchHistogram      *quipu_bench_fleet_latency    (QuipuBenchFleet *self);

/* Logs every session in (and joins its room), `concurrency` at a time,
 * until all are ready or failed or `timeout_s` passes. FALSE if any failed. */
gboolean                  quipu_bench_fleet_login_all  (QuipuBenchFleet *self,
                                                        double           timeout_s,
                                                        GError         **error);

/* Senders send `size`-byte messages (their send time in the body) at
 * `rate` messages/s in all, or, with rate 0, as fast as acknowledgements
 * allow; each keeps at most `window` unacknowledged. With `limit`, no
 * more than that many are sent in all. */
void                      quipu_bench_fleet_start_sending (QuipuBenchFleet *self,
                                                           guint            n_senders,
                                                           gsize            size,
                                                           double           rate,
                                                           guint            window,
                                                           guint64          limit);
void                      quipu_bench_fleet_stop_sending  (QuipuBenchFleet *self);

/* Runs the main loop until done (data) is TRUE or `deadline_us` (monotonic)
 * passes, printing progress on stderr every second; TRUE if done. */
gboolean                  quipu_bench_fleet_run_until  (QuipuBenchFleet *self,
                                                        gboolean       (*done) (QuipuBenchFleet *self,
                                                                                gpointer         data),
                                                        gpointer          data,
                                                        gint64            deadline_us,
                                                        const char       *phase);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuBenchFleet, quipu_bench_fleet_free)

G_END_DECLS
