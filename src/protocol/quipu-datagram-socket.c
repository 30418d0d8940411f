#define G_LOG_DOMAIN "quipu-datagram-socket"

#include "config.h"

#include <errno.h>
#include <time.h>               /* linux/errqueue.h needs struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "quipu-address.h"
#include "quipu-datagram-socket.h"

#define SEND_BATCH       64
#define RECV_BATCH       32
#define RECV_SLOT        2048
#define SOCKET_BUFFER    (4 * 1024 * 1024)

struct _QuipuDatagramSocket {
  int                     fd;
  struct sockaddr_storage local;
  socklen_t               local_len;

  /* Outgoing datagrams, sent with one sendmmsg per batch. */
  struct mmsghdr          msgs[SEND_BATCH];
  struct iovec            iovs[SEND_BATCH];
  struct sockaddr_storage addrs[SEND_BATCH];
  guint8                  bufs[SEND_BATCH][QUIPU_DATAGRAM_MAX];
  guint                   n_batch;
  gboolean                blocked;
  gboolean                report_unreachable;
  GArray                 *unroutable;   /* struct sockaddr_storage */

  /* Incoming datagrams, read with recvmmsg. */
  struct mmsghdr          rmsgs[RECV_BATCH];
  struct iovec            riovs[RECV_BATCH];
  struct sockaddr_storage raddrs[RECV_BATCH];
  guint8                  rbufs[RECV_BATCH][RECV_SLOT];
};

