#pragma once

#include <sys/socket.h>

#include <glib.h>

G_BEGIN_DECLS

/* A server endpoint's count of handshakes in progress: connections it
 * accepted an Initial for and that have not finished their handshake yet.
 * Each holds TLS and QUIC state (~60 KB) until it completes or times out,
 * so it is counted per client address (the IP, not the port) and in
 * total: past a per-address limit new Initials from that address are
 * refused, and past a total threshold new clients must first answer a
 * Retry, which costs the server no state. */
typedef struct _QuipuHandshakeLimits QuipuHandshakeLimits;
/* One address's count; what a connection in handshake holds on to. */
typedef struct _QuipuHandshakeSlot QuipuHandshakeSlot;

QuipuHandshakeLimits *quipu_handshake_limits_new       (void);
void                  quipu_handshake_limits_free      (QuipuHandshakeLimits *limits);
/* 0 turns either off. */
void                  quipu_handshake_limits_configure (QuipuHandshakeLimits *limits,
                                                        guint                 max_per_address,
                                                        guint                 retry_threshold);

/* FALSE when `remote` already has max_per_address handshakes in progress. */
gboolean              quipu_handshake_limits_allow     (QuipuHandshakeLimits  *limits,
                                                        const struct sockaddr *remote);
/* TRUE while the handshakes in progress are at the retry threshold or past. */
gboolean              quipu_handshake_limits_want_retry (QuipuHandshakeLimits *limits);
/* A handshake from `remote` starts; hand the slot back to _end. */
QuipuHandshakeSlot   *quipu_handshake_limits_begin     (QuipuHandshakeLimits  *limits,
                                                        const struct sockaddr *remote);
/* It completed, failed or timed out. */
void                  quipu_handshake_limits_end       (QuipuHandshakeLimits *limits,
                                                        QuipuHandshakeSlot   *slot);
guint                 quipu_handshake_limits_in_progress (QuipuHandshakeLimits *limits);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuHandshakeLimits, quipu_handshake_limits_free)

G_END_DECLS
