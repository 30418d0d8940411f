#define G_LOG_DOMAIN "quipu-endpoint"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <glib-unix.h>

#include "quipu-address.h"
#include "quipu-cid-table.h"
#include "quipu-connection-private.h"
#include "quipu-datagram-socket.h"
#include "quipu-endpoint.h"
#include "quipu-error.h"
#include "quipu-handshake-limits.h"
#include "quipu-stateless.h"
#include "quipu-deadline-heap.h"

#define SECRET_LEN       QUIPU_STATELESS_SECRET_LEN
/* Datagrams read per dispatch before timers and writes get their turn. */
#define RECV_BUDGET      1024
#define MAX_CONNECTIONS  100000

G_STATIC_ASSERT (QUIPU_MAX_PACKET <= QUIPU_DATAGRAM_MAX);

/* The endpoint's record of one connection: what it needs to route packets
 * to it and to wake it up. The connection knows it only as its sink data. */
typedef struct {
  QuipuDeadline    deadline;      /* first: the heap holds routes by it */
  QuipuEndpoint   *endpoint;
  QuipuConnection *conn;          /* a ref; NULL while it is being made */
  QuipuHandshakeSlot *handshake;  /* server: counted while its handshake is in progress */
  gboolean         dirty;
  GList            dirty_link;    /* in endpoint->dirty while dirty */
  QuipuCidEntry    keys;          /* in endpoint->routes */
} Route;

struct _QuipuEndpoint {
  GSource                       source;
  gpointer                      fd_tag;
  QuipuDatagramSocket          *socket;
  gboolean                      is_server;

  QuipuServerCredentials       *credentials;
  QuipuServerOptions            options;
  const QuipuEndpointCallbacks *callbacks;
  gpointer                      user_data;

  QuipuCidTable                 routes;    /* routes by connection ID, reset token, address */
  QuipuDeadlineHeap             heap;      /* every route, by its connection's expiry; owns them */
  GQueue                        dirty;     /* routes with something to write */
  gboolean                      in_dispatch;
  gboolean                      released;  /* goes once its connections have */
  guint8                        secret[SECRET_LEN];
  QuipuHandshakeLimits         *handshakes;  /* server */
  QuipuEndpointStats            stats;

  gboolean                      shutting_down;
  GSourceFunc                   shutdown_done;
  gpointer                      shutdown_data;
};

static void
cid_random (ngtcp2_cid *cid, gsize len)
{
  cid->datalen = len;
  if (gnutls_rnd (GNUTLS_RND_NONCE, cid->data, len) != 0)
    g_error ("gnutls_rnd failed");
}

/* Routes. */

static Route *
route_new (QuipuEndpoint *endpoint)
{
  Route *route = g_new0 (Route, 1);

  route->deadline = (QuipuDeadline) QUIPU_DEADLINE_INIT;
  route->endpoint = endpoint;
  route->dirty_link.data = route;
  quipu_cid_entry_init (&route->keys, route);
  return route;
}

/* Only the endpoint drops a route, never from inside a call into its
 * connection, and the connection forgets its sink first. */
static void
route_free (Route *route)
{
  QuipuEndpoint *endpoint = route->endpoint;

  quipu_cid_table_remove (&endpoint->routes, &route->keys);
  if (route->dirty)
    g_queue_unlink (&endpoint->dirty, &route->dirty_link);
  if (quipu_deadline_is_queued (&route->deadline))
    quipu_deadline_heap_remove (&endpoint->heap, &route->deadline);
  if (route->handshake != NULL)
    quipu_handshake_limits_end (endpoint->handshakes, route->handshake);
  if (route->conn != NULL)
    {
      quipu_connection_detach (route->conn);
      quipu_connection_unref (route->conn);
    }
  g_free (route);
}

static void
update_wake (Route *route)
{
  quipu_deadline_heap_set (&route->endpoint->heap, &route->deadline,
                           quipu_connection_get_expiry (route->conn));
}

static void
mark_dirty (Route *route)
{
  QuipuEndpoint *endpoint = route->endpoint;

  if (route->dirty)
    return;
  route->dirty = TRUE;
  g_queue_push_tail_link (&endpoint->dirty, &route->dirty_link);
  if (!endpoint->in_dispatch && !g_source_is_destroyed (&endpoint->source))
    g_source_set_ready_time (&endpoint->source, 0);
}

