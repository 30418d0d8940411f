#pragma once

#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quipu-connection.h"

G_BEGIN_DECLS

/* What the endpoint and the connection agree on. The arrow is one-way: the
 * endpoint drives a connection through the calls below, and a connection
 * reaches back only through the sink it was built with.
 *
 * The transport in one look:
 *   quipu-endpoint          socket + GSource; routes by connection ID (and
 *                           client reset token) to connections, wakes them
 *   ├ quipu-datagram-socket batched UDP I/O, ICMP refusals
 *   ├ quipu-deadline-heap   the earliest connection expiry
 *   ├ quipu-stateless       Version Negotiation, Retry, stateless reset
 *   └ quipu-connection      one QUIC connection, stream 0, its close phases
 *     ├ quipu-connection-tls  its GnuTLS session
 *     ├ quipu-connection-io   reading, writing, timers
 *     ├ quipu-send-buffer   queued bytes kept until acknowledged
 *     └ quipu-transport-error  QUIC/TLS failures as GErrors
 *   quipu-address           addresses as text, for all of them */

#define QUIPU_CID_LEN        18
#define QUIPU_MAX_PACKET     1452

typedef struct {
  /* Queues one datagram for path->remote. FALSE when it cannot be queued
   * now: stop writing until the next quipu_connection_write_packets. */
  gboolean (*send_packet) (gpointer sink_data, const ngtcp2_path *path, const guint8 *data, gsize len);
  /* Something to write, or the expiry moved: the endpoint will call
   * quipu_connection_write_packets and read quipu_connection_get_expiry. */
  void     (*mark_dirty)  (gpointer sink_data);
  /* Picks a random connection ID of `len` bytes, routes it to this
   * connection and derives its stateless reset token. */
  gboolean (*new_cid)     (gpointer sink_data, ngtcp2_cid *cid, gsize len,
                           guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN]);
  /* The peer retired `cid`: it no longer routes here. */
  void     (*retire_cid)  (gpointer sink_data, const ngtcp2_cid *cid);
  /* Client: the peer's stateless reset token for a connection ID it gave
   * us starts (or stops) being valid. A reset carries a random connection
   * ID, so the endpoint routes it by this token instead. */
  void     (*reset_token) (gpointer sink_data, const guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN],
                           gboolean valid);
} QuipuConnectionSink;

typedef struct {
  const QuipuConnectionSink       *sink;
  gpointer                         sink_data;
  const struct sockaddr           *local;
  socklen_t                        local_len;
  const struct sockaddr           *remote;
  socklen_t                        remote_len;
  gnutls_certificate_credentials_t creds;
  guint                            idle_timeout_ms;
} QuipuConnectionSetup;

static inline ngtcp2_tstamp
quipu_transport_now (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * 1000;
}

QuipuConnection *quipu_connection_new_client    (const QuipuConnectionSetup *setup,
                                                 const QuipuTrustPolicy     *policy,
                                                 GError                    **error);
/* `hd` is the client's first Initial; `retry_scid` is set when it carried a
 * valid Retry token. */
QuipuConnection *quipu_connection_new_server    (const QuipuConnectionSetup *setup,
                                                 const ngtcp2_pkt_hd        *hd,
                                                 const ngtcp2_cid           *original_dcid,
                                                 const ngtcp2_cid           *retry_scid,
                                                 ngtcp2_tstamp               ts,
                                                 GError                    **error);

void     quipu_connection_read_packet   (QuipuConnection       *conn,
                                         const struct sockaddr *remote,
                                         socklen_t              remote_len,
                                         const guint8          *data,
                                         gsize                  len,
                                         ngtcp2_tstamp          ts);
void     quipu_connection_write_packets (QuipuConnection *conn, ngtcp2_tstamp ts);
void     quipu_connection_handle_expiry (QuipuConnection *conn, ngtcp2_tstamp ts);
/* Monotonic time (µs) of the next quipu_connection_handle_expiry;
 * G_MAXINT64 for none, 0 once it is dead. */
gint64   quipu_connection_get_expiry    (QuipuConnection *conn);
/* Dead: the endpoint drops it (after the call that made it so returned). */
gboolean quipu_connection_is_dead       (QuipuConnection *conn);
/* CONNECTION_CLOSE sent or received: all that is left is to answer stray
 * packets with it until the closing period ends. */
gboolean quipu_connection_is_closed     (QuipuConnection *conn);
/* Ends at once, sending nothing; `closed` reports `error`. Takes it. */
void     quipu_connection_die           (QuipuConnection *conn, GError *error);
/* The endpoint is going away: forget the sink and stay a dead husk for
 * whoever still holds a ref. No callback is called. */
void     quipu_connection_detach        (QuipuConnection *conn);
/* Its ngtcp2 connection, for tests that make a peer misbehave. */
ngtcp2_conn *quipu_connection_get_quic  (QuipuConnection *conn);

G_END_DECLS
