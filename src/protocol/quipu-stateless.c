#define G_LOG_DOMAIN "quipu-stateless"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quipu-connection-private.h"
#include "quipu-stateless.h"

#define RETRY_TOKEN_LIFE (10 * NGTCP2_SECONDS)
#define STATIC_KEY_LABEL "quipu/1 stateless reset and retry key"

gsize
quipu_stateless_write_version_negotiation (guint8                   *buf,
                                           const ngtcp2_version_cid *vc)
{
  static const guint32 versions[] = { NGTCP2_PROTO_VER_V1 };
  guint8 unused;
  ngtcp2_ssize n;

  gnutls_rnd (GNUTLS_RND_NONCE, &unused, 1);
  n = ngtcp2_pkt_write_version_negotiation (buf, QUIPU_MAX_PACKET, unused, vc->scid, vc->scidlen,
                                            vc->dcid, vc->dcidlen, versions, G_N_ELEMENTS (versions));
  return n > 0 ? (gsize) n : 0;
}

gsize
quipu_stateless_write_retry (guint8                *buf,
                             const guint8          *secret,
                             const ngtcp2_pkt_hd   *hd,
                             const struct sockaddr *remote,
                             socklen_t              remote_len,
                             ngtcp2_tstamp          ts)
{
  guint8 token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN2];
  ngtcp2_cid scid;
  ngtcp2_ssize token_len, n;

  scid.datalen = QUIPU_CID_LEN;
  if (gnutls_rnd (GNUTLS_RND_NONCE, scid.data, scid.datalen) != 0)
    return 0;
  token_len = ngtcp2_crypto_generate_retry_token2 (token, secret, QUIPU_STATELESS_SECRET_LEN, hd->version,
                                                   (const ngtcp2_sockaddr *) remote, remote_len,
                                                   &scid, &hd->dcid, ts);
  if (token_len < 0)
    return 0;
  n = ngtcp2_crypto_write_retry (buf, QUIPU_MAX_PACKET, hd->version, &hd->scid, &scid, &hd->dcid,
                                 token, token_len);
  return n > 0 ? (gsize) n : 0;
}

gsize
quipu_stateless_write_refusal (guint8              *buf,
                               const ngtcp2_pkt_hd *hd,
                               const char          *reason)
{
  ngtcp2_ssize n;

  /* In an Initial protected with the keys the client's own Initial
   * derived: it can read it before any handshake state exists here. */
  n = ngtcp2_crypto_write_connection_close (buf, QUIPU_MAX_PACKET, hd->version, &hd->scid, &hd->dcid,
                                            NGTCP2_CONNECTION_REFUSED, (const uint8_t *) reason,
                                            strlen (reason));
  return n > 0 ? (gsize) n : 0;
}

gsize
quipu_stateless_write_reset (guint8                   *buf,
                             const guint8             *secret,
                             const ngtcp2_version_cid *vc,
                             gsize                     trigger_len)
{
  guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN];
  guint8 random[64];
  ngtcp2_cid dcid;
  gsize rand_len;
  ngtcp2_ssize n;

  /* Smaller than what triggered it, so two endpoints can never keep
   * resetting each other (RFC 9000 §10.3.3); one byte smaller for a short
   * trigger such as a keep-alive PING (§10.3), as long as the token and the
   * unpredictable bits still fit. */
  if (trigger_len <= NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN)
    return 0;
  rand_len = MIN (sizeof random, trigger_len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN);

  ngtcp2_cid_init (&dcid, vc->dcid, vc->dcidlen);
  if (ngtcp2_crypto_generate_stateless_reset_token (token, secret, QUIPU_STATELESS_SECRET_LEN, &dcid) != 0)
    return 0;
  gnutls_rnd (GNUTLS_RND_NONCE, random, rand_len);
  n = ngtcp2_pkt_write_stateless_reset (buf, QUIPU_MAX_PACKET, token, random, rand_len);
  return n > 0 ? (gsize) n : 0;
}

gboolean
quipu_stateless_verify_retry (const guint8          *secret,
                              const ngtcp2_pkt_hd   *hd,
                              const struct sockaddr *remote,
                              socklen_t              remote_len,
                              ngtcp2_tstamp          ts,
                              ngtcp2_cid            *original_dcid)
{
  return hd->tokenlen > 0 && hd->token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY2 &&
         ngtcp2_crypto_verify_retry_token2 (original_dcid, hd->token, hd->tokenlen, secret,
                                            QUIPU_STATELESS_SECRET_LEN, hd->version,
                                            (const ngtcp2_sockaddr *) remote, remote_len,
                                            &hd->dcid, RETRY_TOKEN_LIFE, ts) == 0;
}

/* The key behind stateless reset and Retry tokens, derived from the TLS
 * private key so that it outlives the process. A server restarted after a
 * crash then answers packets of its old connections with resets their
 * clients recognise (RFC 9000 §10.3), and they reconnect at once instead of
 * waiting out their idle timeout. FALSE if the key cannot be exported. */
gboolean
quipu_stateless_derive_secret (QuipuServerCredentials *credentials,
                               guint8                  out[QUIPU_STATELESS_SECRET_LEN])
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t der = { NULL, 0 };
  gboolean ok;

  G_STATIC_ASSERT (QUIPU_STATELESS_SECRET_LEN == 32);   /* one SHA-256 output */
  ok = gnutls_certificate_get_x509_key (quipu_server_credentials_get_gnutls (credentials), 0, &key) == 0 &&
       gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_DER, &der) == 0 &&
       gnutls_hmac_fast (GNUTLS_MAC_SHA256, der.data, der.size,
                         STATIC_KEY_LABEL, strlen (STATIC_KEY_LABEL), out) == 0;
  if (der.data != NULL)
    {
      gnutls_memset (der.data, 0, der.size);
      gnutls_free (der.data);
    }
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok;
}
