#define G_LOG_DOMAIN "quipu-endpoint"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <glib-unix.h>

#include "quipu-error.h"
#include "quipu-transport-private.h"

#define RECV_BATCH       32
#define RECV_SLOT        2048
/* Datagrams read per dispatch before timers and writes get their turn. */
#define RECV_BUDGET      1024
#define SOCKET_BUFFER    (4 * 1024 * 1024)
#define RETRY_TOKEN_LIFE (10 * NGTCP2_SECONDS)
#define MAX_CONNECTIONS  100000
#define STATIC_KEY_LABEL "quipu/1 stateless reset and retry key"

struct _QuipuEndpoint {
  GSource                       source;
  gpointer                      fd_tag;
  int                           fd;
  gboolean                      is_server;
  struct sockaddr_storage       local;
  socklen_t                     local_len;

  QuipuServerCredentials       *credentials;
  QuipuServerOptions            options;
  const QuipuEndpointCallbacks *callbacks;
  gpointer                      user_data;

  GHashTable                   *cid_map;   /* QuipuCid * (owned by the connection) -> conn */
  GPtrArray                    *heap;      /* every connection, min-heap on wake_us; holds a ref */
  GQueue                        dirty;     /* connections with something to write */
  gboolean                      in_dispatch;
  guint8                        secret[QUIPU_SECRET_LEN];

  /* Outgoing packets, sent with one sendmmsg per batch. */
  struct mmsghdr                msgs[QUIPU_SEND_BATCH];
  struct iovec                  iovs[QUIPU_SEND_BATCH];
  struct sockaddr_storage       addrs[QUIPU_SEND_BATCH];
  guint8                        bufs[QUIPU_SEND_BATCH][QUIPU_MAX_PACKET];
  guint                         n_batch;
  gboolean                      write_blocked;

  /* Incoming datagrams, read with recvmmsg. */
  struct mmsghdr                rmsgs[RECV_BATCH];
  struct iovec                  riovs[RECV_BATCH];
  struct sockaddr_storage       raddrs[RECV_BATCH];
  guint8                        rbufs[RECV_BATCH][RECV_SLOT];

  gboolean                      shutting_down;
  GSourceFunc                   shutdown_done;
  gpointer                      shutdown_data;
};

ngtcp2_tstamp
quipu_endpoint_now (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * 1000;
}

void
quipu_cid_random (ngtcp2_cid *cid, gsize len)
{
  cid->datalen = len;
  if (gnutls_rnd (GNUTLS_RND_NONCE, cid->data, len) != 0)
    g_error ("gnutls_rnd failed");
}

char *
quipu_sockaddr_to_string (const struct sockaddr *addr)
{
  g_autoptr(GSocketAddress) gaddr = NULL;
  g_autofree char *ip = NULL;
  GInetAddress *inet;
  guint16 port;

  gaddr = g_socket_address_new_from_native ((gpointer) addr,
                                            addr->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                                                       : sizeof (struct sockaddr_in));
  if (gaddr == NULL || !G_IS_INET_SOCKET_ADDRESS (gaddr))
    return g_strdup ("(unknown)");

  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (gaddr));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (gaddr));
  ip = g_inet_address_to_string (inet);
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

/* Connection ids as hash keys. */

static guint
cid_hash (gconstpointer key)
{
  const QuipuCid *cid = key;
  guint h = 2166136261u;

  for (guint i = 0; i < cid->len; i++)
    h = (h ^ cid->data[i]) * 16777619u;
  return h;
}

static gboolean
cid_equal (gconstpointer a, gconstpointer b)
{
  const QuipuCid *x = a, *y = b;

  return x->len == y->len && memcmp (x->data, y->data, x->len) == 0;
}

static void
cid_from_raw (QuipuCid *cid, const guint8 *data, gsize len)
{
  cid->len = MIN (len, NGTCP2_MAX_CIDLEN);
  memcpy (cid->data, data, cid->len);
}