QuipuDatagramSocket *
quipu_datagram_socket_new (const struct sockaddr *local,
                           socklen_t              local_len,
                           gboolean               report_refused,
                           GError               **error)
{
  g_autoptr(QuipuDatagramSocket) socket_ = g_new0 (QuipuDatagramSocket, 1);
  int size = SOCKET_BUFFER;
  int on = 1, off = 0;

  socket_->unroutable = g_array_new (FALSE, FALSE, sizeof (struct sockaddr_storage));

  socket_->fd = socket (local->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (socket_->fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create a UDP socket: %s", g_strerror (saved));
      return NULL;
    }

  setsockopt (socket_->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (socket_->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (local->sa_family == AF_INET6)
    setsockopt (socket_->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  socket_->report_unreachable = report_refused;
  if (report_refused)
    {
      /* Both: IPv4 errors on an IPv6 socket follow the IPv4 option. */
      setsockopt (socket_->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
      setsockopt (socket_->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    }

  if (bind (socket_->fd, local, local_len) != 0)
    {
      int saved = errno;
      g_autofree char *text = quipu_sockaddr_to_string (local);

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot listen on %s: %s", text, g_strerror (saved));
      return NULL;
    }
  socket_->local_len = sizeof socket_->local;
  getsockname (socket_->fd, (struct sockaddr *) &socket_->local, &socket_->local_len);

  for (guint i = 0; i < SEND_BATCH; i++)
    {
      socket_->iovs[i].iov_base = socket_->bufs[i];
      socket_->msgs[i].msg_hdr.msg_iov = &socket_->iovs[i];
      socket_->msgs[i].msg_hdr.msg_iovlen = 1;
      socket_->msgs[i].msg_hdr.msg_name = &socket_->addrs[i];
    }
  for (guint i = 0; i < RECV_BATCH; i++)
    {
      socket_->riovs[i].iov_base = socket_->rbufs[i];
      socket_->riovs[i].iov_len = RECV_SLOT;
      socket_->rmsgs[i].msg_hdr.msg_iov = &socket_->riovs[i];
      socket_->rmsgs[i].msg_hdr.msg_iovlen = 1;
      socket_->rmsgs[i].msg_hdr.msg_name = &socket_->raddrs[i];
    }
  return g_steal_pointer (&socket_);
}

void
quipu_datagram_socket_free (QuipuDatagramSocket *socket_)
{
  if (socket_->fd >= 0)
    close (socket_->fd);
  g_array_unref (socket_->unroutable);
  g_free (socket_);
}

int
quipu_datagram_socket_get_fd (QuipuDatagramSocket *socket_)
{
  return socket_->fd;
}

const struct sockaddr *
quipu_datagram_socket_get_local (QuipuDatagramSocket *socket_,
                                 socklen_t           *len)
{
  *len = socket_->local_len;
  return (const struct sockaddr *) &socket_->local;
}

gboolean
quipu_datagram_socket_is_blocked (QuipuDatagramSocket *socket_)
{
  return socket_->blocked;
}

void
quipu_datagram_socket_flush (QuipuDatagramSocket *socket_)
{
  guint sent = 0;

  while (sent < socket_->n_batch)
    {
      int rv = sendmmsg (socket_->fd, socket_->msgs + sent, socket_->n_batch - sent, 0);

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
       * its loss like any other. No route at all is worth telling: only
       * that errno surely concerns this datagram's own address. */
      g_debug ("sendmmsg: %s", g_strerror (errno));
      if (errno == ENETUNREACH && socket_->report_unreachable)
        g_array_append_val (socket_->unroutable, socket_->addrs[sent]);
      sent++;
    }

  if (sent == socket_->n_batch)
    {
      socket_->n_batch = 0;
      socket_->blocked = FALSE;
      return;
    }

  /* Keep what is left at the front and wait for G_IO_OUT. */
  for (guint i = sent; i < socket_->n_batch; i++)
    {
      guint j = i - sent;

      memmove (socket_->bufs[j], socket_->bufs[i], socket_->iovs[i].iov_len);
      socket_->iovs[j].iov_len = socket_->iovs[i].iov_len;
      socket_->addrs[j] = socket_->addrs[i];
      socket_->msgs[j].msg_hdr.msg_namelen = socket_->msgs[i].msg_hdr.msg_namelen;
    }
  socket_->n_batch -= sent;
  socket_->blocked = TRUE;
}

gboolean
quipu_datagram_socket_queue (QuipuDatagramSocket   *socket_,
                             const struct sockaddr *remote,
                             socklen_t              remote_len,
                             const guint8          *data,
                             gsize                  len)
{
  guint slot;

  if (len > QUIPU_DATAGRAM_MAX || remote_len > sizeof (struct sockaddr_storage))
    return FALSE;
  if (socket_->n_batch == SEND_BATCH)
    {
      quipu_datagram_socket_flush (socket_);
      if (socket_->n_batch == SEND_BATCH)
        return FALSE;
    }

  slot = socket_->n_batch++;
  memcpy (socket_->bufs[slot], data, len);
  socket_->iovs[slot].iov_len = len;
  memcpy (&socket_->addrs[slot], remote, remote_len);
  socket_->msgs[slot].msg_hdr.msg_namelen = remote_len;
  return TRUE;
}

gboolean
quipu_datagram_socket_has_unroutable (QuipuDatagramSocket *socket_)
{
  return socket_->unroutable->len > 0;
}

gboolean
quipu_datagram_socket_take_unroutable (QuipuDatagramSocket *socket_,
                                       QuipuRefusedFunc     func,
                                       gpointer             user_data)
{
  g_autoptr(GArray) addrs = NULL;

  if (socket_->unroutable->len == 0)
    return FALSE;
  /* `func` may send, and find more. */
  addrs = g_steal_pointer (&socket_->unroutable);
  socket_->unroutable = g_array_new (FALSE, FALSE, sizeof (struct sockaddr_storage));
  for (guint i = 0; i < addrs->len; i++)
    func ((const struct sockaddr *) &g_array_index (addrs, struct sockaddr_storage, i),
          ENETUNREACH, user_data);
  return TRUE;
}

void
quipu_datagram_socket_read_errors (QuipuDatagramSocket *socket_,
                                   QuipuRefusedFunc     refused,
                                   gpointer             user_data)
{
  for (;;)
    {
      struct sockaddr_storage remote;
      guint8 control[512];
      guint8 payload[64];
      struct iovec iov = { payload, sizeof payload };
      struct msghdr msg = {
        .msg_name = &remote,
        .msg_namelen = sizeof remote,
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control,
        .msg_controllen = sizeof control,
      };

      if (recvmsg (socket_->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
        {
          struct sock_extended_err ee;

          if (!((cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_RECVERR) ||
                (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_RECVERR)))
            continue;
          memcpy (&ee, CMSG_DATA (cmsg), sizeof ee);
          if (ee.ee_errno == ECONNREFUSED && msg.msg_namelen > 0 && refused != NULL)
            refused ((const struct sockaddr *) &remote, ECONNREFUSED, user_data);
        }
    }
}

guint
quipu_datagram_socket_receive (QuipuDatagramSocket *socket_,
                               guint                budget,
                               QuipuDatagramFunc    func,
                               QuipuRefusedFunc     refused,
                               gpointer             user_data)
{
  guint total = 0;

  while (total < budget)
    {
      int n;

      for (guint i = 0; i < RECV_BATCH; i++)
        {
          socket_->rmsgs[i].msg_hdr.msg_namelen = sizeof socket_->raddrs[i];
          socket_->rmsgs[i].msg_hdr.msg_flags = 0;
        }

      n = recvmmsg (socket_->fd, socket_->rmsgs, RECV_BATCH, MSG_DONTWAIT, NULL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          /* A pending ICMP error is reported before the datagrams queued
           * behind it. */
          if (errno == ECONNREFUSED)
            {
              quipu_datagram_socket_read_errors (socket_, refused, user_data);
              continue;
            }
          break;
        }

      total += n;
      for (int i = 0; i < n; i++)
        {
          struct msghdr *hdr = &socket_->rmsgs[i].msg_hdr;

          if (hdr->msg_flags & MSG_TRUNC)
            continue;
          if (!func (socket_->rbufs[i], socket_->rmsgs[i].msg_len,
                     (const struct sockaddr *) &socket_->raddrs[i], hdr->msg_namelen, user_data))
            return total;
        }
      if (n < RECV_BATCH)
        break;
    }

  return total;
}
