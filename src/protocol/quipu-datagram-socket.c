#define G_LOG_DOMAIN "quipu-datagram-socket"

#include "config.h"

#include <errno.h>
#include <time.h>               /* linux/errqueue.h needs struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "quipu-address.h"
#include "quipu-datagram-socket.h"

#define SEND_BATCH       64
#define RECV_BATCH       32
#define RECV_SLOT        2048
/* A GRO read may bring up to a whole 64 KiB UDP payload in one slot. */
#define GRO_SLOT         65536
#define SOCKET_BUFFER    (4 * 1024 * 1024)
/* The kernel's limits on one GSO send (UDP_MAX_SEGMENTS, and what fits in
 * one UDP length field with headers). */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES    65000

typedef union {
  char           buf[CMSG_SPACE (sizeof (guint16))];
  struct cmsghdr align;
} SegmentControl;

typedef union {
  char           buf[CMSG_SPACE (sizeof (int))];
  struct cmsghdr align;
} GroControl;

struct _QuipuDatagramSocket {
  int                     fd;
  struct sockaddr_storage local;
  socklen_t               local_len;
  gboolean                gso;
  gboolean                gro;
  QuipuDatagramStats      stats;

  /* Outgoing datagrams, end to end in `out`. A message (one entry of one
   * sendmmsg) is one datagram, or with GSO a run of datagrams of
   * `seg_size` bytes to one address, the last perhaps shorter. */
  guint8                  out[SEND_BATCH * QUIPU_DATAGRAM_MAX];
  gsize                   out_len;
  guint                   n_datagrams;
  guint                   n_msgs;
  struct mmsghdr          msgs[SEND_BATCH];
  struct iovec            iovs[SEND_BATCH];
  struct sockaddr_storage addrs[SEND_BATCH];
  guint16                 seg_size[SEND_BATCH];
  guint16                 n_segs[SEND_BATCH];
  SegmentControl          controls[SEND_BATCH];
  gboolean                blocked;
  gboolean                report_unreachable;
  GArray                 *unroutable;   /* struct sockaddr_storage */

  /* Incoming datagrams, read with recvmmsg. */
  struct mmsghdr          rmsgs[RECV_BATCH];
  struct iovec            riovs[RECV_BATCH];
  struct sockaddr_storage raddrs[RECV_BATCH];
  GroControl              rcontrols[RECV_BATCH];
  gsize                   rslot;
  guint8                 *rbufs;        /* RECV_BATCH slots of `rslot` bytes */
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

