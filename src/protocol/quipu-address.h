#pragma once

#include <sys/socket.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* The one way addresses are written for people and logs: "127.0.0.1:7447",
 * "[::1]:50412". */
char *quipu_socket_address_to_string (GInetSocketAddress    *address);
/* The same for a native address; "(unknown)" for what is not IP. */
char *quipu_sockaddr_to_string       (const struct sockaddr *addr);

/* `address` as a native address for a socket of `local_family`: IPv4 as an
 * IPv4-mapped IPv6 address on a dual-stack socket. An IPv6 address for an
 * IPv4 socket is G_IO_ERROR_NETWORK_UNREACHABLE. */
gboolean quipu_socket_address_to_native (GInetSocketAddress      *address,
                                         int                      local_family,
                                         struct sockaddr_storage *native,
                                         socklen_t               *native_len,
                                         GError                 **error);

G_END_DECLS