void
quipu_endpoint_add_cid (QuipuEndpoint    *endpoint,
                        QuipuConnection  *conn,
                        const ngtcp2_cid *cid)
{
  QuipuCid *key = g_new (QuipuCid, 1);

  cid_from_raw (key, cid->data, cid->datalen);
  g_ptr_array_add (conn->cids, key);
  g_hash_table_insert (endpoint->cid_map, key, conn);
}

void
quipu_endpoint_remove_cid (QuipuEndpoint    *endpoint,
                           const ngtcp2_cid *cid)
{
  QuipuCid key;
  QuipuConnection *conn;

  cid_from_raw (&key, cid->data, cid->datalen);
  conn = g_hash_table_lookup (endpoint->cid_map, &key);
  if (conn == NULL)
    return;
  g_hash_table_remove (endpoint->cid_map, &key);
  for (guint i = 0; i < conn->cids->len; i++)
    if (cid_equal (g_ptr_array_index (conn->cids, i), &key))
      {
        g_ptr_array_remove_index_fast (conn->cids, i);
        break;
      }
}

const guint8 *
quipu_endpoint_get_secret (QuipuEndpoint *endpoint)
{
  return endpoint->secret;
}

const struct sockaddr *
quipu_endpoint_get_sockaddr (QuipuEndpoint *endpoint,
                             socklen_t     *len)
{
  *len = endpoint->local_len;
  return (const struct sockaddr *) &endpoint->local;
}

/* The timer heap: every connection, ordered by when it next needs us. */

static void
heap_swap (GPtrArray *heap, guint i, guint j)
{
  QuipuConnection *a = heap->pdata[i], *b = heap->pdata[j];

  heap->pdata[i] = b;
  heap->pdata[j] = a;
  b->heap_index = i;
  a->heap_index = j;
}

static void
heap_sift (GPtrArray *heap, guint i)
{
  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (((QuipuConnection *) heap->pdata[parent])->wake_us <= ((QuipuConnection *) heap->pdata[i])->wake_us)
        break;
      heap_swap (heap, i, parent);
      i = parent;
    }

  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;

      if (l < heap->len && ((QuipuConnection *) heap->pdata[l])->wake_us < ((QuipuConnection *) heap->pdata[m])->wake_us)
        m = l;
      if (r < heap->len && ((QuipuConnection *) heap->pdata[r])->wake_us < ((QuipuConnection *) heap->pdata[m])->wake_us)
        m = r;
      if (m == i)
        break;
      heap_swap (heap, i, m);
      i = m;
    }
}

static void
heap_insert (QuipuEndpoint *endpoint, QuipuConnection *conn)
{
  conn->heap_index = endpoint->heap->len;
  g_ptr_array_add (endpoint->heap, quipu_connection_ref (conn));
  heap_sift (endpoint->heap, conn->heap_index);
}

static void
heap_remove (QuipuEndpoint *endpoint, QuipuConnection *conn)
{
  GPtrArray *heap = endpoint->heap;
  guint i = conn->heap_index;
  guint last = heap->len - 1;

  if (i != last)
    heap_swap (heap, i, last);
  g_ptr_array_set_size (heap, last);   /* no free func: the ref moves to us */
  conn->heap_index = G_MAXUINT;
  if (i < heap->len)
    heap_sift (heap, i);
}

static void
update_wake (QuipuEndpoint *endpoint, QuipuConnection *conn)
{
  gint64 wake = quipu_connection_next_wake (conn);

  if (wake != conn->wake_us && conn->heap_index != G_MAXUINT)
    {
      conn->wake_us = wake;
      heap_sift (endpoint->heap, conn->heap_index);
    }
}

static void
remove_connection (QuipuEndpoint *endpoint, QuipuConnection *conn)
{
  for (guint i = 0; i < conn->cids->len; i++)
    g_hash_table_remove (endpoint->cid_map, g_ptr_array_index (conn->cids, i));
  g_ptr_array_set_size (conn->cids, 0);
  if (conn->dirty)
    {
      g_queue_remove (&endpoint->dirty, conn);
      conn->dirty = FALSE;
    }
  heap_remove (endpoint, conn);
  quipu_connection_unref (conn);
}

