#define G_LOG_DOMAIN "quipu-test-datagram"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "quipu-datagram-socket.h"

/* The batched UDP socket on loopback: datagrams queued one after another
 * to one address with one size leave in one GSO send, what the kernel
 * refuses as GSO goes out one by one, and GRO reads are split back into
 * the datagrams that were sent. */

typedef struct {
  QuipuDatagramSocket *socket;
  int                  plain;        /* a plain UDP socket, no GRO */
  struct sockaddr_in   plain_addr;
} Fixture;

static const struct sockaddr_in loopback = {
  .sin_family = AF_INET,
  .sin_addr.s_addr = 0x0100007f,     /* 127.0.0.1, in network order */
};

static QuipuDatagramSocket *
socket_on_loopback (void)
{
  g_autoptr(GError) error = NULL;
  QuipuDatagramSocket *socket_ = quipu_datagram_socket_new ((const struct sockaddr *) &loopback,
                                                            sizeof loopback, FALSE, &error);

  g_assert_no_error (error);
  return socket_;
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  socklen_t len = sizeof fx->plain_addr;
  struct timeval timeout = { 2, 0 };

  fx->socket = socket_on_loopback ();
  fx->plain = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fx->plain, >=, 0);
  g_assert_cmpint (bind (fx->plain, (const struct sockaddr *) &loopback, sizeof loopback), ==, 0);
  g_assert_cmpint (getsockname (fx->plain, (struct sockaddr *) &fx->plain_addr, &len), ==, 0);
  setsockopt (fx->plain, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  quipu_datagram_socket_free (fx->socket);
  close (fx->plain);
}

/* Datagram `i` of a test: `len` bytes that say which one it is. */
static void
fill (guint8 *buf,
      gsize   len,
      guint   i)
{
  for (gsize j = 0; j < len; j++)
    buf[j] = (guint8) (i * 31 + j);
}

static void
queue_to (QuipuDatagramSocket      *socket_,
          const struct sockaddr_in *remote,
          gsize                     len,
          guint                     i)
{
  guint8 buf[QUIPU_DATAGRAM_MAX];

  fill (buf, len, i);
  g_assert_true (quipu_datagram_socket_queue (socket_, (const struct sockaddr *) remote, sizeof *remote,
                                              buf, len));
}

/* The plain socket reads exactly datagram `i` of `len` bytes. */
static void
expect_plain (Fixture *fx,
              gsize    len,
              guint    i)
{
  guint8 got[4096], want[QUIPU_DATAGRAM_MAX];
  ssize_t n = recv (fx->plain, got, sizeof got, 0);

  g_assert_cmpint (n, ==, (gssize) len);
  fill (want, len, i);
  g_assert_cmpmem (got, n, want, len);
}

static void
nothing_more (int fd)
{
  guint8 got[64];

  g_assert_cmpint (recv (fd, got, sizeof got, MSG_DONTWAIT), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);
}

static gboolean
has_gso (Fixture *fx)
{
  QuipuDatagramStats stats;

  quipu_datagram_socket_get_stats (fx->socket, &stats);
  if (!stats.gso)
    g_test_skip ("this kernel has no UDP GSO");
  return stats.gso;
}

static void
test_run (Fixture       *fx,
          gconstpointer  data)
{
  QuipuDatagramStats stats;

  if (!has_gso (fx))
    return;
  /* Three full ones and a shorter last: one send. */
  for (guint i = 0; i < 3; i++)
    queue_to (fx->socket, &fx->plain_addr, 1200, i);
  queue_to (fx->socket, &fx->plain_addr, 300, 3);
  quipu_datagram_socket_flush (fx->socket);

  quipu_datagram_socket_get_stats (fx->socket, &stats);
  g_assert_cmpuint (stats.datagrams_sent, ==, 4);
  g_assert_cmpuint (stats.sends, ==, 1);
  g_assert_cmpuint (stats.send_calls, ==, 1);
  for (guint i = 0; i < 3; i++)
    expect_plain (fx, 1200, i);
  expect_plain (fx, 300, 3);
  nothing_more (fx->plain);
}

static void
test_run_breaks (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(QuipuDatagramSocket) other = socket_on_loopback ();
  struct sockaddr_in other_addr;
  socklen_t other_len;
  QuipuDatagramStats stats;

  if (!has_gso (fx))
    return;
  memcpy (&other_addr, quipu_datagram_socket_get_local (other, &other_len), sizeof other_addr);

  /* Another address, then a longer one after a shorter one, then one after
   * the shorter last of a run: each starts a send of its own. */
  queue_to (fx->socket, &fx->plain_addr, 1000, 0);
  queue_to (fx->socket, &other_addr, 1000, 1);
  queue_to (fx->socket, &fx->plain_addr, 500, 2);
  queue_to (fx->socket, &fx->plain_addr, 1000, 3);
  queue_to (fx->socket, &fx->plain_addr, 1000, 4);
  queue_to (fx->socket, &fx->plain_addr, 200, 5);
  queue_to (fx->socket, &fx->plain_addr, 200, 6);
  quipu_datagram_socket_flush (fx->socket);

  quipu_datagram_socket_get_stats (fx->socket, &stats);
  g_assert_cmpuint (stats.datagrams_sent, ==, 7);
  g_assert_cmpuint (stats.sends, ==, 5);
  expect_plain (fx, 1000, 0);
  expect_plain (fx, 500, 2);
  expect_plain (fx, 1000, 3);
  expect_plain (fx, 1000, 4);
  expect_plain (fx, 200, 5);
  expect_plain (fx, 200, 6);
  nothing_more (fx->plain);
}

