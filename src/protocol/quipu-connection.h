#pragma once

#include <gio/gio.h>

#include "quipu-tls.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* One QUIC connection carrying Quipu frames on stream 0 in both directions.
 * Driven by the QuipuEndpoint it was made on, which holds a ref until it
 * has closed; the owner of the session above holds another. */
typedef struct _QuipuConnection QuipuConnection;

typedef struct {
  /* TLS handshake completed (client: server trusted). */
  void (*established) (QuipuConnection *conn, gpointer user_data);
  /* One decoded frame. Called outside ngtcp2's callbacks, so it may queue
   * frames on any connection and close this one. */
  void (*frame)       (QuipuConnection *conn, QuipuFrame *frame, gpointer user_data);
  /* The peer acknowledged stream data up to `offset` (see
   * quipu_connection_get_queued_offset). Optional. */
  void (*acked)       (QuipuConnection *conn, guint64 offset, gpointer user_data);
  /* The connection is gone; called once. `error` is NULL after a clean close
   * that this side asked for. The connection must not be used for sending
   * afterwards (calls are ignored). */
  void (*closed)      (QuipuConnection *conn, const GError *error, gpointer user_data);
} QuipuConnectionCallbacks;

QuipuConnection *quipu_connection_ref   (QuipuConnection *conn);
void             quipu_connection_unref (QuipuConnection *conn);

void        quipu_connection_set_callbacks (QuipuConnection                *conn,
                                            const QuipuConnectionCallbacks *callbacks,
                                            gpointer                        user_data);

/* Appends encoded frame bytes to the stream: one encoding can be queued on
 * many connections. Each copies them into its send buffer and keeps them
 * until the peer acknowledges them. Returns FALSE (and drops nothing queued
 * before) when the connection is closing or its unacknowledged backlog
 * exceeds the limit. */
gboolean    quipu_connection_queue_bytes   (QuipuConnection *conn, GBytes *bytes);
gboolean    quipu_connection_queue_frame   (QuipuConnection *conn, const QuipuFrame *frame);
/* Stream offset just past everything queued so far. */
guint64     quipu_connection_get_queued_offset (QuipuConnection *conn);

/* Closes with a QUIC application error (0 = no error, else a wire error code)
 * and a reason phrase. Queued data is sent first, for at most `linger_ms`,
 * then CONNECTION_CLOSE. */
void        quipu_connection_close         (QuipuConnection *conn,
                                            guint64          app_error,
                                            const char      *reason,
                                            guint            linger_ms);
gboolean    quipu_connection_is_closing    (QuipuConnection *conn);
/* Closes at once with CONNECTION_CLOSE carrying the error: its code if it is
 * a wire code, else protocol-violation, and its message as the reason.
 * Takes the error. */
void        quipu_connection_fail          (QuipuConnection *conn, GError *error);
/* Drops the connection at once without telling the peer (it will time out
 * or get a stateless reset); `closed` is still called. */
void        quipu_connection_abort         (QuipuConnection *conn);

/* PINGs well inside the idle timeout, so an idle connection stays open.
 * Clients keep alive from the start; a server connection only once its
 * session has logged in (the server turns it on at WELCOME), so one that
 * never logs in times out instead of being held open by the server itself.
 * A client may turn its own off too (tests that play a silent peer). */
void        quipu_connection_set_keep_alive (QuipuConnection *conn,
                                             gboolean         enabled);

/* 32 bytes of TLS exporter output (RFC 8446 §7.5) for `label`, empty
 * context; only after `established`. A server connection frees its TLS
 * session after the handshake and keeps only QUIPU_LOGIN_EXPORTER_LABEL's
 * value: any other label then fails with INVALID_STATE. */
gboolean    quipu_connection_export_keying_material (QuipuConnection *conn,
                                                     const char      *label,
                                                     guint8          *out,
                                                     gsize            out_len,
                                                     GError         **error);

/* "[::1]:50412" or "127.0.0.1:7447": the peer's address for logs. */
const char *quipu_connection_get_peer      (QuipuConnection *conn);
/* Client: the server certificate's fingerprint and how it was trusted. */
const char *quipu_connection_get_peer_fingerprint (QuipuConnection *conn);
QuipuTrustVia quipu_connection_get_trust_via (QuipuConnection *conn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuConnection, quipu_connection_unref)

G_END_DECLS