/* Sending: batched while dispatching, at once otherwise. */

static gboolean
send_packet (QuipuEndpoint     *endpoint,
             const ngtcp2_path *path,
             const guint8      *data,
             gsize              len)
{
  if (g_source_is_destroyed (&endpoint->source) ||
      !quipu_datagram_socket_queue (endpoint->socket, (const struct sockaddr *) path->remote.addr,
                                    path->remote.addrlen, data, len))
    return FALSE;
  if (!endpoint->in_dispatch)
    {
      quipu_datagram_socket_flush (endpoint->socket);
      if (quipu_datagram_socket_has_unroutable (endpoint->socket))
        g_source_set_ready_time (&endpoint->source, 0);
    }
  return TRUE;
}

/* An answer from quipu-stateless, if it wrote one. */
static void
send_raw (QuipuEndpoint *endpoint, const struct sockaddr *remote, socklen_t remote_len,
          const guint8 *data, gsize len)
{
  ngtcp2_path path = { .remote = { (ngtcp2_sockaddr *) remote, remote_len } };

  if (len > 0)
    send_packet (endpoint, &path, data, len);
}

/* The sink: all a connection can ask of its endpoint. */

static gboolean
sink_send_packet (gpointer sink_data, const ngtcp2_path *path, const guint8 *data, gsize len)
{
  Route *route = sink_data;

  return send_packet (route->endpoint, path, data, len);
}

static void
sink_mark_dirty (gpointer sink_data)
{
  mark_dirty (sink_data);
}

static gboolean
sink_new_cid (gpointer    sink_data,
              ngtcp2_cid *cid,
              gsize       len,
              guint8      token[NGTCP2_STATELESS_RESET_TOKENLEN])
{
  Route *route = sink_data;

  cid_random (cid, len);
  if (ngtcp2_crypto_generate_stateless_reset_token (token, route->endpoint->secret,
                                                    SECRET_LEN, cid) != 0)
    return FALSE;
  quipu_cid_table_add_cid (&route->endpoint->routes, &route->keys, cid->data, cid->datalen);
  return TRUE;
}

static void
sink_retire_cid (gpointer sink_data, const ngtcp2_cid *cid)
{
  Route *route = sink_data;

  quipu_cid_table_retire_cid (&route->endpoint->routes, &route->keys, cid->data, cid->datalen);
}

static void
sink_reset_token (gpointer     sink_data,
                  const guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN],
                  gboolean     valid)
{
  Route *route = sink_data;

  quipu_cid_table_set_token (&route->endpoint->routes, &route->keys, token, valid);
}

static const QuipuConnectionSink route_sink = {
  .send_packet = sink_send_packet,
  .mark_dirty = sink_mark_dirty,
  .new_cid = sink_new_cid,
  .retire_cid = sink_retire_cid,
  .reset_token = sink_reset_token,
};

static void
setup_for_route (QuipuConnectionSetup *setup, Route *route,
                 const struct sockaddr *remote, socklen_t remote_len)
{
  setup->sink = &route_sink;
  setup->sink_data = route;
  setup->local = quipu_datagram_socket_get_local (route->endpoint->socket, &setup->local_len);
  setup->remote = remote;
  setup->remote_len = remote_len;
}

/* Until a server connection is accepted, the endpoint listens to it: the
 * owner learns of it only once its handshake is done. */

static void
on_handshake_done (QuipuConnection *conn, gpointer user_data)
{
  Route *route = user_data;
  QuipuEndpoint *endpoint = route->endpoint;

  quipu_handshake_limits_end (endpoint->handshakes, g_steal_pointer (&route->handshake));
  quipu_connection_set_callbacks (conn, NULL, NULL);
  if (endpoint->callbacks != NULL && endpoint->callbacks->accepted != NULL)
    endpoint->callbacks->accepted (endpoint, conn, endpoint->user_data);
}

static void
on_handshake_failed (QuipuConnection *conn, const GError *error, gpointer user_data)
{
  QuipuEndpoint *endpoint = ((Route *) user_data)->endpoint;
  g_autoptr(GError) fallback = NULL;

  if (endpoint->callbacks == NULL || endpoint->callbacks->handshake_failed == NULL)
    return;
  if (error == NULL)
    error = fallback = g_error_new_literal (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE,
                                            "the handshake did not complete");
  endpoint->callbacks->handshake_failed (endpoint, quipu_connection_get_peer (conn), error,
                                         endpoint->user_data);
}

