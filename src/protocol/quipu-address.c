#define G_LOG_DOMAIN "quipu-address"

#include "config.h"

#include <netinet/in.h>
#include <string.h>

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

gboolean
quipu_socket_address_to_native (GInetSocketAddress      *address,
                                int                      local_family,
                                struct sockaddr_storage *native,
                                socklen_t               *native_len,
                                GError                 **error)
{
  GInetAddress *inet = g_inet_socket_address_get_address (address);
  GSocketFamily family = g_inet_address_get_family (inet);

  if (local_family == AF_INET6 && family == G_SOCKET_FAMILY_IPV4)
    {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) native;

      memset (native, 0, sizeof *native);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = g_htons (g_inet_socket_address_get_port (address));
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      memcpy (&sin6->sin6_addr.s6_addr[12], g_inet_address_to_bytes (inet), 4);
      *native_len = sizeof *sin6;
      return TRUE;
    }
  if (local_family == AF_INET && family == G_SOCKET_FAMILY_IPV6)
    {
      g_autofree char *text = quipu_socket_address_to_string (address);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                   "cannot reach %s: this machine has no IPv6", text);
      return FALSE;
    }
  *native_len = g_socket_address_get_native_size (G_SOCKET_ADDRESS (address));
  return g_socket_address_to_native (G_SOCKET_ADDRESS (address), native, sizeof *native, error);
}