void
quipu_endpoint_mark_dirty (QuipuEndpoint   *endpoint,
                           QuipuConnection *conn)
{
  if (endpoint == NULL || conn->dirty || conn->heap_index == G_MAXUINT)
    return;
  conn->dirty = TRUE;
  g_queue_push_tail (&endpoint->dirty, conn);
  if (!endpoint->in_dispatch && !g_source_is_destroyed (&endpoint->source))
    g_source_set_ready_time (&endpoint->source, 0);
}

void
quipu_endpoint_notify_accepted (QuipuEndpoint   *endpoint,
                                QuipuConnection *conn)
{
  if (endpoint->callbacks != NULL && endpoint->callbacks->accepted != NULL)
    endpoint->callbacks->accepted (endpoint, conn, endpoint->user_data);
}

void
quipu_endpoint_notify_failed (QuipuEndpoint   *endpoint,
                              QuipuConnection *conn)
{
  g_autoptr(GError) error = NULL;

  if (endpoint->callbacks == NULL || endpoint->callbacks->handshake_failed == NULL)
    return;
  if (conn->error == NULL)
    error = g_error_new_literal (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_HANDSHAKE,
                                 "the handshake did not complete");
  endpoint->callbacks->handshake_failed (endpoint, conn->peer, conn->error ? conn->error : error,
                                         endpoint->user_data);
}

/* Sending. */

static void
flush_batch (QuipuEndpoint *endpoint)
{
  guint sent = 0;

  while (sent < endpoint->n_batch)
    {
      int rv = sendmmsg (endpoint->fd, endpoint->msgs + sent, endpoint->n_batch - sent, 0);

      if (rv >= 0)
        {
          sent += rv;
          continue;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        break;
      /* This datagram cannot go (unreachable, too big): QUIC recovers from
       * its loss like any other. */
      g_debug ("sendmmsg: %s", g_strerror (errno));
      sent++;
    }

  if (sent == endpoint->n_batch)
    {
      endpoint->n_batch = 0;
      endpoint->write_blocked = FALSE;
      return;
    }

  /* Keep what is left at the front and wait for G_IO_OUT. */
  for (guint i = sent; i < endpoint->n_batch; i++)
    {
      guint j = i - sent;

      memmove (endpoint->bufs[j], endpoint->bufs[i], endpoint->iovs[i].iov_len);
      endpoint->iovs[j].iov_len = endpoint->iovs[i].iov_len;
      endpoint->addrs[j] = endpoint->addrs[i];
      endpoint->msgs[j].msg_hdr.msg_namelen = endpoint->msgs[i].msg_hdr.msg_namelen;
    }
  endpoint->n_batch -= sent;
  endpoint->write_blocked = TRUE;
}

gboolean
quipu_endpoint_send_packet (QuipuEndpoint     *endpoint,
                            const ngtcp2_path *path,
                            const guint8      *data,
                            gsize              len)
{
  guint slot;

  if (endpoint == NULL || len > QUIPU_MAX_PACKET)
    return FALSE;
  if (endpoint->n_batch == QUIPU_SEND_BATCH)
    {
      flush_batch (endpoint);
      if (endpoint->n_batch == QUIPU_SEND_BATCH)
        return FALSE;
    }

  slot = endpoint->n_batch++;
  memcpy (endpoint->bufs[slot], data, len);
  endpoint->iovs[slot].iov_len = len;
  if (endpoint->is_server)
    {
      memcpy (&endpoint->addrs[slot], path->remote.addr, path->remote.addrlen);
      endpoint->msgs[slot].msg_hdr.msg_namelen = path->remote.addrlen;
    }
  if (!endpoint->in_dispatch)
    flush_batch (endpoint);
  return TRUE;
}

static void
send_raw (QuipuEndpoint *endpoint, const struct sockaddr *remote, socklen_t remote_len,
          const guint8 *data, gsize len)
{
  ngtcp2_path path = { .remote = { (ngtcp2_sockaddr *) remote, remote_len } };

  quipu_endpoint_send_packet (endpoint, &path, data, len);
}

/* Server-side answers to packets that belong to no connection. */

static void
send_version_negotiation (QuipuEndpoint *endpoint, const ngtcp2_version_cid *vc,
                          const struct sockaddr *remote, socklen_t remote_len)
{
  static const guint32 versions[] = { NGTCP2_PROTO_VER_V1 };
  guint8 buf[QUIPU_MAX_PACKET];
  guint8 unused;
  ngtcp2_ssize n;

  gnutls_rnd (GNUTLS_RND_NONCE, &unused, 1);
  n = ngtcp2_pkt_write_version_negotiation (buf, sizeof buf, unused, vc->scid, vc->scidlen,
                                            vc->dcid, vc->dcidlen, versions, G_N_ELEMENTS (versions));
  if (n > 0)
    send_raw (endpoint, remote, remote_len, buf, n);
}

static void
send_retry (QuipuEndpoint *endpoint, const ngtcp2_pkt_hd *hd,
            const struct sockaddr *remote, socklen_t remote_len, ngtcp2_tstamp ts)
{
  guint8 token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN2];
  guint8 buf[QUIPU_MAX_PACKET];
  ngtcp2_cid scid;
  ngtcp2_ssize token_len, n;

  quipu_cid_random (&scid, QUIPU_CID_LEN);
  token_len = ngtcp2_crypto_generate_retry_token2 (token, endpoint->secret, QUIPU_SECRET_LEN, hd->version,
                                                   (const ngtcp2_sockaddr *) remote, remote_len,
                                                   &scid, &hd->dcid, ts);
  if (token_len < 0)
    return;
  n = ngtcp2_crypto_write_retry (buf, sizeof buf, hd->version, &hd->scid, &scid, &hd->dcid,
                                 token, token_len);
  if (n > 0)
    send_raw (endpoint, remote, remote_len, buf, n);
}