static const QuipuConnectionCallbacks handshake_callbacks = {
  .established = on_handshake_done,
  .closed = on_handshake_failed,
};

/* Said, not silent: the client reports "server busy" instead of timing out. */
static void
refuse_initial (QuipuEndpoint *endpoint, const ngtcp2_pkt_hd *hd,
                const struct sockaddr *remote, socklen_t remote_len, const char *reason)
{
  guint8 buf[QUIPU_MAX_PACKET];

  endpoint->stats.refused_handshakes++;
  send_raw (endpoint, remote, remote_len, buf, quipu_stateless_write_refusal (buf, hd, reason));
}

static void
accept_connection (QuipuEndpoint *endpoint, const guint8 *data, gsize len,
                   const struct sockaddr *remote, socklen_t remote_len, ngtcp2_tstamp ts)
{
  g_autoptr(GError) error = NULL;
  QuipuConnectionSetup setup = { 0 };
  ngtcp2_pkt_hd hd;
  ngtcp2_cid original_dcid;
  const ngtcp2_cid *retry_scid = NULL;
  guint8 buf[QUIPU_MAX_PACKET];
  gboolean want_retry;
  Route *route;

  if (ngtcp2_accept (&hd, data, len) != 0 || hd.type == NGTCP2_PKT_0RTT)
    return;
  if (endpoint->shutting_down)
    return;

  /* Retry asks the client to prove its address before it costs any state:
   * always with --retry, else while many handshakes are in progress. A
   * token from a Retry sent while that lasted is still honoured after. */
  want_retry = endpoint->options.require_retry || quipu_handshake_limits_want_retry (endpoint->handshakes);
  if (quipu_stateless_verify_retry (endpoint->secret, &hd, remote, remote_len, ts, &original_dcid))
    retry_scid = &hd.dcid;
  else if (want_retry)
    {
      /* No token, or a stale or forged one: ask again rather than trust it. */
      gsize retry_len = quipu_stateless_write_retry (buf, endpoint->secret, &hd, remote, remote_len, ts);

      endpoint->stats.retries_sent += retry_len > 0;
      send_raw (endpoint, remote, remote_len, buf, retry_len);
      return;
    }
  else
    {
      original_dcid = hd.dcid;
      hd.tokenlen = 0;
    }

  /* Refused only where state would be made, so with Retry on only at
   * addresses that proved they are the sender's. */
  if (quipu_deadline_heap_size (&endpoint->heap) >= MAX_CONNECTIONS)
    {
      refuse_initial (endpoint, &hd, remote, remote_len, "server busy: too many connections");
      return;
    }
  if (!quipu_handshake_limits_allow (endpoint->handshakes, remote))
    {
      refuse_initial (endpoint, &hd, remote, remote_len,
                      "server busy: too many handshakes in progress from your address");
      return;
    }

  route = route_new (endpoint);
  setup_for_route (&setup, route, remote, remote_len);
  setup.creds = quipu_server_credentials_get_gnutls (endpoint->credentials);
  setup.idle_timeout_ms = endpoint->options.idle_timeout_ms;
  route->conn = quipu_connection_new_server (&setup, &hd, &original_dcid, retry_scid, ts, &error);
  if (route->conn == NULL)
    {
      g_warning ("cannot accept a connection: %s", error->message);
      route_free (route);
      return;
    }
  /* Until the client switches to our id, its Initials carry the one it chose. */
  quipu_cid_table_add_cid (&endpoint->routes, &route->keys, hd.dcid.data, hd.dcid.datalen);
  route->handshake = quipu_handshake_limits_begin (endpoint->handshakes, remote);
  quipu_connection_set_callbacks (route->conn, &handshake_callbacks, route);
  quipu_deadline_heap_add (&endpoint->heap, &route->deadline);
  quipu_connection_read_packet (route->conn, remote, remote_len, data, len, ts);
}

