#pragma once

#include <sys/socket.h>

#include <ngtcp2/ngtcp2.h>

#include "quipu-tls.h"

G_BEGIN_DECLS

/* What a server writes for packets that belong to no connection: Version
 * Negotiation, Retry, refusal and stateless reset, all keyed by one secret. Each
 * writer fills `buf` (at least QUIPU_MAX_PACKET bytes) and returns the
 * length, 0 for nothing to send. */

#define QUIPU_STATELESS_SECRET_LEN 32

gsize    quipu_stateless_write_version_negotiation (guint8                   *buf,
                                                    const ngtcp2_version_cid *vc);
gsize    quipu_stateless_write_retry     (guint8                *buf,
                                          const guint8          *secret,
                                          const ngtcp2_pkt_hd   *hd,
                                          const struct sockaddr *remote,
                                          socklen_t              remote_len,
                                          ngtcp2_tstamp          ts);
/* CONNECTION_CLOSE with CONNECTION_REFUSED and `reason` for the client
 * that sent Initial `hd`, without any state for it: the server is too busy
 * to take it. Smaller than the Initial that asked, which is padded to 1 200
 * bytes at least. */
gsize    quipu_stateless_write_refusal   (guint8              *buf,
                                          const ngtcp2_pkt_hd *hd,
                                          const char          *reason);
/* Smaller than `trigger_len`, or nothing when that is too short. */
gsize    quipu_stateless_write_reset     (guint8                   *buf,
                                          const guint8             *secret,
                                          const ngtcp2_version_cid *vc,
                                          gsize                     trigger_len);
/* TRUE when `hd` carries a Retry token we issued to `remote` recently;
 * sets the connection ID the client first used. */
gboolean quipu_stateless_verify_retry    (const guint8          *secret,
                                          const ngtcp2_pkt_hd   *hd,
                                          const struct sockaddr *remote,
                                          socklen_t              remote_len,
                                          ngtcp2_tstamp          ts,
                                          ngtcp2_cid            *original_dcid);
/* The secret derived from the server's TLS key, so that it outlives the
 * process; FALSE if the key cannot be exported. */
gboolean quipu_stateless_derive_secret   (QuipuServerCredentials *credentials,
                                          guint8                  out[QUIPU_STATELESS_SECRET_LEN]);

G_END_DECLS