static void
send_stateless_reset (QuipuEndpoint *endpoint, const ngtcp2_version_cid *vc,
                      const struct sockaddr *remote, socklen_t remote_len, gsize trigger_len)
{
  guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN];
  guint8 random[64];
  guint8 buf[QUIPU_MAX_PACKET];
  ngtcp2_cid dcid;
  gsize rand_len;
  ngtcp2_ssize n;

  /* Smaller than what triggered it, so two endpoints can never keep
   * resetting each other (RFC 9000 §10.3.3); one byte smaller for a short
   * trigger such as a keep-alive PING (§10.3), as long as the token and the
   * unpredictable bits still fit. */
  if (trigger_len <= NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN)
    return;
  rand_len = MIN (sizeof random, trigger_len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN);

  ngtcp2_cid_init (&dcid, vc->dcid, vc->dcidlen);
  if (ngtcp2_crypto_generate_stateless_reset_token (token, endpoint->secret, QUIPU_SECRET_LEN, &dcid) != 0)
    return;
  gnutls_rnd (GNUTLS_RND_NONCE, random, rand_len);
  n = ngtcp2_pkt_write_stateless_reset (buf, sizeof buf, token, random, rand_len);
  if (n > 0)
    send_raw (endpoint, remote, remote_len, buf, n);
}