static void
route_datagram (QuipuEndpoint *endpoint, const guint8 *data, gsize len,
                const struct sockaddr *remote, socklen_t remote_len, ngtcp2_tstamp ts)
{
  guint8 buf[QUIPU_MAX_PACKET];
  ngtcp2_version_cid vc;
  Route *route;
  int rv;

  /* Both sides pick QUIPU_CID_LEN-byte ids, so short headers parse alike. */
  rv = ngtcp2_pkt_decode_version_cid (&vc, data, len, QUIPU_CID_LEN);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION)
    {
      if (endpoint->is_server)
        send_raw (endpoint, remote, remote_len, buf,
                  quipu_stateless_write_version_negotiation (buf, &vc));
      return;
    }
  if (rv != 0)
    return;

  route = quipu_cid_table_lookup (&endpoint->routes, vc.dcid, vc.dcidlen);
  if (route == NULL && !endpoint->is_server && !(data[0] & 0x80) &&
      len >= NGTCP2_MIN_STATELESS_RESET_RANDLEN + 1 + NGTCP2_STATELESS_RESET_TOKENLEN)
    {
      /* Perhaps a stateless reset: its token is its last bytes. */
      route = quipu_cid_table_lookup_token (&endpoint->routes, data + len - NGTCP2_STATELESS_RESET_TOKENLEN);
    }
  if (route != NULL)
    quipu_connection_read_packet (route->conn, remote, remote_len, data, len, ts);
  else if (!endpoint->is_server)
    return;
  else if (data[0] & 0x80)
    accept_connection (endpoint, data, len, remote, remote_len, ts);
  else
    send_raw (endpoint, remote, remote_len, buf,
              quipu_stateless_write_reset (buf, endpoint->secret, &vc, len));
}

/* Client: the server's port answered with ICMP "port unreachable", or
 * there is no route to it. Ends every connection to that address (a copy:
 * a closed callback may connect again). */
static void
refuse_remote (const struct sockaddr *remote, int error_code, gpointer user_data)
{
  QuipuEndpoint *endpoint = user_data;
  g_autoptr(GPtrArray) conns = g_ptr_array_new_with_free_func ((GDestroyNotify) quipu_connection_unref);
  GQueue *routes = quipu_cid_table_get_remote (&endpoint->routes, remote);

  if (routes == NULL || g_source_is_destroyed (&endpoint->source))
    return;
  for (GList *l = routes->head; l != NULL; l = l->next)
    g_ptr_array_add (conns, quipu_connection_ref (((Route *) l->data)->conn));
  for (guint i = 0; i < conns->len; i++)
    {
      QuipuConnection *conn = conns->pdata[i];
      const char *peer = quipu_connection_get_peer (conn);

      quipu_connection_die (conn, error_code == ECONNREFUSED
                            ? g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                           "cannot reach %s: connection refused (is quipu-server running there?)",
                                           peer)
                            : g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                           "cannot reach %s: %s", peer, g_strerror (error_code)));
    }
}

static gboolean
on_datagram (const guint8 *data, gsize len, const struct sockaddr *remote, socklen_t remote_len,
             gpointer user_data)
{
  QuipuEndpoint *endpoint = user_data;

  route_datagram (endpoint, data, len, remote, remote_len, quipu_transport_now ());
  return !g_source_is_destroyed (&endpoint->source);
}

static void
handle_timers (QuipuEndpoint *endpoint)
{
  ngtcp2_tstamp ts = quipu_transport_now ();
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GPtrArray) due = g_ptr_array_new ();
  QuipuDeadline *deadline;

  /* Take the due ones off the heap first, so a connection whose next wake is
   * still in the past cannot keep this loop going. */
  while ((deadline = quipu_deadline_heap_peek (&endpoint->heap)) != NULL && deadline->when <= now)
    {
      quipu_deadline_heap_remove (&endpoint->heap, deadline);
      g_ptr_array_add (due, deadline);
    }

  for (guint i = 0; i < due->len; i++)
    {
      Route *route = due->pdata[i];

      quipu_connection_handle_expiry (route->conn, ts);
      route->deadline.when = quipu_connection_get_expiry (route->conn);
      quipu_deadline_heap_add (&endpoint->heap, &route->deadline);
      mark_dirty (route);
    }
}

static void
write_connections (QuipuEndpoint *endpoint)
{
  GList *link;

  while (!quipu_datagram_socket_is_blocked (endpoint->socket) &&
         (link = g_queue_pop_head_link (&endpoint->dirty)) != NULL)
    {
      Route *route = link->data;

      route->dirty = FALSE;
      quipu_connection_write_packets (route->conn, quipu_transport_now ());
      if (g_source_is_destroyed (&endpoint->source))
        return;
      if (quipu_connection_is_dead (route->conn))
        route_free (route);
      else
        update_wake (route);
    }
}

