#define G_LOG_DOMAIN "quipu-client"

#include "config.h"

#include "quipu-client-private.h"
#include "quipu-error.h"
#include "quipu-tls.h"
#include "quipu-tls-private.h"

/* Opening a connection: the server's address parsed, resolved without
 * blocking, and a QUIC connection started on the client's endpoint. */

typedef struct {
  QuipuClient  *self;
  GInetAddress *address;
  char         *hostname;
  guint16       port;
} Target;

static void start_connection (QuipuClient *self, GInetAddress *address, const char *hostname, guint16 port);

static void
system_trust_loaded_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Target *target = user_data;

  quipu_tls_load_system_trust_finish (result, NULL);
  if (target->self->state == QUIPU_STATE_CONNECTING && target->self->conn == NULL)
    start_connection (target->self, target->address, target->hostname, target->port);
  g_object_unref (target->self);
  g_object_unref (target->address);
  g_free (target->hostname);
  g_free (target);
}

/* A server neither pinned nor known is checked against the system CAs in
 * the handshake: have them loaded before it starts, off the main loop. */
static gboolean
needs_system_trust (QuipuClient *self, QuipuTrustStore *store)
{
  return self->pinned_fingerprint == NULL && !quipu_tls_system_trust_loaded () &&
         !quipu_trust_store_knows (store, self->server);
}

static void
start_connection (QuipuClient *self, GInetAddress *address, const char *hostname, guint16 port)
{
  g_autoptr(GSocketAddress) sockaddr = g_inet_socket_address_new (address, port);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (self->trust_store_path);
  g_autoptr(GError) error = NULL;
  QuipuTrustPolicy policy = {
    .hostname = hostname,
    .host_port = self->server,
    .pinned_fingerprint = self->pinned_fingerprint,
    .store = store,
    .refuse_unknown = !self->trust_on_first_use,
  };

  if (needs_system_trust (self, store))
    {
      Target *target = g_new0 (Target, 1);

      target->self = g_object_ref (self);
      target->address = g_object_ref (address);
      target->hostname = g_strdup (hostname);
      target->port = port;
      quipu_tls_load_system_trust_async (NULL, system_trust_loaded_cb, target);
      return;
    }
  if (self->endpoint == NULL)
    self->endpoint = quipu_endpoint_new_client (&error);
  if (self->endpoint != NULL)
    self->conn = quipu_endpoint_connect (self->endpoint, G_INET_SOCKET_ADDRESS (sockaddr), &policy, 0, &error);
  if (self->conn == NULL)
    {
      quipu_client_fail (self, g_steal_pointer (&error));
      return;
    }
  quipu_connection_set_callbacks (self->conn, &quipu_client_session_callbacks, self);
}

typedef struct {
  QuipuClient *self;
  char        *hostname;
  guint16      port;
} Resolve;

static void
resolve_free (Resolve *resolve)
{
  g_object_unref (resolve->self);
  g_free (resolve->hostname);
  g_free (resolve);
}

static void
resolved_cb (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Resolve *resolve = user_data;
  QuipuClient *self = resolve->self;
  g_autoptr(GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);

  if (addresses == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          self->state == QUIPU_STATE_CONNECTING)
        quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                 "cannot resolve %s: %s", resolve->hostname, error->message));
      resolve_free (resolve);
      return;
    }

  if (self->state == QUIPU_STATE_CONNECTING && self->conn == NULL)
    start_connection (self, addresses->data, resolve->hostname, resolve->port);
  g_resolver_free_addresses (addresses);
  resolve_free (resolve);
}

/* Requests die with the connection that carried them. */
static void
forget_requests (QuipuClient *self)
{
  GHashTableIter iter;
  QuipuSequencer *conv;

  g_hash_table_iter_init (&iter, self->conversations);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conv))
    conv->syncing = conv->loading_older = conv->confirmed = FALSE;
}

void
quipu_client_open_connection (QuipuClient *self)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GInetAddress) literal = NULL;
  g_autoptr(GResolver) resolver = NULL;
  g_autoptr(GError) error = NULL;
  Resolve *resolve;
  const char *hostname;
  guint16 port;

  forget_requests (self);
  if (self->server == NULL)
    {
      quipu_client_fail (self, g_error_new_literal (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                       "no server set"));
      return;
    }

  quipu_pins_load (self->pins, self->server);
  connectable = g_network_address_parse (self->server, QUIPU_DEFAULT_PORT, &error);
  if (connectable == NULL)
    {
      quipu_client_fail (self, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                               "not a server address: %s (expected HOST:PORT)", self->server));
      return;
    }
  hostname = g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable));
  port = g_network_address_get_port (G_NETWORK_ADDRESS (connectable));

  literal = g_inet_address_new_from_string (hostname);
  if (literal != NULL)
    {
      start_connection (self, literal, hostname, port);
      return;
    }

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  resolve = g_new0 (Resolve, 1);
  resolve->self = g_object_ref (self);
  resolve->hostname = g_strdup (hostname);
  resolve->port = port;
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, hostname, self->cancellable, resolved_cb, resolve);
}
