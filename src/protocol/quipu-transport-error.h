#pragma once

#include <ngtcp2/ngtcp2.h>

#include <glib.h>

G_BEGIN_DECLS

/* QUIC and TLS failures in QUIPU_PROTOCOL_ERROR terms, worded with the
 * peer's address ("the client" for a server whose client spoke no Quipu). */

/* A fatal ngtcp2 library error on our side. */
GError *quipu_transport_error_from_liberr    (int                 liberr,
                                              const char         *peer);
/* A TLS alert that ended the handshake. */
GError *quipu_transport_error_from_tls_alert (guint8              alert,
                                              const char         *peer,
                                              gboolean            is_server,
                                              gboolean            sent_by_peer);
/* The CONNECTION_CLOSE the peer sent. */
GError *quipu_transport_error_from_close     (const ngtcp2_ccerr *ccerr,
                                              const char         *peer,
                                              gboolean            is_server);

G_END_DECLS
