#pragma once

#include "quipu-endpoint.h"
#include "quipu-identity.h"

G_BEGIN_DECLS

/* A raw QUIC connection to a Quipu server with no client logic above it:
 * tests queue hand-made frames on `conn` and look at what came back. */
typedef struct {
  QuipuEndpoint   *endpoint;     /* its own, or NULL on a shared one */
  QuipuConnection *conn;
  gboolean         established;
  gboolean         closed;
  GError          *close_error;
  guint64          acked;        /* stream offset the server acknowledged */
  GPtrArray       *frames;       /* QuipuFrame *, copies, as received */
} QuipuTestPeer;

/* Starts connecting to `address` ("127.0.0.1:PORT") over `endpoint`, or
 * over one of its own when NULL, trusting the server on first use through
 * the trust store at `trust_path`. Does not wait. */
QuipuTestPeer *quipu_test_peer_connect (QuipuEndpoint *endpoint,
                                        const char    *address,
                                        const char    *trust_path);
/* Queues a CONNECT as an honest client sends it once the handshake is
 * done: this protocol version, and a proof signing the connection's
 * exporter with `identity`. Does not wait for the WELCOME. */
void           quipu_test_peer_queue_login (QuipuTestPeer *peer,
                                            QuipuIdentity *identity,
                                            const char    *username);
/* The CONNECT an honest client sends once the handshake of `conn` is done,
 * offering `versions` and signing the connection's exporter with `identity`
 * (`client` may be NULL). Shared by every test that logs in by hand. */
QuipuFrame    *quipu_test_login_frame  (QuipuConnection *conn,
                                        QuipuIdentity   *identity,
                                        const char      *username,
                                        const guint64   *versions,
                                        guint            n_versions,
                                        const char      *client);
/* The frames received of `type`. */
guint          quipu_test_peer_count   (QuipuTestPeer *peer,
                                        QuipuFrameType type);
/* Drops the connection without a word and frees the peer (and its own
 * endpoint). */
void           quipu_test_peer_free    (QuipuTestPeer *peer);

G_END_DECLS
