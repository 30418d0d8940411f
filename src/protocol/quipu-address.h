#pragma once

#include <sys/socket.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* The one way addresses are written for people and logs: "127.0.0.1:7447",
 * "[::1]:50412". */
char *quipu_socket_address_to_string (GInetSocketAddress    *address);
/* The same for a native address; "(unknown)" for what is not IP. */
char *quipu_sockaddr_to_string       (const struct sockaddr *addr);

G_END_DECLS