static void
accept_connection (QuipuEndpoint *endpoint, const guint8 *data, gsize len,
                   const struct sockaddr *remote, socklen_t remote_len, ngtcp2_tstamp ts)
{
  g_autoptr(GError) error = NULL;
  ngtcp2_pkt_hd hd;
  ngtcp2_cid original_dcid;
  const ngtcp2_cid *retry_scid = NULL;
  QuipuConnection *conn;

  if (ngtcp2_accept (&hd, data, len) != 0 || hd.type == NGTCP2_PKT_0RTT)
    return;
  if (endpoint->shutting_down || endpoint->heap->len >= MAX_CONNECTIONS)
    return;

  original_dcid = hd.dcid;
  if (endpoint->options.require_retry)
    {
      if (hd.tokenlen == 0)
        {
          send_retry (endpoint, &hd, remote, remote_len, ts);
          return;
        }
      if (hd.token[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY2 ||
          ngtcp2_crypto_verify_retry_token2 (&original_dcid, hd.token, hd.tokenlen, endpoint->secret,
                                             QUIPU_SECRET_LEN, hd.version,
                                             (const ngtcp2_sockaddr *) remote, remote_len,
                                             &hd.dcid, RETRY_TOKEN_LIFE, ts) != 0)
        {
          /* A stale or forged token: ask again rather than trust it. */
          send_retry (endpoint, &hd, remote, remote_len, ts);
          return;
        }
      retry_scid = &hd.dcid;
    }
  else
    hd.tokenlen = 0;

  conn = quipu_connection_new_server (endpoint, &hd, &original_dcid, retry_scid, remote, remote_len,
                                      quipu_server_credentials_get_gnutls (endpoint->credentials),
                                      endpoint->options.idle_timeout_ms, ts, &error);
  if (conn == NULL)
    {
      g_warning ("cannot accept a connection: %s", error->message);
      return;
    }

  heap_insert (endpoint, conn);
  quipu_connection_unref (conn);
  quipu_connection_read_packet (conn, remote, remote_len, data, len, ts);
}

static void
route_datagram (QuipuEndpoint *endpoint, const guint8 *data, gsize len,
                const struct sockaddr *remote, socklen_t remote_len, ngtcp2_tstamp ts)
{
  ngtcp2_version_cid vc;
  QuipuConnection *conn;
  QuipuCid key;
  int rv;

  if (!endpoint->is_server)
    {
      if (endpoint->heap->len > 0)
        quipu_connection_read_packet (endpoint->heap->pdata[0], remote, remote_len, data, len, ts);
      return;
    }

  rv = ngtcp2_pkt_decode_version_cid (&vc, data, len, QUIPU_CID_LEN);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION)
    {
      send_version_negotiation (endpoint, &vc, remote, remote_len);
      return;
    }
  if (rv != 0)
    return;

  cid_from_raw (&key, vc.dcid, vc.dcidlen);
  conn = g_hash_table_lookup (endpoint->cid_map, &key);
  if (conn != NULL)
    quipu_connection_read_packet (conn, remote, remote_len, data, len, ts);
  else if (data[0] & 0x80)
    accept_connection (endpoint, data, len, remote, remote_len, ts);
  else
    send_stateless_reset (endpoint, &vc, remote, remote_len, len);
}

/* Reads until the socket is empty or the budget is spent; returns the number
 * of datagrams processed. */
static guint
read_datagrams (QuipuEndpoint *endpoint)
{
  guint total = 0;

  while (total < RECV_BUDGET && !g_source_is_destroyed (&endpoint->source))
    {
      ngtcp2_tstamp ts = quipu_endpoint_now ();
      int n;

      for (guint i = 0; i < RECV_BATCH; i++)
        {
          endpoint->rmsgs[i].msg_hdr.msg_namelen = sizeof endpoint->raddrs[i];
          endpoint->rmsgs[i].msg_hdr.msg_flags = 0;
        }

      n = recvmmsg (endpoint->fd, endpoint->rmsgs, RECV_BATCH, MSG_DONTWAIT, NULL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == ECONNREFUSED && !endpoint->is_server && endpoint->heap->len > 0)
            {
              /* ICMP port unreachable on the connected client socket. */
              QuipuConnection *conn = endpoint->heap->pdata[0];

              quipu_connection_die (conn, g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNREACHABLE,
                                                       "cannot reach %s: connection refused (is quipu-server running there?)",
                                                       conn->peer));
              continue;
            }
          break;
        }

      for (int i = 0; i < n; i++)
        {
          struct msghdr *hdr = &endpoint->rmsgs[i].msg_hdr;

          if (hdr->msg_flags & MSG_TRUNC)
            continue;
          route_datagram (endpoint, endpoint->rbufs[i], endpoint->rmsgs[i].msg_len,
                          (const struct sockaddr *) &endpoint->raddrs[i], hdr->msg_namelen, ts);
        }
      total += n;
      if (n < RECV_BATCH)
        break;
    }

  return total;
}