static gboolean
endpoint_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  QuipuEndpoint *endpoint = (QuipuEndpoint *) source;
  GIOCondition cond = g_source_query_unix_fd (source, endpoint->fd_tag);
  gboolean blocked;
  gint64 ready;

  endpoint->in_dispatch = TRUE;

  if (cond & G_IO_OUT)
    quipu_datagram_socket_flush (endpoint->socket);

  if ((cond & G_IO_ERR) && !endpoint->is_server)
    quipu_datagram_socket_read_errors (endpoint->socket, refuse_remote, endpoint);
  if (!endpoint->is_server)
    quipu_datagram_socket_take_unroutable (endpoint->socket, refuse_remote, endpoint);

  if ((cond & (G_IO_IN | G_IO_ERR)) && !g_source_is_destroyed (source) &&
      quipu_datagram_socket_receive (endpoint->socket, RECV_BUDGET, on_datagram,
                                     endpoint->is_server ? NULL : refuse_remote, endpoint) > 0 &&
      endpoint->callbacks != NULL && endpoint->callbacks->batch_end != NULL &&
      !g_source_is_destroyed (source))
    endpoint->callbacks->batch_end (endpoint, endpoint->user_data);

  if (!g_source_is_destroyed (source))
    handle_timers (endpoint);
  if (!g_source_is_destroyed (source))
    write_connections (endpoint);
  if (!g_source_is_destroyed (source))
    quipu_datagram_socket_flush (endpoint->socket);

  endpoint->in_dispatch = FALSE;
  if (g_source_is_destroyed (source))
    return G_SOURCE_REMOVE;

  if (endpoint->released && quipu_deadline_heap_size (&endpoint->heap) == 0)
    {
      /* The owner let go and the last connection has closed: the main
       * context's ref is the last one, and it goes with this. */
      g_source_destroy (source);
      return G_SOURCE_REMOVE;
    }

  blocked = quipu_datagram_socket_is_blocked (endpoint->socket);
  if ((!g_queue_is_empty (&endpoint->dirty) && !blocked) ||
      (!endpoint->is_server && quipu_datagram_socket_has_unroutable (endpoint->socket)))
    ready = 0;
  else if (quipu_deadline_heap_size (&endpoint->heap) > 0)
    ready = quipu_deadline_heap_peek (&endpoint->heap)->when;
  else
    ready = G_MAXINT64;
  g_source_set_ready_time (source, ready == G_MAXINT64 ? -1 : ready);
  g_source_modify_unix_fd (source, endpoint->fd_tag, G_IO_IN | (blocked ? G_IO_OUT : 0));

  if (endpoint->shutting_down && quipu_deadline_heap_size (&endpoint->heap) == 0 &&
      endpoint->shutdown_done != NULL)
    {
      GSourceFunc done = g_steal_pointer (&endpoint->shutdown_done);

      done (endpoint->shutdown_data);
    }

  return G_SOURCE_CONTINUE;
}

