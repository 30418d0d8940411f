#pragma once

#include "quipu-error.h"

G_BEGIN_DECLS

/* Attaches the fingerprints of a refused certificate to an error of the
 * QUIPU_PROTOCOL_ERROR domain, with the code a session reports it under
 * (the TLS layer keeps reporting _UNTRUSTED for a changed certificate;
 * QuipuClient raises it as `problem`). */
void               quipu_error_set_certificate         (GError             *error,
                                                        QuipuProtocolError  problem,
                                                        const char         *presented,
                                                        const char         *pinned);
/* _FAILED when the error carries no certificate problem. */
QuipuProtocolError quipu_error_get_certificate_problem (const GError       *error);

G_END_DECLS