static void
handle_timers (QuipuEndpoint *endpoint)
{
  ngtcp2_tstamp ts = quipu_endpoint_now ();
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func ((GDestroyNotify) quipu_connection_unref);
  GPtrArray *heap = endpoint->heap;

  /* Take the due ones off the heap first, so a connection whose next wake is
   * still in the past cannot keep this loop going. */
  while (heap->len > 0 && ((QuipuConnection *) heap->pdata[0])->wake_us <= now)
    {
      QuipuConnection *conn = heap->pdata[0];

      heap_remove (endpoint, conn);
      g_ptr_array_add (due, conn);
    }

  for (guint i = 0; i < due->len; i++)
    {
      QuipuConnection *conn = due->pdata[i];

      quipu_connection_handle_timer (conn, ts);
      conn->wake_us = quipu_connection_next_wake (conn);
      heap_insert (endpoint, conn);
      quipu_endpoint_mark_dirty (endpoint, conn);
    }
}

static void
write_connections (QuipuEndpoint *endpoint)
{
  QuipuConnection *conn;

  while (!endpoint->write_blocked && (conn = g_queue_pop_head (&endpoint->dirty)) != NULL)
    {
      conn->dirty = FALSE;
      quipu_connection_ref (conn);
      quipu_connection_write (conn, quipu_endpoint_now ());
      if (conn->phase == CONN_DEAD)
        {
          if (conn->heap_index != G_MAXUINT)
            remove_connection (endpoint, conn);
        }
      else
        update_wake (endpoint, conn);
      quipu_connection_unref (conn);
      if (g_source_is_destroyed (&endpoint->source))
        return;
    }
}

static gboolean
endpoint_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  QuipuEndpoint *endpoint = (QuipuEndpoint *) source;
  GIOCondition cond = g_source_query_unix_fd (source, endpoint->fd_tag);
  gint64 ready;

  endpoint->in_dispatch = TRUE;

  if (cond & G_IO_OUT)
    flush_batch (endpoint);

  if ((cond & (G_IO_IN | G_IO_ERR)) && read_datagrams (endpoint) > 0 &&
      endpoint->callbacks != NULL && endpoint->callbacks->batch_end != NULL &&
      !g_source_is_destroyed (source))
    endpoint->callbacks->batch_end (endpoint, endpoint->user_data);

  if (!g_source_is_destroyed (source))
    handle_timers (endpoint);
  if (!g_source_is_destroyed (source))
    write_connections (endpoint);
  if (!g_source_is_destroyed (source))
    flush_batch (endpoint);

  endpoint->in_dispatch = FALSE;
  if (g_source_is_destroyed (source))
    return G_SOURCE_REMOVE;

  if (!g_queue_is_empty (&endpoint->dirty) && !endpoint->write_blocked)
    ready = 0;
  else if (endpoint->heap->len > 0)
    ready = ((QuipuConnection *) endpoint->heap->pdata[0])->wake_us;
  else
    ready = G_MAXINT64;
  g_source_set_ready_time (source, ready == G_MAXINT64 ? -1 : ready);
  g_source_modify_unix_fd (source, endpoint->fd_tag,
                           G_IO_IN | (endpoint->write_blocked ? G_IO_OUT : 0));

  if (endpoint->shutting_down && endpoint->heap->len == 0 && endpoint->shutdown_done != NULL)
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

  /* Connections still here die with the socket; owners holding refs keep
   * harmless husks that refuse to send. */
  for (guint i = 0; i < endpoint->heap->len; i++)
    {
      QuipuConnection *conn = endpoint->heap->pdata[i];

      conn->phase = CONN_DEAD;
      conn->endpoint = NULL;
      conn->heap_index = G_MAXUINT;
      conn->dirty = FALSE;
      g_ptr_array_set_size (conn->cids, 0);
      quipu_connection_unref (conn);
    }
  g_ptr_array_unref (endpoint->heap);
  g_queue_clear (&endpoint->dirty);
  g_hash_table_unref (endpoint->cid_map);
  gnutls_memset (endpoint->secret, 0, sizeof endpoint->secret);
  if (endpoint->fd >= 0)
    close (endpoint->fd);
}

