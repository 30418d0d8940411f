#pragma once

/* The Quipu protocol library: everything an application (quipu-cli, the
 * desktop app, quipu-bench) may use. Include this header alone; the other
 * headers of src/protocol/ are internal (the server also uses some of them),
 * and *-private.h ones are for the library itself. No GnuTLS or wire types
 * appear here. */

#include "quipu-client.h"
#include "quipu-conversation.h"
#include "quipu-enums.h"
#include "quipu-error.h"
#include "quipu-identity.h"
#include "quipu-member.h"
#include "quipu-message.h"
#include "quipu-names.h"
#include "quipu-state.h"
#include "quipu-trust.h"
