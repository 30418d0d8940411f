#define G_LOG_DOMAIN "quipu-error"

#include "config.h"

#include "quipu-error-private.h"

typedef struct {
  char               *presented;
  char               *pinned;
  QuipuProtocolError  problem;
} QuipuProtocolErrorPrivate;

static void
quipu_protocol_error_private_init (QuipuProtocolErrorPrivate *priv)
{
}

static void
quipu_protocol_error_private_copy (const QuipuProtocolErrorPrivate *src,
                                   QuipuProtocolErrorPrivate       *dest)
{
  /* NULL only if GLib's own domain check failed. */
  if (src == NULL || dest == NULL)
    return;
  dest->presented = g_strdup (src->presented);
  dest->pinned = g_strdup (src->pinned);
  dest->problem = src->problem;
}

static void
quipu_protocol_error_private_clear (QuipuProtocolErrorPrivate *priv)
{
  if (priv == NULL)
    return;
  g_free (priv->presented);
  g_free (priv->pinned);
}

/* An extended domain (GLib 2.68): every error of it can carry data. */
G_DEFINE_EXTENDED_ERROR (QuipuProtocolError, quipu_protocol_error)

static QuipuProtocolErrorPrivate *
get_private (const GError *error)
{
  if (error == NULL || error->domain != QUIPU_PROTOCOL_ERROR)
    return NULL;
  return quipu_protocol_error_get_private (error);
}

void
quipu_error_set_certificate (GError             *error,
                             QuipuProtocolError  problem,
                             const char         *presented,
                             const char         *pinned)
{
  QuipuProtocolErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);

  g_free (priv->presented);
  g_free (priv->pinned);
  priv->presented = g_strdup (presented);
  priv->pinned = g_strdup (pinned);
  priv->problem = problem;
}

QuipuProtocolError
quipu_error_get_certificate_problem (const GError *error)
{
  QuipuProtocolErrorPrivate *priv = get_private (error);

  return priv ? priv->problem : QUIPU_PROTOCOL_ERROR_FAILED;
}

const char *
quipu_error_get_presented_fingerprint (const GError *error)
{
  QuipuProtocolErrorPrivate *priv = get_private (error);

  return priv ? priv->presented : NULL;
}

const char *
quipu_error_get_pinned_fingerprint (const GError *error)
{
  QuipuProtocolErrorPrivate *priv = get_private (error);

  return priv ? priv->pinned : NULL;
}

static const char * const wire_names[] = {
  [QUIPU_PROTOCOL_ERROR_FAILED] = "no-error",
  [QUIPU_PROTOCOL_ERROR_PROTOCOL] = "protocol-violation",
  [QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION] = "unsupported-version",
  [QUIPU_PROTOCOL_ERROR_BAD_NAME] = "bad-name",
  [QUIPU_PROTOCOL_ERROR_NAME_TAKEN] = "name-taken",
  [QUIPU_PROTOCOL_ERROR_BAD_PROOF] = "bad-proof",
  [QUIPU_PROTOCOL_ERROR_BAD_SIGNATURE] = "bad-signature",
  [QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT] = "unknown-recipient",
  [QUIPU_PROTOCOL_ERROR_NOT_JOINED] = "not-joined",
  [QUIPU_PROTOCOL_ERROR_TOO_LARGE] = "too-large",
  [QUIPU_PROTOCOL_ERROR_BAD_REQUEST] = "bad-request",
  [QUIPU_PROTOCOL_ERROR_SERVER] = "server-error",
  [QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN] = "shutting-down",
  [QUIPU_PROTOCOL_ERROR_RATE_LIMITED] = "rate-limited",
};

const char *
quipu_error_code_to_string (guint64 code)
{
  if (code > QUIPU_PROTOCOL_ERROR_LAST_WIRE_CODE)
    return NULL;
  return wire_names[code];
}

QuipuProtocolError
quipu_error_code_from_wire (guint64 code)
{
  if (code > QUIPU_PROTOCOL_ERROR_LAST_WIRE_CODE)
    return QUIPU_PROTOCOL_ERROR_FAILED;
  return (QuipuProtocolError) code;
}
