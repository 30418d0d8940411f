#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include "quipu-trust.h"

G_BEGIN_DECLS

/* Internal to the library and the server: certificates, the known-servers
 * store and peer verification, in GnuTLS terms. Applications see only
 * quipu-trust.h. */

/* GnuTLS's NORMAL, TLS 1.3 only, with the same groups and suites in a
 * cheaper order (issue 11, callgrind per login): X25519 first, whose key
 * share costs a quarter of P-256's here, and AES-128-GCM first, whose
 * SHA-256 key schedule is cheaper than AES-256-GCM's SHA-384 one. A peer
 * that prefers otherwise still gets what it asks for. */
#define QUIPU_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:" \
  "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:" \
  "+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096:+GROUP-FFDHE6144:+GROUP-FFDHE8192:" \
  "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:" \
  "%DISABLE_TLS13_COMPAT_MODE"

/* "SHA256:" + unpadded base64 of SHA-256 over the DER certificate, as ssh
 * prints host key fingerprints. */
char    *quipu_tls_fingerprint          (const guint8 *der, gsize len);

/* Server side. */
typedef struct _QuipuServerCredentials QuipuServerCredentials;

/* Loads a PEM certificate (chain) and key. Errors name the file and say what is
 * wrong (missing, unreadable, not PEM, key does not match certificate). */
QuipuServerCredentials *quipu_server_credentials_load   (const char *cert_path,
                                                         const char *key_path,
                                                         GError    **error);
/* Loads DIR/server.crt and DIR/server.key, creating a self-signed certificate
 * (Ed25519, subject CN=quipu-server, SAN localhost + the host name, 10
 * years) with a 0600 key first if they do not exist. Pairs made before
 * (ECDSA P-256) load as they are: their fingerprints stay. */
QuipuServerCredentials *quipu_server_credentials_ensure (const char *data_dir,
                                                         GError    **error);
void        quipu_server_credentials_free         (QuipuServerCredentials *creds);
const char *quipu_server_credentials_get_fingerprint (QuipuServerCredentials *creds);
gboolean    quipu_server_credentials_is_self_signed  (QuipuServerCredentials *creds);
gnutls_certificate_credentials_t
            quipu_server_credentials_get_gnutls   (QuipuServerCredentials *creds);

/* Client side: the known-servers file, one "host:port SHA256:..." per line. */
typedef struct _QuipuTrustStore QuipuTrustStore;

typedef enum {
  QUIPU_TRUST_UNKNOWN,    /* no pin for this host:port yet */
  QUIPU_TRUST_MATCH,
  QUIPU_TRUST_MISMATCH,
} QuipuTrustResult;

/* path NULL: $XDG_DATA_HOME/quipu/known-servers. The file is read on each
 * lookup so concurrent clients see each other's pins. */
QuipuTrustStore *quipu_trust_store_new    (const char *path);
void             quipu_trust_store_free   (QuipuTrustStore *store);
const char      *quipu_trust_store_get_path (QuipuTrustStore *store);
/* On MISMATCH, *pinned gets the stored fingerprint. A malformed file is an
 * error naming the file and line. */
QuipuTrustResult quipu_trust_store_lookup (QuipuTrustStore *store,
                                           const char      *host_port,
                                           const char      *fingerprint,
                                           char           **pinned,
                                           GError         **error);
/* Whether `host_port` has a pin (an unreadable file counts as none). */
gboolean         quipu_trust_store_knows  (QuipuTrustStore *store,
                                           const char      *host_port);
/* Adds or replaces the pin (atomic rewrite, file 0600, directory created). */
gboolean         quipu_trust_store_pin    (QuipuTrustStore *store,
                                           const char      *host_port,
                                           const char      *fingerprint,
                                           GError         **error);

/* How a client decides to trust a server certificate, in this order:
 * 1. `pinned_fingerprint` set: must match exactly, nothing else counts.
 * 2. matches the pin for `host_port` in `store`: trusted (known).
 * 3. chains to the system CAs and matches `hostname`: trusted. The system
 *    anchors are loaded then, once per process: a pinned or known server
 *    never waits for them.
 * 4. trust on first use through `store`: unknown -> pin it, mismatch ->
 *    refused with both fingerprints. */
typedef struct {
  const char      *hostname;
  const char      *host_port;
  const char      *pinned_fingerprint;  /* nullable */
  QuipuTrustStore *store;               /* nullable: no TOFU, CA or pin only */
  gboolean         refuse_unknown;      /* step 3 refuses an unknown server instead of
                                         * pinning it (QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER) */
} QuipuTrustPolicy;

/* Checks the peer certificate of a client session whose handshake has
 * received it. On refusal returns FALSE with QUIPU_PROTOCOL_ERROR_UNTRUSTED
 * (or _UNKNOWN_SERVER) and a message that, for a mismatch, shows the pinned
 * and the presented fingerprints and the file to edit; the fingerprints are
 * attached to the error too (quipu_error_get_presented_fingerprint ()), and
 * a changed known-servers pin is marked as _CERTIFICATE_CHANGED for the
 * session to report. *fingerprint gets the peer's. */
gboolean quipu_tls_verify_peer (gnutls_session_t         session,
                                const QuipuTrustPolicy  *policy,
                                QuipuTrustVia           *via,
                                char                   **fingerprint,
                                GError                 **error);

/* Client credentials, shared by every connection of the process. They are
 * made without trust anchors: quipu_tls_verify_peer loads the system CAs
 * into them the first time a certificate needs them (step 3 above). */
gnutls_certificate_credentials_t quipu_tls_client_credentials (GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuServerCredentials, quipu_server_credentials_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuTrustStore, quipu_trust_store_free)

G_END_DECLS