static void
endpoint_finalize (GSource *source)
{
  QuipuEndpoint *endpoint = (QuipuEndpoint *) source;
  QuipuDatagramStats stats;

  /* For measurements (G_MESSAGES_DEBUG): packets against system calls. */
  quipu_datagram_socket_get_stats (endpoint->socket, &stats);
  g_debug ("io: sent %" G_GUINT64_FORMAT " datagrams in %" G_GUINT64_FORMAT " sends (%" G_GUINT64_FORMAT
           " calls), received %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT " receives (%" G_GUINT64_FORMAT
           " calls); GSO %s, GRO %s",
           stats.datagrams_sent, stats.sends, stats.send_calls,
           stats.datagrams_received, stats.receives, stats.receive_calls,
           stats.gso ? "on" : "off", stats.gro ? "on" : "off");

  /* Connections still here die with the socket; owners holding refs keep
   * harmless husks that refuse to send. */
  while (quipu_deadline_heap_size (&endpoint->heap) > 0)
    route_free ((Route *) quipu_deadline_heap_peek (&endpoint->heap));
  quipu_deadline_heap_clear (&endpoint->heap);
  quipu_cid_table_clear (&endpoint->routes);
  g_clear_pointer (&endpoint->handshakes, quipu_handshake_limits_free);
  gnutls_memset (endpoint->secret, 0, sizeof endpoint->secret);
  quipu_datagram_socket_free (endpoint->socket);
}

static GSourceFuncs endpoint_funcs = {
  .dispatch = endpoint_dispatch,
  .finalize = endpoint_finalize,
};

static QuipuEndpoint *
endpoint_new (const struct sockaddr *local,
              socklen_t              local_len,
              gboolean               is_server,
              GError               **error)
{
  /* Unconnected, a client learns of ICMP errors only when it asks. */
  QuipuDatagramSocket *socket = quipu_datagram_socket_new (local, local_len, !is_server, error);
  QuipuEndpoint *endpoint;

  if (socket == NULL)
    return NULL;

  endpoint = (QuipuEndpoint *) g_source_new (&endpoint_funcs, sizeof (QuipuEndpoint));
  g_source_set_static_name (&endpoint->source, is_server ? "quipu server endpoint" : "quipu client endpoint");
  endpoint->socket = socket;
  endpoint->is_server = is_server;
  quipu_cid_table_init (&endpoint->routes);
  quipu_deadline_heap_init (&endpoint->heap);
  g_queue_init (&endpoint->dirty);
  gnutls_rnd (GNUTLS_RND_KEY, endpoint->secret, sizeof endpoint->secret);

  endpoint->fd_tag = g_source_add_unix_fd (&endpoint->source, quipu_datagram_socket_get_fd (socket), G_IO_IN);
  g_source_attach (&endpoint->source, g_main_context_get_thread_default ());
  return endpoint;
}

QuipuEndpoint *
quipu_endpoint_new_server (GInetSocketAddress           *address,
                           QuipuServerCredentials       *credentials,
                           const QuipuServerOptions     *options,
                           const QuipuEndpointCallbacks *callbacks,
                           gpointer                      user_data,
                           GError                      **error)
{
  struct sockaddr_storage native;
  guint8 static_key[SECRET_LEN];
  QuipuEndpoint *endpoint;

  if (!g_socket_address_to_native (G_SOCKET_ADDRESS (address), &native, sizeof native, error))
    return NULL;
  endpoint = endpoint_new ((struct sockaddr *) &native,
                           g_socket_address_get_native_size (G_SOCKET_ADDRESS (address)), TRUE, error);
  if (endpoint == NULL)
    return NULL;

  endpoint->credentials = credentials;
  if (quipu_stateless_derive_secret (credentials, static_key))
    memcpy (endpoint->secret, static_key, sizeof static_key);
  else
    g_warning ("cannot derive a lasting key from the TLS key: after a restart, "
               "clients will notice their old connections are gone only when they time out");
  gnutls_memset (static_key, 0, sizeof static_key);
  if (options != NULL)
    endpoint->options = *options;
  if (endpoint->options.idle_timeout_ms == 0)
    endpoint->options.idle_timeout_ms = 30000;
  endpoint->handshakes = quipu_handshake_limits_new ();
  quipu_endpoint_set_handshake_limits (endpoint, endpoint->options.max_handshakes_per_address,
                                       endpoint->options.retry_threshold);
  endpoint->callbacks = callbacks;
  endpoint->user_data = user_data;
  return endpoint;
}

QuipuEndpoint *
quipu_endpoint_new_client (GError **error)
{
  struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
  struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_addr.s_addr = INADDR_ANY };
  g_autoptr(GError) error6 = NULL;
  QuipuEndpoint *endpoint;

  /* One dual-stack socket reaches servers of both families; a machine
   * without IPv6 gets an IPv4 one. */
  endpoint = endpoint_new ((struct sockaddr *) &any6, sizeof any6, FALSE, &error6);
  if (endpoint == NULL)
    endpoint = endpoint_new ((struct sockaddr *) &any4, sizeof any4, FALSE, error);
  return endpoint;
}