static void
test_refused (Fixture       *fx,
              gconstpointer  data)
{
  int on = 1;
  QuipuDatagramStats stats;

  if (!has_gso (fx))
    return;
  /* The kernel refuses GSO on a socket without UDP checksums (EINVAL):
   * the run goes out one by one, and so does everything after it. */
  g_assert_cmpint (setsockopt (quipu_datagram_socket_get_fd (fx->socket), SOL_SOCKET, SO_NO_CHECK,
                               &on, sizeof on), ==, 0);
  queue_to (fx->socket, &fx->plain_addr, 800, 0);
  queue_to (fx->socket, &fx->plain_addr, 800, 1);
  queue_to (fx->socket, &fx->plain_addr, 800, 2);
  quipu_datagram_socket_flush (fx->socket);

  quipu_datagram_socket_get_stats (fx->socket, &stats);
  g_assert_false (stats.gso);
  g_assert_cmpuint (stats.datagrams_sent, ==, 3);
  g_assert_cmpuint (stats.sends, ==, 3);
  for (guint i = 0; i < 3; i++)
    expect_plain (fx, 800, i);

  queue_to (fx->socket, &fx->plain_addr, 800, 3);
  queue_to (fx->socket, &fx->plain_addr, 800, 4);
  quipu_datagram_socket_flush (fx->socket);
  quipu_datagram_socket_get_stats (fx->socket, &stats);
  g_assert_cmpuint (stats.sends, ==, 5);
  expect_plain (fx, 800, 3);
  expect_plain (fx, 800, 4);
  nothing_more (fx->plain);
}

typedef struct {
  GArray *lens;
  guint   wrong;
} Received;

static gboolean
on_datagram (const guint8          *data,
             gsize                  len,
             const struct sockaddr *remote,
             socklen_t              remote_len,
             gpointer               user_data)
{
  Received *received = user_data;
  guint8 want[QUIPU_DATAGRAM_MAX];

  fill (want, len, received->lens->len);
  if (len > sizeof want || memcmp (data, want, len) != 0)
    received->wrong++;
  g_array_append_val (received->lens, len);
  return TRUE;
}

static void
test_gro (Fixture       *fx,
          gconstpointer  data)
{
  g_autoptr(QuipuDatagramSocket) receiver = socket_on_loopback ();
  g_autoptr(GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));
  Received received = { lens, 0 };
  struct sockaddr_in receiver_addr;
  socklen_t receiver_len;
  QuipuDatagramStats stats;
  guint n = 0;

  if (!has_gso (fx))
    return;
  quipu_datagram_socket_get_stats (receiver, &stats);
  if (!stats.gro)
    {
      g_test_skip ("this kernel has no UDP GRO");
      return;
    }
  memcpy (&receiver_addr, quipu_datagram_socket_get_local (receiver, &receiver_len), sizeof receiver_addr);

  for (guint i = 0; i < 5; i++)
    queue_to (fx->socket, &receiver_addr, 1100, i);
  queue_to (fx->socket, &receiver_addr, 77, 5);
  quipu_datagram_socket_flush (fx->socket);

  /* Loopback hands the GSO send over whole: one read, six datagrams. */
  for (guint tries = 0; n < 6 && tries < 200; tries++)
    {
      n += quipu_datagram_socket_receive (receiver, 64, on_datagram, NULL, &received);
      if (n < 6)
        g_usleep (10000);
    }
  g_assert_cmpuint (n, ==, 6);
  g_assert_cmpuint (lens->len, ==, 6);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (g_array_index (lens, gsize, i), ==, 1100);
  g_assert_cmpuint (g_array_index (lens, gsize, 5), ==, 77);
  g_assert_cmpuint (received.wrong, ==, 0);

  quipu_datagram_socket_get_stats (receiver, &stats);
  g_assert_cmpuint (stats.datagrams_received, ==, 6);
  g_assert_cmpuint (stats.receives, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/quipu/datagram/gso-run", Fixture, NULL, fixture_setup, test_run, fixture_teardown);
  g_test_add ("/quipu/datagram/gso-run-breaks", Fixture, NULL, fixture_setup, test_run_breaks,
              fixture_teardown);
  g_test_add ("/quipu/datagram/gso-refused", Fixture, NULL, fixture_setup, test_refused, fixture_teardown);
  g_test_add ("/quipu/datagram/gro-split", Fixture, NULL, fixture_setup, test_gro, fixture_teardown);
  return g_test_run ();
}