  /* Asking for the option tells whether the kernel knows it (4.18 on);
   * whether a device takes it shows only when a send fails. A key log is
   * there to decrypt a capture, and a capture on loopback sees a GSO send
   * as one datagram, in which QUIC packets with short headers cannot be
   * told apart: with SSLKEYLOGFILE set, datagrams go one by one. */
  {
    int segment = 0;
    socklen_t segment_len = sizeof segment;

    socket_->gso = getsockopt (socket_->fd, SOL_UDP, UDP_SEGMENT, &segment, &segment_len) == 0 &&
                   g_getenv ("SSLKEYLOGFILE") == NULL;
  }
  socket_->gro = setsockopt (socket_->fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
  socket_->rslot = socket_->gro ? GRO_SLOT : RECV_SLOT;
  /* Only the pages a datagram lands on are ever touched. */
  socket_->rbufs = g_malloc (RECV_BATCH * socket_->rslot);

  for (guint i = 0; i < SEND_BATCH; i++)
    {
      socket_->msgs[i].msg_hdr.msg_iov = &socket_->iovs[i];
      socket_->msgs[i].msg_hdr.msg_iovlen = 1;
      socket_->msgs[i].msg_hdr.msg_name = &socket_->addrs[i];
    }
  for (guint i = 0; i < RECV_BATCH; i++)
    {
      socket_->riovs[i].iov_base = socket_->rbufs + i * socket_->rslot;
      socket_->riovs[i].iov_len = socket_->rslot;
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
  g_free (socket_->rbufs);
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
quipu_datagram_socket_get_stats (QuipuDatagramSocket *socket_,
                                 QuipuDatagramStats  *stats)
{
  *stats = socket_->stats;
  stats->gso = socket_->gso;
  stats->gro = socket_->gro;
}

/* Message `i` becomes one datagram of `len` bytes at `data` for `remote`. */
static void
start_message (QuipuDatagramSocket   *socket_,
               guint                  i,
               const struct sockaddr *remote,
               socklen_t              remote_len,
               guint8                *data,
               gsize                  len)
{
  socket_->iovs[i].iov_base = data;
  socket_->iovs[i].iov_len = len;
  memcpy (&socket_->addrs[i], remote, remote_len);
  socket_->msgs[i].msg_hdr.msg_namelen = remote_len;
  socket_->seg_size[i] = len;
  socket_->n_segs[i] = 1;
}

/* The UDP_SEGMENT option of message `i`, which only a run needs. */
static void
set_control (QuipuDatagramSocket *socket_,
             guint                i)
{
  struct msghdr *hdr = &socket_->msgs[i].msg_hdr;
  struct cmsghdr *cmsg;
  guint16 size = socket_->seg_size[i];

  if (socket_->n_segs[i] == 1)
    {
      hdr->msg_control = NULL;
      hdr->msg_controllen = 0;
      return;
    }
  hdr->msg_control = socket_->controls[i].buf;
  hdr->msg_controllen = sizeof socket_->controls[i].buf;
  cmsg = CMSG_FIRSTHDR (hdr);
  cmsg->cmsg_level = SOL_UDP;
  cmsg->cmsg_type = UDP_SEGMENT;
  cmsg->cmsg_len = CMSG_LEN (sizeof size);
  memcpy (CMSG_DATA (cmsg), &size, sizeof size);
}

/* The kernel refused a GSO send (a device without checksum offload says
 * EIO, some paths EINVAL): from message `first` on, one datagram each, and
 * no more runs on this socket. There are never more datagrams than
 * messages can hold. */
static void
split_runs (QuipuDatagramSocket *socket_,
            guint                first)
{
  struct { guint8 *data; gsize len; guint16 seg; guint16 n; socklen_t addr_len; struct sockaddr_storage addr; } runs[SEND_BATCH];
  guint n_runs = socket_->n_msgs - first;
  guint m = first;

  g_debug ("UDP GSO refused (%s): sending datagrams one by one", g_strerror (errno));
  socket_->gso = FALSE;
  for (guint i = 0; i < n_runs; i++)
    {
      guint k = first + i;

      runs[i].data = socket_->iovs[k].iov_base;
      runs[i].len = socket_->iovs[k].iov_len;
      runs[i].seg = socket_->seg_size[k];
      runs[i].n = socket_->n_segs[k];
      runs[i].addr_len = socket_->msgs[k].msg_hdr.msg_namelen;
      runs[i].addr = socket_->addrs[k];
    }
  for (guint i = 0; i < n_runs; i++)
    for (guint j = 0; j < runs[i].n; j++)
      {
        gsize offset = (gsize) j * runs[i].seg;

        start_message (socket_, m++, (const struct sockaddr *) &runs[i].addr, runs[i].addr_len,
                       runs[i].data + offset, MIN (runs[i].seg, runs[i].len - offset));
      }
  socket_->n_msgs = m;
}

void
quipu_datagram_socket_flush (QuipuDatagramSocket *socket_)
{
  guint sent = 0;
  gsize gone;

  for (guint i = 0; i < socket_->n_msgs; i++)
    set_control (socket_, i);

  while (sent < socket_->n_msgs)
    {
      int rv = sendmmsg (socket_->fd, socket_->msgs + sent, socket_->n_msgs - sent, 0);

      socket_->stats.send_calls++;
      if (rv >= 0)
        {
          for (int i = 0; i < rv; i++)
            socket_->stats.datagrams_sent += socket_->n_segs[sent + i];
          socket_->stats.sends += rv;
          sent += rv;
          continue;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        break;
      if ((errno == EIO || errno == EINVAL) && socket_->n_segs[sent] > 1)
        {
          split_runs (socket_, sent);
          for (guint i = sent; i < socket_->n_msgs; i++)
            set_control (socket_, i);
          continue;
        }
      /* This datagram cannot go (unreachable, too big): QUIC recovers from
       * its loss like any other. No route at all is worth telling: only
       * that errno surely concerns this datagram's own address. */
      g_debug ("sendmmsg: %s", g_strerror (errno));
      if (errno == ENETUNREACH && socket_->report_unreachable)
        g_array_append_val (socket_->unroutable, socket_->addrs[sent]);
      sent++;
    }

  if (sent == socket_->n_msgs)
    {
      socket_->n_msgs = 0;
      socket_->n_datagrams = 0;
      socket_->out_len = 0;
      socket_->blocked = FALSE;
      return;
    }

  /* Keep what is left at the front and wait for G_IO_OUT. */
  gone = (guint8 *) socket_->iovs[sent].iov_base - socket_->out;
  memmove (socket_->out, socket_->out + gone, socket_->out_len - gone);
  socket_->out_len -= gone;
  socket_->n_datagrams = 0;
  for (guint i = sent; i < socket_->n_msgs; i++)
    {
      guint j = i - sent;

      socket_->iovs[j].iov_base = (guint8 *) socket_->iovs[i].iov_base - gone;
      socket_->iovs[j].iov_len = socket_->iovs[i].iov_len;
      socket_->addrs[j] = socket_->addrs[i];
      socket_->msgs[j].msg_hdr.msg_namelen = socket_->msgs[i].msg_hdr.msg_namelen;
      socket_->seg_size[j] = socket_->seg_size[i];
      socket_->n_segs[j] = socket_->n_segs[i];
      socket_->n_datagrams += socket_->n_segs[j];
    }
  socket_->n_msgs -= sent;
  socket_->blocked = TRUE;
}

/* Whether a datagram of `len` bytes for `remote` may join the last
 * message's run: the same address, no longer than the run's datagrams and
 * the run not ended by a shorter one yet, within the kernel's limits. */
static gboolean
extends_run (QuipuDatagramSocket   *socket_,
             const struct sockaddr *remote,
             socklen_t              remote_len,
             gsize                  len)
{
  guint last = socket_->n_msgs - 1;

  return socket_->gso && socket_->n_msgs > 0 &&
         len <= socket_->seg_size[last] &&
         socket_->iovs[last].iov_len == (gsize) socket_->seg_size[last] * socket_->n_segs[last] &&
         socket_->n_segs[last] < GSO_MAX_SEGMENTS &&
         socket_->iovs[last].iov_len + len <= GSO_MAX_BYTES &&
         socket_->msgs[last].msg_hdr.msg_namelen == remote_len &&
         memcmp (&socket_->addrs[last], remote, remote_len) == 0;
}

gboolean
quipu_datagram_socket_queue (QuipuDatagramSocket   *socket_,
                             const struct sockaddr *remote,
                             socklen_t              remote_len,
                             const guint8          *data,
                             gsize                  len)
{
  guint8 *dest;

  if (len == 0 || len > QUIPU_DATAGRAM_MAX || remote_len > sizeof (struct sockaddr_storage))
    return FALSE;
  if (socket_->n_datagrams == SEND_BATCH)
    {
      quipu_datagram_socket_flush (socket_);
      if (socket_->n_datagrams == SEND_BATCH)
        return FALSE;
    }

  dest = socket_->out + socket_->out_len;
  memcpy (dest, data, len);
  socket_->out_len += len;
  socket_->n_datagrams++;
  if (extends_run (socket_, remote, remote_len, len))
    {
      guint last = socket_->n_msgs - 1;

      socket_->iovs[last].iov_len += len;
      socket_->n_segs[last]++;
    }
  else
    start_message (socket_, socket_->n_msgs++, remote, remote_len, dest, len);
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

/* The size of the datagrams GRO joined in a message, 0 if not joined. */
static gsize
gro_size (struct msghdr *hdr)
{
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (hdr); cmsg != NULL; cmsg = CMSG_NXTHDR (hdr, cmsg))
    if (cmsg->cmsg_level == SOL_UDP && cmsg->cmsg_type == UDP_GRO)
      {
        int size;

        memcpy (&size, CMSG_DATA (cmsg), sizeof size);
        return size > 0 ? size : 0;
      }
  return 0;
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
          struct msghdr *hdr = &socket_->rmsgs[i].msg_hdr;

          hdr->msg_namelen = sizeof socket_->raddrs[i];
          hdr->msg_flags = 0;
          hdr->msg_control = socket_->gro ? socket_->rcontrols[i].buf : NULL;
          hdr->msg_controllen = socket_->gro ? sizeof socket_->rcontrols[i].buf : 0;
        }

      n = recvmmsg (socket_->fd, socket_->rmsgs, RECV_BATCH, MSG_DONTWAIT, NULL);
      socket_->stats.receive_calls++;
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

      socket_->stats.receives += n;
      for (int i = 0; i < n; i++)
        {
          struct msghdr *hdr = &socket_->rmsgs[i].msg_hdr;
          const guint8 *data = socket_->riovs[i].iov_base;
          gsize len = socket_->rmsgs[i].msg_len;
          gsize size = socket_->gro ? gro_size (hdr) : 0;

          if (hdr->msg_flags & MSG_TRUNC)
            continue;
          if (size == 0)
            size = len;
          /* GRO joined datagrams of `size` bytes, the last perhaps shorter. */
          for (gsize offset = 0; offset < len; offset += size)
            {
              total++;
              socket_->stats.datagrams_received++;
              if (!func (data + offset, MIN (size, len - offset),
                         (const struct sockaddr *) &socket_->raddrs[i], hdr->msg_namelen, user_data))
                return total;
            }
        }
      if (n < RECV_BATCH)
        break;
    }

  return total;
}
