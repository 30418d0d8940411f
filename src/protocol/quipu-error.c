#define G_LOG_DOMAIN "quipu-error"

#include "config.h"

#include "quipu-error.h"

G_DEFINE_QUARK (quipu-protocol-error-quark, quipu_protocol_error)

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
