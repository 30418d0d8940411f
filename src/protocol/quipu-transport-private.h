#pragma once

#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quipu-connection.h"
#include "quipu-endpoint.h"

G_BEGIN_DECLS

#define QUIPU_CID_LEN        18
#define QUIPU_MAX_PACKET     1452
#define QUIPU_SEND_BATCH     64
#define QUIPU_SECRET_LEN     32
/* A peer that leaves this much queued and unacknowledged is not reading. */
#define QUIPU_MAX_BACKLOG    (8 * 1024 * 1024)

typedef struct {
  guint8 len;
  guint8 data[NGTCP2_MAX_CIDLEN];
} QuipuCid;

typedef enum {
  CONN_ACTIVE,     /* handshaking or established */
  CONN_LINGERING,  /* close asked: flushing queued data before CONNECTION_CLOSE */
  CONN_CLOSING,    /* CONNECTION_CLOSE sent; answering stray packets with it */
  CONN_DRAINING,   /* the peer closed; silent until the drain period ends */
  CONN_DEAD,       /* to be removed from the endpoint */
} ConnPhase;

struct _QuipuConnection {
  int                 ref_count;
  QuipuEndpoint      *endpoint;
  gboolean            is_server;
  ConnPhase           phase;

  ngtcp2_conn        *conn;
  gnutls_session_t    tls;
  ngtcp2_crypto_conn_ref conn_ref;
  struct sockaddr_storage local_addr;
  struct sockaddr_storage remote_addr;
  ngtcp2_path         path;
  char               *peer;

  const QuipuConnectionCallbacks *callbacks;
  gpointer            user_data;
  gboolean            closed_notified;
  gboolean            established;
  gboolean            established_notified;
  GError             *error;          /* why it ended, when it was not us */

  /* Stream 0. Blocks stay queued until the peer acknowledges them. */
  gint64              stream_id;
  GQueue              send_queue;     /* SendBlock */
  guint64             queued_offset;
  guint64             sent_offset;
  guint64             acked_offset;
  GByteArray         *recv_buf;
  gboolean            recv_failed;
  gboolean            recv_finished;  /* the peer sent FIN on stream 0 */

  guint64             close_error;
  char               *close_reason;
  gint64              deadline_us;    /* linger or drain end, 0 if none */
  guint8             *close_pkt;
  gsize               close_pkt_len;

  /* Endpoint bookkeeping. */
  guint               heap_index;
  gint64              wake_us;
  gboolean            dirty;
  GPtrArray          *cids;           /* QuipuCid *, routed to this connection */

  /* Client trust. */
  QuipuTrustStore    *trust_store;
  gboolean            refuse_unknown;
  char               *hostname;
  char               *host_port;
  char               *pinned;
  char               *peer_fingerprint;
  QuipuTrustVia       trust_via;
};

/* quipu-connection.c, for the endpoint */
QuipuConnection *quipu_connection_new_client (QuipuEndpoint          *endpoint,
                                              const struct sockaddr  *remote,
                                              socklen_t               remote_len,
                                              const QuipuTrustPolicy *policy,
                                              gnutls_certificate_credentials_t creds,
                                              guint                   idle_timeout_ms,
                                              GError                **error);
QuipuConnection *quipu_connection_new_server (QuipuEndpoint          *endpoint,
                                              const ngtcp2_pkt_hd    *hd,
                                              const ngtcp2_cid       *original_dcid,
                                              const ngtcp2_cid       *retry_scid,
                                              const struct sockaddr  *remote,
                                              socklen_t               remote_len,
                                              gnutls_certificate_credentials_t creds,
                                              guint                   idle_timeout_ms,
                                              ngtcp2_tstamp           ts,
                                              GError                **error);
void     quipu_connection_read_packet   (QuipuConnection *conn,
                                         const struct sockaddr *remote,
                                         socklen_t        remote_len,
                                         const guint8    *data,
                                         gsize            len,
                                         ngtcp2_tstamp    ts);
void     quipu_connection_write         (QuipuConnection *conn, ngtcp2_tstamp ts);
void     quipu_connection_handle_timer  (QuipuConnection *conn, ngtcp2_tstamp ts);
/* Ends at once, sending nothing. */
void     quipu_connection_die           (QuipuConnection *conn, GError *error);
gint64   quipu_connection_next_wake     (QuipuConnection *conn);

/* quipu-endpoint.c, for the connection */
ngtcp2_tstamp quipu_endpoint_now        (void);
void     quipu_endpoint_mark_dirty      (QuipuEndpoint *endpoint, QuipuConnection *conn);
gboolean quipu_endpoint_send_packet     (QuipuEndpoint *endpoint,
                                         const ngtcp2_path *path,
                                         const guint8  *data,
                                         gsize          len);
void     quipu_endpoint_add_cid         (QuipuEndpoint *endpoint, QuipuConnection *conn,
                                         const ngtcp2_cid *cid);
void     quipu_endpoint_remove_cid      (QuipuEndpoint *endpoint, const ngtcp2_cid *cid);
const guint8 *quipu_endpoint_get_secret (QuipuEndpoint *endpoint);
const struct sockaddr *quipu_endpoint_get_sockaddr (QuipuEndpoint *endpoint, socklen_t *len);
void     quipu_endpoint_release_client  (QuipuEndpoint *endpoint);
void     quipu_endpoint_notify_accepted (QuipuEndpoint *endpoint, QuipuConnection *conn);
void     quipu_endpoint_notify_failed   (QuipuEndpoint *endpoint, QuipuConnection *conn);

void     quipu_cid_random               (ngtcp2_cid *cid, gsize len);
char    *quipu_sockaddr_to_string       (const struct sockaddr *addr);

G_END_DECLS
