#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How a client came to trust a server's certificate; the GnuTLS side of
 * trust lives in quipu-tls.h, inside the library. */

#define QUIPU_FINGERPRINT_PREFIX "SHA256:"

typedef enum {
  QUIPU_TRUST_VIA_PIN,         /* matched the fingerprint the caller required */
  QUIPU_TRUST_VIA_CA,          /* chains to a system CA and names the host */
  QUIPU_TRUST_VIA_KNOWN,       /* matched the known-servers file */
  QUIPU_TRUST_VIA_NEW_PIN,     /* first use: pinned now */
} QuipuTrustVia;

/* Fingerprints read "SHA256:" + unpadded base64 of SHA-256 over the DER
 * certificate, as ssh prints host keys. _parse also accepts 64 hex digits
 * with or without colons. */
gboolean quipu_tls_fingerprint_parse (const char *text, guint8 digest[32], GError **error);
gboolean quipu_tls_fingerprint_equal (const char *a, const char *b);

G_END_DECLS