static GSourceFuncs endpoint_funcs = {
  .dispatch = endpoint_dispatch,
  .finalize = endpoint_finalize,
};

static QuipuEndpoint *
endpoint_new (int fd, gboolean is_server)
{
  QuipuEndpoint *endpoint = (QuipuEndpoint *) g_source_new (&endpoint_funcs, sizeof (QuipuEndpoint));

  g_source_set_static_name (&endpoint->source, is_server ? "quipu server endpoint" : "quipu client endpoint");
  endpoint->fd = fd;
  endpoint->is_server = is_server;
  endpoint->cid_map = g_hash_table_new (cid_hash, cid_equal);
  endpoint->heap = g_ptr_array_new ();
  g_queue_init (&endpoint->dirty);
  gnutls_rnd (GNUTLS_RND_KEY, endpoint->secret, sizeof endpoint->secret);

  for (guint i = 0; i < QUIPU_SEND_BATCH; i++)
    {
      endpoint->iovs[i].iov_base = endpoint->bufs[i];
      endpoint->msgs[i].msg_hdr.msg_iov = &endpoint->iovs[i];
      endpoint->msgs[i].msg_hdr.msg_iovlen = 1;
      endpoint->msgs[i].msg_hdr.msg_name = is_server ? &endpoint->addrs[i] : NULL;
    }
  for (guint i = 0; i < RECV_BATCH; i++)
    {
      endpoint->riovs[i].iov_base = endpoint->rbufs[i];
      endpoint->riovs[i].iov_len = RECV_SLOT;
      endpoint->rmsgs[i].msg_hdr.msg_iov = &endpoint->riovs[i];
      endpoint->rmsgs[i].msg_hdr.msg_iovlen = 1;
      endpoint->rmsgs[i].msg_hdr.msg_name = &endpoint->raddrs[i];
    }

  endpoint->fd_tag = g_source_add_unix_fd (&endpoint->source, fd, G_IO_IN);
  g_source_attach (&endpoint->source, g_main_context_get_thread_default ());
  return endpoint;
}

static int
open_socket (GInetSocketAddress *address, gboolean server, struct sockaddr_storage *native,
             socklen_t *native_len, GError **error)
{
  g_autofree char *text = NULL;
  int family = g_socket_address_get_family (G_SOCKET_ADDRESS (address)) == G_SOCKET_FAMILY_IPV6
               ? AF_INET6 : AF_INET;
  int size = SOCKET_BUFFER;
  int fd;

  *native_len = g_socket_address_get_native_size (G_SOCKET_ADDRESS (address));
  if (!g_socket_address_to_native (G_SOCKET_ADDRESS (address), native, sizeof *native, error))
    return -1;

  fd = socket (family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create a UDP socket: %s", g_strerror (saved));
      return -1;
    }

  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);

  if (server)
    {
      if (family == AF_INET6)
        {
          int off = 0;

          /* [::] serves IPv4 clients too. */
          setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        }
      if (bind (fd, (struct sockaddr *) native, *native_len) == 0)
        return fd;
    }
  else if (connect (fd, (struct sockaddr *) native, *native_len) == 0)
    return fd;

  {
    int saved = errno;

    text = quipu_sockaddr_to_string ((struct sockaddr *) native);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 server ? "cannot listen on %s: %s" : "cannot reach %s: %s", text, g_strerror (saved));
    close (fd);
    return -1;
  }
}

/* The key behind stateless reset and Retry tokens, derived from the TLS
 * private key so that it outlives the process. A server restarted after a
 * crash then answers packets of its old connections with resets their
 * clients recognise (RFC 9000 §10.3), and they reconnect at once instead of
 * waiting out their idle timeout. FALSE if the key cannot be exported. */
