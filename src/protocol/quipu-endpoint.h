#pragma once

#include <gio/gio.h>

#include "quipu-connection.h"
#include "quipu-tls.h"

G_BEGIN_DECLS

/* A UDP socket and the QUIC connections on it, driven by one custom GSource
 * in the thread-default main context: the socket fd and a timer set from the
 * earliest connection expiry (a heap, no per-tick scan). On both sides it
 * routes packets to its connections by connection ID, so one socket carries
 * any number of them. The endpoint drives its connections; they never see
 * it. */
typedef struct _QuipuEndpoint QuipuEndpoint;

typedef struct {
  /* Server: a client finished its handshake; set the connection's callbacks
   * here (their `established` is not called: this is that moment). */
  void (*accepted)  (QuipuEndpoint *endpoint, QuipuConnection *conn, gpointer user_data);
  /* Server: a client's handshake failed (wrong ALPN, TLS error, timeout). */
  void (*handshake_failed) (QuipuEndpoint *endpoint, const char *peer, const GError *error,
                            gpointer user_data);
  /* Called after each batch of received datagrams has been processed and
   * before anything is written: the server commits its store here so every
   * ACK it then queues is durable. Optional. */
  void (*batch_end) (QuipuEndpoint *endpoint, gpointer user_data);
} QuipuEndpointCallbacks;

typedef struct {
  gboolean require_retry;      /* address validation with Retry before any state */
  guint    idle_timeout_ms;    /* 0: 30 000 */
  /* Handshakes in progress: past max_handshakes_per_address from one
   * address new Initials are refused (CONNECTION_REFUSED, "server busy");
   * from retry_threshold in total on, new clients must answer a Retry
   * first. 0 turns either off. */
  guint    max_handshakes_per_address;
  guint    retry_threshold;
} QuipuServerOptions;

/* What a server endpoint counts, for its owner's stats. */
typedef struct {
  guint   handshakes;          /* in progress now */
  guint64 retries_sent;
  guint64 refused_handshakes;  /* Initials refused: per-address limit, or the connection cap */
} QuipuEndpointStats;

/* Binds ADDR:PORT (an IPv6 wildcard also accepts IPv4). */
QuipuEndpoint *quipu_endpoint_new_server (GInetSocketAddress           *address,
                                          QuipuServerCredentials       *credentials,
                                          const QuipuServerOptions     *options,
                                          const QuipuEndpointCallbacks *callbacks,
                                          gpointer                      user_data,
                                          GError                      **error);
/* A client endpoint on a fresh socket (an unused port on every address). */
QuipuEndpoint *quipu_endpoint_new_client (GError                **error);
/* Starts a connection to `address` on a client endpoint; the returned
 * connection (a new ref) reports through its callbacks (set them right
 * away). `policy` is copied. */
QuipuConnection *quipu_endpoint_connect  (QuipuEndpoint          *endpoint,
                                          GInetSocketAddress     *address,
                                          const QuipuTrustPolicy *policy,
                                          guint                   idle_timeout_ms,
                                          GError                **error);

/* Closes the socket at once; connections still open end without a word
 * (and without `closed`). */
void           quipu_endpoint_free        (QuipuEndpoint *endpoint);
/* Lets go of the endpoint, which closes what is still open (after queued
 * data, as quipu_connection_close with linger 0 would), and goes away by
 * itself once its last connection has finished closing. Clear the
 * connections' callbacks first if their owner is going too. */
void           quipu_endpoint_release     (QuipuEndpoint *endpoint);
/* Server: the limits of QuipuServerOptions again, e.g. on a reload. */
void           quipu_endpoint_set_handshake_limits (QuipuEndpoint *endpoint,
                                                    guint          max_per_address,
                                                    guint          retry_threshold);
void           quipu_endpoint_get_stats   (QuipuEndpoint      *endpoint,
                                           QuipuEndpointStats *stats);
/* The bound address (with the real port when 0 was asked). */
GInetSocketAddress *quipu_endpoint_get_local_address (QuipuEndpoint *endpoint);
/* Closes every connection (after their queued data, at most linger_ms) and
 * calls `done` once all are gone. */
void           quipu_endpoint_shutdown    (QuipuEndpoint *endpoint,
                                           guint64        app_error,
                                           const char    *reason,
                                           guint          linger_ms,
                                           GSourceFunc    done,
                                           gpointer       done_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuEndpoint, quipu_endpoint_free)

G_END_DECLS
