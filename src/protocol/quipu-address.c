#define G_LOG_DOMAIN "quipu-address"

#include "config.h"

#include <netinet/in.h>

#include "quipu-address.h"

char *
quipu_socket_address_to_string (GInetSocketAddress *address)
{
  GInetAddress *inet = g_inet_socket_address_get_address (address);
  g_autofree char *ip = g_inet_address_to_string (inet);
  guint16 port = g_inet_socket_address_get_port (address);

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

char *
quipu_sockaddr_to_string (const struct sockaddr *addr)
{
  gsize len = addr->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6) : sizeof (struct sockaddr_in);
  g_autoptr(GSocketAddress) gaddr = g_socket_address_new_from_native ((gpointer) addr, len);

  if (gaddr == NULL || !G_IS_INET_SOCKET_ADDRESS (gaddr))
    return g_strdup ("(unknown)");
  return quipu_socket_address_to_string (G_INET_SOCKET_ADDRESS (gaddr));
}