QuipuConnection *
quipu_endpoint_connect (QuipuEndpoint          *endpoint,
                        GInetSocketAddress     *address,
                        const QuipuTrustPolicy *policy,
                        guint                   idle_timeout_ms,
                        GError                **error)
{
  QuipuConnectionSetup setup = { 0 };
  struct sockaddr_storage remote;
  socklen_t remote_len, local_len;
  int local_family;
  Route *route;

  g_return_val_if_fail (!endpoint->is_server, NULL);
  g_return_val_if_fail (!endpoint->released, NULL);

  setup.creds = quipu_tls_client_credentials (error);
  if (setup.creds == NULL)
    return NULL;
  local_family = quipu_datagram_socket_get_local (endpoint->socket, &local_len)->sa_family;
  if (!quipu_socket_address_to_native (address, local_family, &remote, &remote_len, error))
    return NULL;

  route = route_new (endpoint);
  setup_for_route (&setup, route, (struct sockaddr *) &remote, remote_len);
  setup.idle_timeout_ms = idle_timeout_ms ? idle_timeout_ms : 15000;
  route->conn = quipu_connection_new_client (&setup, policy, error);
  if (route->conn == NULL)
    {
      route_free (route);
      return NULL;
    }
  quipu_cid_table_set_remote (&endpoint->routes, &route->keys, (struct sockaddr *) &remote);
  quipu_deadline_heap_add (&endpoint->heap, &route->deadline);
  mark_dirty (route);
  return quipu_connection_ref (route->conn);
}

void
quipu_endpoint_free (QuipuEndpoint *endpoint)
{
  g_source_destroy (&endpoint->source);
  g_source_unref (&endpoint->source);
}

void
quipu_endpoint_release (QuipuEndpoint *endpoint)
{
  endpoint->released = TRUE;
  for (guint i = 0; i < quipu_deadline_heap_size (&endpoint->heap); i++)
    quipu_connection_close (((Route *) quipu_deadline_heap_get (&endpoint->heap, i))->conn, 0, NULL, 0);
  if (quipu_deadline_heap_size (&endpoint->heap) == 0)
    g_source_destroy (&endpoint->source);
  else if (!endpoint->in_dispatch)
    g_source_set_ready_time (&endpoint->source, 0);
  g_source_unref (&endpoint->source);
}

void
quipu_endpoint_set_handshake_limits (QuipuEndpoint *endpoint,
                                     guint          max_per_address,
                                     guint          retry_threshold)
{
  g_return_if_fail (endpoint->is_server);

  endpoint->options.max_handshakes_per_address = max_per_address;
  endpoint->options.retry_threshold = retry_threshold;
  quipu_handshake_limits_configure (endpoint->handshakes, max_per_address, retry_threshold);
}

void
quipu_endpoint_get_stats (QuipuEndpoint      *endpoint,
                          QuipuEndpointStats *stats)
{
  *stats = endpoint->stats;
  stats->handshakes = endpoint->handshakes != NULL ? quipu_handshake_limits_in_progress (endpoint->handshakes) : 0;
}

GInetSocketAddress *
quipu_endpoint_get_local_address (QuipuEndpoint *endpoint)
{
  socklen_t len;
  const struct sockaddr *local = quipu_datagram_socket_get_local (endpoint->socket, &len);

  return G_INET_SOCKET_ADDRESS (g_socket_address_new_from_native ((gpointer) local, len));
}

static gboolean
shutdown_done_idle (gpointer data)
{
  QuipuEndpoint *endpoint = data;
  GSourceFunc done = g_steal_pointer (&endpoint->shutdown_done);

  if (done != NULL)
    done (endpoint->shutdown_data);
  return G_SOURCE_REMOVE;
}

void
quipu_endpoint_shutdown (QuipuEndpoint *endpoint,
                         guint64        app_error,
                         const char    *reason,
                         guint          linger_ms,
                         GSourceFunc    done,
                         gpointer       done_data)
{
  endpoint->shutting_down = TRUE;
  endpoint->shutdown_done = done;
  endpoint->shutdown_data = done_data;

  for (guint i = 0; i < quipu_deadline_heap_size (&endpoint->heap); i++)
    {
      QuipuConnection *conn = ((Route *) quipu_deadline_heap_get (&endpoint->heap, i))->conn;

      /* One already closed only waits out its closing period (three
       * PTOs, seconds after a storm of handshakes) to answer strays: not
       * worth keeping a shutdown waiting. Dropped at the next write. */
      if (quipu_connection_is_closed (conn))
        quipu_connection_die (conn, g_error_new_literal (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN,
                                                         reason != NULL ? reason : "shutting down"));
      else
        quipu_connection_close (conn, app_error, reason, linger_ms);
    }

  if (quipu_deadline_heap_size (&endpoint->heap) == 0)
    g_idle_add (shutdown_done_idle, endpoint);
}
