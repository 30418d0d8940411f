#pragma once

#include <sys/socket.h>

#include "quipu-connection-private.h"
#include "quipu-send-buffer.h"
#include "quipu-signing.h"
#include "quipu-tls.h"

G_BEGIN_DECLS

/* What the parts of one connection share: quipu-connection.c (creation,
 * lifetime, close phases), quipu-connection-tls.c (its GnuTLS session) and
 * quipu-connection-io.c (reading, writing, timers). Not for the endpoint,
 * which sees quipu-connection-private.h only. */

typedef enum {
  CONN_ACTIVE,     /* handshaking or established */
  CONN_LINGERING,  /* close asked: flushing queued data before CONNECTION_CLOSE */
  CONN_CLOSING,    /* CONNECTION_CLOSE sent; answering stray packets with it */
  CONN_DRAINING,   /* the peer closed; silent until the drain period ends */
  CONN_DEAD,       /* to be dropped by the endpoint */
} ConnPhase;

/* Allocated with g_rc_box: the endpoint holds one ref while the connection
 * is on its socket, the owner of the session above another. */
struct _QuipuConnection {
  const QuipuConnectionSink *sink;    /* NULL once the endpoint is gone */
  gpointer            sink_data;
  gboolean            is_server;
  ConnPhase           phase;
  guint               idle_timeout_ms;

  ngtcp2_conn        *conn;
  gnutls_session_t    tls;            /* NULL on a server once established */
  guint8              login_exporter[QUIPU_LOGIN_EXPORTER_LEN];  /* kept when tls goes */
  /* Client: the TLS message being read after the handshake. */
  guint8              post_hs_header[4];
  guint               post_hs_header_len;
  guint32             post_hs_body_left;
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

  /* Stream 0, which carries every frame. */
  gint64              stream_id;
  QuipuSendBuffer     send;
  GByteArray         *recv_buf;
  gboolean            recv_failed;
  gboolean            recv_finished;  /* the peer sent FIN on stream 0 */

  guint64             close_error;
  char               *close_reason;
  gint64              deadline_us;    /* linger or drain end, 0 if none */
  guint8             *close_pkt;
  gsize               close_pkt_len;

  /* Client trust. */
  QuipuTrustStore    *trust_store;
  gboolean            refuse_unknown;
  char               *hostname;
  char               *host_port;
  char               *pinned;
  char               *peer_fingerprint;
  QuipuTrustVia       trust_via;
};

/* quipu-connection.c */
void     _quipu_connection_mark_dirty        (QuipuConnection *conn);
gboolean _quipu_connection_send_packet       (QuipuConnection *conn, const ngtcp2_path *path,
                                              const guint8 *data, gsize len);
void     _quipu_connection_notify_closed     (QuipuConnection *conn);
void     _quipu_connection_set_error         (QuipuConnection *conn, GError *error);
void     _quipu_connection_enter_dead        (QuipuConnection *conn);
void     _quipu_connection_send_app_close    (QuipuConnection *conn, ngtcp2_tstamp ts);
void     _quipu_connection_close_with_liberr (QuipuConnection *conn, int liberr, ngtcp2_tstamp ts);

/* quipu-connection-tls.c */
int      _quipu_connection_on_recv_crypto_data (ngtcp2_conn *c, ngtcp2_encryption_level level,
                                                uint64_t offset, const uint8_t *data,
                                                size_t datalen, void *user_data);
gboolean _quipu_connection_init_tls          (QuipuConnection                  *conn,
                                              gnutls_certificate_credentials_t  creds,
                                              GError                          **error);
void     _quipu_connection_release_tls       (QuipuConnection *conn);

G_END_DECLS
