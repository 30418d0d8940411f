#define G_LOG_DOMAIN "quipu-transport-error"

#include "config.h"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quipu-error.h"
#include "quipu-tls.h"
#include "quipu-transport-error.h"

GError *
quipu_transport_error_from_liberr (int         liberr,
                                   const char *peer)
{
  return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                      "QUIC error with %s: %s", peer, ngtcp2_strerror (liberr));
}

GError *
quipu_transport_error_from_tls_alert (guint8      alert,
                                      const char *peer,
                                      gboolean    is_server,
                                      gboolean    sent_by_peer)
{
  const char *name = gnutls_alert_get_name ((gnutls_alert_description_t) alert);

  if (alert == GNUTLS_A_NO_APPLICATION_PROTOCOL)
    return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE,
                        "%s does not speak %s (TLS alert %u: %s)",
                        is_server ? "the client" : peer, QUIPU_ALPN, alert,
                        name ? name : "no application protocol");

  return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE,
                      "TLS handshake with %s failed: %s alert %u (%s)",
                      peer, sent_by_peer ? "received" : "sent", alert,
                      name ? name : "unknown");
}

GError *
quipu_transport_error_from_close (const ngtcp2_ccerr *ccerr,
                                  const char         *peer,
                                  gboolean            is_server)
{
  /* A close without a reason phrase has none at all, not an empty one. */
  g_autofree char *reason = g_strndup (ccerr->reason != NULL ? (const char *) ccerr->reason : "",
                                       ccerr->reasonlen);

  if (ccerr->type == NGTCP2_CCERR_TYPE_APPLICATION)
    {
      if (ccerr->error_code == 0)
        return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                            "%s closed the connection%s%s", peer,
                            *reason ? ": " : "", reason);
      return g_error_new (QUIPU_PROTOCOL_ERROR, quipu_error_code_from_wire (ccerr->error_code),
                          "%s", *reason ? reason : quipu_error_code_to_string (ccerr->error_code)
                                                   ?: "closed by the peer");
    }

  if (ccerr->error_code >= NGTCP2_CRYPTO_ERROR && ccerr->error_code <= NGTCP2_CRYPTO_ERROR + 0xff)
    return quipu_transport_error_from_tls_alert (ccerr->error_code - NGTCP2_CRYPTO_ERROR,
                                                 peer, is_server, TRUE);

  /* A server too busy to take the connection (quipu-server says why in
   * the reason, "server busy: ..."): rate-limited, like the application
   * close it sends past its connection limits, so an app shows both alike
   * and tries again later. */
  if (ccerr->error_code == NGTCP2_CONNECTION_REFUSED)
    {
      if (g_str_has_prefix (reason, "server busy"))
        return g_error_new_literal (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_RATE_LIMITED, reason);
      return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_RATE_LIMITED,
                          "server busy: %s refused the connection%s%s", peer, *reason ? ": " : "", reason);
    }

  if (ccerr->error_code == NGTCP2_NO_ERROR)
    return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CLOSED,
                        "%s closed the connection", peer);

  return g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                      "%s closed the connection with QUIC error 0x%" G_GINT64_MODIFIER "x%s%s",
                      peer, ccerr->error_code, *reason ? ": " : "", reason);
}