static gboolean
derive_static_key (QuipuServerCredentials *credentials,
                   guint8                  out[QUIPU_SECRET_LEN])
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t der = { NULL, 0 };
  gboolean ok;

  G_STATIC_ASSERT (QUIPU_SECRET_LEN == 32);   /* one SHA-256 output */
  ok = gnutls_certificate_get_x509_key (quipu_server_credentials_get_gnutls (credentials), 0, &key) == 0 &&
       gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_DER, &der) == 0 &&
       gnutls_hmac_fast (GNUTLS_MAC_SHA256, der.data, der.size,
                         STATIC_KEY_LABEL, strlen (STATIC_KEY_LABEL), out) == 0;
  if (der.data != NULL)
    {
      gnutls_memset (der.data, 0, der.size);
      gnutls_free (der.data);
    }
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok;
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
  socklen_t native_len;
  guint8 static_key[QUIPU_SECRET_LEN];
  QuipuEndpoint *endpoint;
  int fd;

  fd = open_socket (address, TRUE, &native, &native_len, error);
  if (fd < 0)
    return NULL;

  endpoint = endpoint_new (fd, TRUE);
  endpoint->local_len = sizeof endpoint->local;
  getsockname (fd, (struct sockaddr *) &endpoint->local, &endpoint->local_len);
  endpoint->credentials = credentials;
  if (derive_static_key (credentials, static_key))
    memcpy (endpoint->secret, static_key, sizeof static_key);
  else
    g_warning ("cannot derive a lasting key from the TLS key: after a restart, "
               "clients will notice their old connections are gone only when they time out");
  gnutls_memset (static_key, 0, sizeof static_key);
  if (options != NULL)
    endpoint->options = *options;
  if (endpoint->options.idle_timeout_ms == 0)
    endpoint->options.idle_timeout_ms = 30000;
  endpoint->callbacks = callbacks;
  endpoint->user_data = user_data;
  return endpoint;
}

QuipuConnection *
quipu_endpoint_connect (GInetSocketAddress     *address,
                        const QuipuTrustPolicy *policy,
                        guint                   idle_timeout_ms,
                        GError                **error)
{
  gnutls_certificate_credentials_t creds;
  struct sockaddr_storage remote;
  socklen_t remote_len;
  QuipuEndpoint *endpoint;
  QuipuConnection *conn;
  int fd;

  creds = quipu_tls_client_credentials (error);
  if (creds == NULL)
    return NULL;

  fd = open_socket (address, FALSE, &remote, &remote_len, error);
  if (fd < 0)
    return NULL;

  endpoint = endpoint_new (fd, FALSE);
  endpoint->local_len = sizeof endpoint->local;
  getsockname (fd, (struct sockaddr *) &endpoint->local, &endpoint->local_len);

  /* On failure the connection's last unref has released the endpoint. */
  conn = quipu_connection_new_client (endpoint, (struct sockaddr *) &remote, remote_len, policy, creds,
                                      idle_timeout_ms ? idle_timeout_ms : 15000, error);
  if (conn == NULL)
    return NULL;

  heap_insert (endpoint, conn);
  quipu_endpoint_mark_dirty (endpoint, conn);
  return conn;
}

void
quipu_endpoint_release_client (QuipuEndpoint *endpoint)
{
  quipu_endpoint_free (endpoint);
}

void
quipu_endpoint_free (QuipuEndpoint *endpoint)
{
  g_source_destroy (&endpoint->source);
  g_source_unref (&endpoint->source);
}

GInetSocketAddress *
quipu_endpoint_get_local_address (QuipuEndpoint *endpoint)
{
  return G_INET_SOCKET_ADDRESS (g_socket_address_new_from_native (&endpoint->local, endpoint->local_len));
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

  for (guint i = 0; i < endpoint->heap->len; i++)
    quipu_connection_close (endpoint->heap->pdata[i], app_error, reason, linger_ms);

  if (endpoint->heap->len == 0)
    g_idle_add (shutdown_done_idle, endpoint);
}
