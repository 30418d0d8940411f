#define G_LOG_DOMAIN "test-handshake"

#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <ngtcp2/ngtcp2.h>

#include "quipu-error.h"
#include "quipu-handshake-limits.h"
#include "quipu-transport-error.h"

/* Handshakes in progress, counted per address and in total, and the
 * refusal a client reads when there are too many. */

static struct sockaddr_in6
address6 (const char *text,
          guint16     port)
{
  struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons (port) };

  g_assert_cmpint (inet_pton (AF_INET6, text, &sa.sin6_addr), ==, 1);
  return sa;
}

static void
test_per_address (void)
{
  g_autoptr(QuipuHandshakeLimits) limits = quipu_handshake_limits_new ();
  struct sockaddr_in6 a1 = address6 ("::ffff:192.0.2.1", 1000);
  struct sockaddr_in6 a2 = address6 ("::ffff:192.0.2.1", 2000);   /* same address, other port */
  struct sockaddr_in6 b = address6 ("2001:db8::1", 1000);
  struct sockaddr_in c = { .sin_family = AF_INET, .sin_port = htons (1000) };
  QuipuHandshakeSlot *held[3];
  QuipuHandshakeSlot *other;

  c.sin_addr.s_addr = htonl (0xc0000201);   /* 192.0.2.1, but an IPv4 socket's */
  quipu_handshake_limits_configure (limits, 3, 0);

  held[0] = quipu_handshake_limits_begin (limits, (struct sockaddr *) &a1);
  held[1] = quipu_handshake_limits_begin (limits, (struct sockaddr *) &a2);
  g_assert_true (held[0] == held[1]);
  g_assert_true (quipu_handshake_limits_allow (limits, (struct sockaddr *) &a1));
  held[2] = quipu_handshake_limits_begin (limits, (struct sockaddr *) &a2);
  g_assert_false (quipu_handshake_limits_allow (limits, (struct sockaddr *) &a1));
  g_assert_false (quipu_handshake_limits_allow (limits, (struct sockaddr *) &a2));
  /* Other addresses have counts of their own. */
  g_assert_true (quipu_handshake_limits_allow (limits, (struct sockaddr *) &b));
  g_assert_true (quipu_handshake_limits_allow (limits, (struct sockaddr *) &c));
  other = quipu_handshake_limits_begin (limits, (struct sockaddr *) &b);
  g_assert_true (other != held[0]);
  g_assert_cmpuint (quipu_handshake_limits_in_progress (limits), ==, 4);

  /* One ends: room for one more. */
  quipu_handshake_limits_end (limits, held[2]);
  g_assert_true (quipu_handshake_limits_allow (limits, (struct sockaddr *) &a1));
  g_assert_cmpuint (quipu_handshake_limits_in_progress (limits), ==, 3);

  /* 0: no limit. */
  held[2] = quipu_handshake_limits_begin (limits, (struct sockaddr *) &a1);
  quipu_handshake_limits_configure (limits, 0, 0);
  g_assert_true (quipu_handshake_limits_allow (limits, (struct sockaddr *) &a1));

  for (guint i = 0; i < G_N_ELEMENTS (held); i++)
    quipu_handshake_limits_end (limits, held[i]);
  quipu_handshake_limits_end (limits, other);
  g_assert_cmpuint (quipu_handshake_limits_in_progress (limits), ==, 0);
}

static void
test_retry_threshold (void)
{
  g_autoptr(QuipuHandshakeLimits) limits = quipu_handshake_limits_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new ();

  quipu_handshake_limits_configure (limits, 0, 5);
  for (guint i = 0; i < 5; i++)
    {
      struct sockaddr_in6 sa = address6 ("2001:db8::1", 1000);

      g_assert_false (quipu_handshake_limits_want_retry (limits));
      sa.sin6_addr.s6_addr[15] = i;
      g_ptr_array_add (held, quipu_handshake_limits_begin (limits, (struct sockaddr *) &sa));
    }
  /* From the threshold on, and back below it. */
  g_assert_true (quipu_handshake_limits_want_retry (limits));
  quipu_handshake_limits_end (limits, g_ptr_array_steal_index (held, 0));
  g_assert_false (quipu_handshake_limits_want_retry (limits));

  /* 0: never by itself. */
  g_ptr_array_add (held, quipu_handshake_limits_begin (limits, (struct sockaddr *) &(struct sockaddr_in6) {
                                                         .sin6_family = AF_INET6 }));
  quipu_handshake_limits_configure (limits, 0, 0);
  g_assert_false (quipu_handshake_limits_want_retry (limits));
  for (guint i = 0; i < held->len; i++)
    quipu_handshake_limits_end (limits, held->pdata[i]);
}

static void
check_refusal (const char *reason,
               const char *expected)
{
  ngtcp2_ccerr ccerr;
  g_autoptr(GError) error = NULL;

  ngtcp2_ccerr_default (&ccerr);
  ngtcp2_ccerr_set_transport_error (&ccerr, NGTCP2_CONNECTION_REFUSED, (const uint8_t *) reason, strlen (reason));
  error = quipu_transport_error_from_close (&ccerr, "chat.example:7447", FALSE);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_RATE_LIMITED);
  g_assert_cmpstr (error->message, ==, expected);
}

/* A refusal before the handshake reads like the rate-limited close an
 * app already shows as "server busy". */
static void
test_refusal_is_busy (void)
{
  check_refusal ("server busy: too many handshakes in progress from your address",
                 "server busy: too many handshakes in progress from your address");
  check_refusal ("", "server busy: chat.example:7447 refused the connection");
  check_refusal ("go away", "server busy: chat.example:7447 refused the connection: go away");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/handshake/per-address", test_per_address);
  g_test_add_func ("/handshake/retry-threshold", test_retry_threshold);
  g_test_add_func ("/handshake/refusal-is-busy", test_refusal_is_busy);
  return g_test_run ();
}
