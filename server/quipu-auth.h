#pragma once

#include "quipu-request.h"

G_BEGIN_DECLS

/* CONNECT: checks the version and the login proof, registers or recognises
 * the name, and answers with WELCOME and the inbox page the client is owed. */
void quipu_auth_handle_connect (QuipuRequest     *request,
                                const QuipuFrame *frame);

G_END_DECLS
