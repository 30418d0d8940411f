#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QUIPU_PROTOCOL_ERROR (quipu_protocol_error_quark ())

/* GError codes of the QUIPU_PROTOCOL_ERROR domain. The values from
 * QUIPU_PROTOCOL_ERROR_PROTOCOL to QUIPU_PROTOCOL_ERROR_NOT_JOINED are also the
 * numbers carried in ERROR frames and in QUIC CONNECTION_CLOSE application
 * error codes (see PROTOCOL.md, "Error codes"); never renumber them. */
typedef enum {
  QUIPU_PROTOCOL_ERROR_FAILED = 0,             /* generic; wire: no error */
  QUIPU_PROTOCOL_ERROR_PROTOCOL = 1,           /* malformed or out-of-order frame */
  QUIPU_PROTOCOL_ERROR_UNSUPPORTED_VERSION = 2,
  QUIPU_PROTOCOL_ERROR_BAD_NAME = 3,
  QUIPU_PROTOCOL_ERROR_NAME_TAKEN = 4,
  QUIPU_PROTOCOL_ERROR_BAD_PROOF = 5,
  QUIPU_PROTOCOL_ERROR_BAD_SIGNATURE = 6,
  QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT = 7,
  QUIPU_PROTOCOL_ERROR_NOT_JOINED = 8,
  QUIPU_PROTOCOL_ERROR_TOO_LARGE = 9,
  QUIPU_PROTOCOL_ERROR_BAD_REQUEST = 10,
  QUIPU_PROTOCOL_ERROR_SERVER = 11,            /* internal server failure */
  QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN = 12,
  QUIPU_PROTOCOL_ERROR_RATE_LIMITED = 13,      /* also "server busy": a connection refused */
  QUIPU_PROTOCOL_ERROR_LAST_WIRE_CODE = QUIPU_PROTOCOL_ERROR_RATE_LIMITED,

  /* Local conditions; never on the wire. */
  QUIPU_PROTOCOL_ERROR_UNREACHABLE = 100,      /* no answer from the server */
  QUIPU_PROTOCOL_ERROR_TIMED_OUT,
  QUIPU_PROTOCOL_ERROR_HANDSHAKE,              /* TLS/QUIC handshake failed */
  QUIPU_PROTOCOL_ERROR_UNTRUSTED,              /* certificate not trusted / pin mismatch */
  QUIPU_PROTOCOL_ERROR_CLOSED,                 /* the peer closed the connection */
  QUIPU_PROTOCOL_ERROR_INVALID_STATE,          /* event not allowed in this state */
  QUIPU_PROTOCOL_ERROR_BAD_KEY,                /* malformed public or private key */
  QUIPU_PROTOCOL_ERROR_TLS,                    /* certificate/key files, GnuTLS failures */
  QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER,         /* self-signed, never seen, trust-on-first-use off */
  QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED,    /* differs from the known-servers pin */
} QuipuProtocolError;

GQuark      quipu_protocol_error_quark       (void);

/* Certificate refusals carry both fingerprints as data, not only in the
 * message: for _UNKNOWN_SERVER the presented one, for _CERTIFICATE_CHANGED
 * (and an _UNTRUSTED mismatch with a required fingerprint) also the one
 * expected. NULL for any other error. */
const char *quipu_error_get_presented_fingerprint (const GError *error);
const char *quipu_error_get_pinned_fingerprint    (const GError *error);

/* "protocol-violation", "name-taken", ... for wire codes; NULL for others. */
const char *quipu_error_code_to_string       (guint64 code);
/* Maps a wire code to a GError code; unknown codes become _FAILED. */
QuipuProtocolError quipu_error_code_from_wire (guint64 code);

G_END_DECLS
