/* quipu-relay: a lossy UDP relay for the durability tests.
 *
 * tc netem is not available on the test machines, so this program sits
 * between clients and a quipu-server and impairs the path in user space:
 * loss, duplication, corruption, delay with jitter, and reordering, all
 * drawn from one seeded GRand so a run can be repeated exactly.
 *
 * Each client address gets its own upstream socket, as through a NAT.
 * Every datagram, in either direction, is put in one binary heap ordered by
 * departure time; a single GSource whose ready time is the earliest
 * departure sends them. The same source expires idle mappings, which are kept
 * in least-recently-active order so expiry never scans the whole table.
 *
 * Counters (the `stats` line), in datagrams:
 *   forwarded   copies actually sent out, in either direction
 *   dropped     lost to --loss, or refused by a bound (held queue full,
 *               too many clients) or by a failed send
 *   duplicated  extra copies made by --duplicate
 *   corrupted   copies with flipped bits
 *   reordered   copies held back by --reorder
 *   cut         datagrams that arrived, or were due to leave, during `cut`
 */

#define G_LOG_DOMAIN "quipu-relay"

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

/* The largest UDP payload (65507 over IPv4, 65527 over IPv6) fits. */
#define MAX_DATAGRAM        65535
#define MAX_HELD            10000
#define MAX_MAPPINGS        4096
#define MAPPING_IDLE_US     (120 * G_USEC_PER_SEC)
#define MAX_DELAY_MS        600000
#define REORDER_EXTRA_MS    10
#define MAX_COMMAND_LINE    1024
#define LISTENER_BUFFER     (4 * 1024 * 1024)
#define UPSTREAM_BUFFER     (1024 * 1024)
#define EXIT_USAGE          2

typedef struct
{
  double loss;
  double duplicate;
  double reorder;
  double corrupt;
  guint  delay_ms;
  guint  jitter_ms;
} Impairment;

typedef struct
{
  guint64 forwarded;
  guint64 dropped;
  guint64 duplicated;
  guint64 corrupted;
  guint64 reordered;
  guint64 cut;
} Stats;

/* A copy of a datagram waiting for its departure time. */
typedef struct
{
  gint64          departure;    /* monotonic µs */
  guint64         serial;       /* keeps equal departures first in, first out */
  GSocket        *socket;
  GSocketAddress *destination;  /* NULL when the socket is connected */
  gsize           len;
  guint8          data[];
} Held;

typedef struct _Relay Relay;

typedef struct
{
  Relay              *relay;
  GInetSocketAddress *client;
  GSocket            *upstream;   /* connected to the upstream address */
  GSource            *watch;
  gint64              last_active;
  GList               lru_link;
} Mapping;

typedef struct
{
  GSource  source;
  Relay   *relay;
} SchedulerSource;

struct _Relay
{
  Impairment      impairment;
  Stats           stats;
  GRand          *rand;
  gboolean        is_cut;

  GSocket        *listener;
  GSource        *listener_watch;
  GSocketAddress *upstream_address;
  GHashTable     *mappings;      /* GInetSocketAddress → Mapping */
  GQueue          lru;           /* Mapping, least recently active first */

  GPtrArray      *held;          /* binary min-heap of Held */
  guint64         next_serial;
  GSource        *scheduler;

  GString        *command;       /* partial line read from stdin */
  gboolean        command_overlong;
  guint           stdin_id;
  guint           sigint_id;
  guint           sigterm_id;
  GMainLoop      *loop;

  guint8          buffer[MAX_DATAGRAM];
};

static void relay_rearm (Relay *relay);

/* Addresses */

static guint
client_hash (gconstpointer key)
{
  GInetSocketAddress *address = (GInetSocketAddress *) key;
  GInetAddress *host = g_inet_socket_address_get_address (address);
  const guint8 *bytes = g_inet_address_to_bytes (host);
  gsize n = g_inet_address_get_native_size (host);
  guint hash = g_inet_socket_address_get_port (address);

  for (gsize i = 0; i < n; i++)
    hash = hash * 31 + bytes[i];
  return hash;
}

static gboolean
client_equal (gconstpointer a,
              gconstpointer b)
{
  GInetSocketAddress *x = (GInetSocketAddress *) a;
  GInetSocketAddress *y = (GInetSocketAddress *) b;

  return g_inet_socket_address_get_port (x) == g_inet_socket_address_get_port (y)
         && g_inet_address_equal (g_inet_socket_address_get_address (x),
                                  g_inet_socket_address_get_address (y));
}

/* Numeric ADDR:PORT, with IPv6 in brackets: 127.0.0.1:7447, [::1]:7447. */
static GSocketAddress *
parse_address (const char *text,
               gboolean    allow_port_zero,
               GError    **error)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) address = NULL;
  guint64 port;

  if (colon == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "expected ADDR:PORT, got '%s'", text);
      return NULL;
    }

  if (text[0] == '[')
    {
      if (colon == text || colon[-1] != ']')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "expected [ADDR]:PORT, got '%s'", text);
          return NULL;
        }
      host = g_strndup (text + 1, colon - text - 2);
    }
  else
    {
      host = g_strndup (text, colon - text);
      if (strchr (host, ':') != NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "an IPv6 address needs brackets, as in [::1]:7447, got '%s'", text);
          return NULL;
        }
    }

  address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not a numeric IPv4 or IPv6 address", host);
      return NULL;
    }

  if (!g_ascii_string_to_unsigned (colon + 1, 10, allow_port_zero ? 0 : 1, G_MAXUINT16,
                                   &port, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not a port between %d and 65535", colon + 1,
                   allow_port_zero ? 0 : 1);
      return NULL;
    }

  return g_inet_socket_address_new (address, port);
}

static char *
format_address (GInetSocketAddress *address)
{
  GInetAddress *host = g_inet_socket_address_get_address (address);
  g_autofree char *text = g_inet_address_to_string (host);
  guint port = g_inet_socket_address_get_port (address);

  if (g_inet_address_get_family (host) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", text, port);
  return g_strdup_printf ("%s:%u", text, port);
}

/* Parameters, shared by the command line and the `set` command */

static gboolean
parse_probability (const char *text,
                   double     *out,
                   GError    **error)
{
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);

  /* Written so that NaN fails too. */
  if (end == text || *end != '\0' || !(value >= 0.0 && value <= 1.0))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "expected a probability between 0 and 1, got '%s'", text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
parse_milliseconds (const char *text,
                    guint      *out,
                    GError    **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, MAX_DELAY_MS, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "expected milliseconds between 0 and %d, got '%s'", MAX_DELAY_MS, text);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
relay_set_parameter (Relay       *relay,
                     const char  *name,
                     const char  *value,
                     GError     **error)
{
  Impairment *imp = &relay->impairment;

  if (g_str_equal (name, "loss"))
    return parse_probability (value, &imp->loss, error);
  if (g_str_equal (name, "duplicate"))
    return parse_probability (value, &imp->duplicate, error);
  if (g_str_equal (name, "reorder"))
    return parse_probability (value, &imp->reorder, error);
  if (g_str_equal (name, "corrupt"))
    return parse_probability (value, &imp->corrupt, error);
  if (g_str_equal (name, "delay"))
    return parse_milliseconds (value, &imp->delay_ms, error);
  if (g_str_equal (name, "jitter"))
    return parse_milliseconds (value, &imp->jitter_ms, error);
  if (g_str_equal (name, "seed"))
    {
      guint64 seed;

      if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32, &seed, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "expected a seed between 0 and %u, got '%s'", G_MAXUINT32, value);
          return FALSE;
        }
      g_rand_set_seed (relay->rand, seed);
      return TRUE;
    }

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
               "unknown parameter '%s' (expected loss, duplicate, reorder, corrupt, "
               "delay, jitter or seed)", name);
  return FALSE;
}

/* The departure heap */

static void
held_free (gpointer data)
{
  Held *held = data;

  g_object_unref (held->socket);
  g_clear_object (&held->destination);
  g_free (held);
}

static Held *
held_new (GSocket        *socket,
          GSocketAddress *destination,
          const guint8   *data,
          gsize           len)
{
  Held *held = g_malloc (sizeof (Held) + len);

  held->socket = g_object_ref (socket);
  held->destination = destination != NULL ? g_object_ref (destination) : NULL;
  held->len = len;
  memcpy (held->data, data, len);
  return held;
}

static gboolean
held_before (const Held *a,
             const Held *b)
{
  return a->departure < b->departure
         || (a->departure == b->departure && a->serial < b->serial);
}

static void
heap_swap (GPtrArray *heap,
           guint      i,
           guint      j)
{
  gpointer tmp = heap->pdata[i];

  heap->pdata[i] = heap->pdata[j];
  heap->pdata[j] = tmp;
}

static void
heap_push (GPtrArray *heap,
           Held      *held)
{
  guint i = heap->len;

  g_ptr_array_add (heap, held);
  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (!held_before (heap->pdata[i], heap->pdata[parent]))
        break;
      heap_swap (heap, i, parent);
      i = parent;
    }
}

static Held *
heap_pop (GPtrArray *heap)
{
  Held *top = heap->pdata[0];
  Held *last = g_ptr_array_steal_index (heap, heap->len - 1);
  guint i = 0;

  if (heap->len == 0)
    return top;

  heap->pdata[0] = last;
  for (;;)
    {
      guint left = 2 * i + 1;
      guint right = left + 1;
      guint smallest = i;

      if (left < heap->len && held_before (heap->pdata[left], heap->pdata[smallest]))
        smallest = left;
      if (right < heap->len && held_before (heap->pdata[right], heap->pdata[smallest]))
        smallest = right;
      if (smallest == i)
        break;
      heap_swap (heap, i, smallest);
      i = smallest;
    }
  return top;
}

/* Impairment */

static gboolean
chance (Relay  *relay,
        double  p)
{
  /* g_rand_double is in [0, 1): p = 0 never fires, p = 1 always does. */
  return g_rand_double (relay->rand) < p;
}

/* Flips 1 to 3 distinct bits, so a corrupted copy always differs. */
static void
corrupt_bits (GRand  *rand,
              guint8 *data,
              gsize   len)
{
  gint32 n_bits = len * 8;
  gint32 flipped[3];
  gint n = MIN (g_rand_int_range (rand, 1, 4), n_bits);

  for (gint i = 0; i < n;)
    {
      gint32 bit = g_rand_int_range (rand, 0, n_bits);
      gboolean seen = FALSE;

      for (gint j = 0; j < i; j++)
        seen |= flipped[j] == bit;
      if (seen)
        continue;
      flipped[i++] = bit;
      data[bit / 8] ^= 1u << (bit % 8);
    }
}

static gint64
relay_departure (Relay  *relay,
                 gint64  now)
{
  const Impairment *imp = &relay->impairment;
  gint64 delay_us = (gint64) imp->delay_ms * 1000;

  if (imp->jitter_ms > 0)
    {
      double jitter_us = imp->jitter_ms * 1000.0;

      delay_us += (gint64) g_rand_double_range (relay->rand, -jitter_us, jitter_us);
      delay_us = MAX (delay_us, 0);
    }

  if (chance (relay, imp->reorder))
    {
      delay_us += (gint64) (imp->delay_ms + imp->jitter_ms + REORDER_EXTRA_MS) * 1000;
      relay->stats.reordered++;
    }

  return now + delay_us;
}

/* Decides the fate of one datagram and queues the copies that survive. */
static void
relay_impair (Relay          *relay,
              const guint8   *data,
              gsize           len,
              GSocket        *socket,
              GSocketAddress *destination,
              gint64          now)
{
  const Impairment *imp = &relay->impairment;
  guint copies;

  if (chance (relay, imp->loss))
    {
      relay->stats.dropped++;
      return;
    }

  copies = chance (relay, imp->duplicate) ? 2 : 1;
  relay->stats.duplicated += copies - 1;

  for (guint i = 0; i < copies; i++)
    {
      Held *held;

      if (relay->held->len >= MAX_HELD)
        {
          g_debug ("%d datagrams already held, dropping one", MAX_HELD);
          relay->stats.dropped++;
          continue;
        }

      held = held_new (socket, destination, data, len);
      if (len > 0 && chance (relay, imp->corrupt))
        {
          corrupt_bits (relay->rand, held->data, len);
          relay->stats.corrupted++;
        }
      held->departure = relay_departure (relay, now);
      held->serial = relay->next_serial++;
      heap_push (relay->held, held);
    }
}

static void
relay_send (Relay *relay,
            Held  *held)
{
  g_autoptr(GError) error = NULL;

  if (relay->is_cut)
    {
      relay->stats.cut++;
      return;
    }

  if (g_socket_send_to (held->socket, held->destination, (const char *) held->data,
                        held->len, NULL, &error) < 0)
    {
      /* A full socket buffer loses the datagram, as a router's queue would. */
      g_debug ("send failed: %s", error->message);
      relay->stats.dropped++;
      return;
    }
  relay->stats.forwarded++;
}

static void
relay_flush (Relay  *relay,
             gint64  now)
{
  while (relay->held->len > 0
         && ((Held *) relay->held->pdata[0])->departure <= now)
    {
      Held *held = heap_pop (relay->held);

      relay_send (relay, held);
      held_free (held);
    }
}

/* Mappings */

static void
mapping_free (gpointer data)
{
  Mapping *mapping = data;

  g_queue_unlink (&mapping->relay->lru, &mapping->lru_link);
  g_source_destroy (mapping->watch);
  g_source_unref (mapping->watch);
  /* Held copies keep their own reference, so queued datagrams still leave. */
  g_object_unref (mapping->upstream);
  g_object_unref (mapping->client);
  g_free (mapping);
}

static void
mapping_touch (Mapping *mapping,
               gint64   now)
{
  GQueue *lru = &mapping->relay->lru;

  mapping->last_active = now;
  g_queue_unlink (lru, &mapping->lru_link);
  g_queue_push_tail_link (lru, &mapping->lru_link);
}

static void
relay_expire (Relay  *relay,
              gint64  now)
{
  Mapping *oldest;

  while ((oldest = g_queue_peek_head (&relay->lru)) != NULL
         && now - oldest->last_active >= MAPPING_IDLE_US)
    {
      g_autofree char *client = format_address (oldest->client);

      g_debug ("mapping for %s idle for %d s, dropped", client,
               (int) (MAPPING_IDLE_US / G_USEC_PER_SEC));
      g_hash_table_remove (relay->mappings, oldest->client);
    }
}

/* Bigger buffers absorb a sender's burst; the kernel clamps the size. */
static void
enlarge_buffers (GSocket *socket,
                 gint     bytes)
{
  g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, bytes, NULL);
  g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, bytes, NULL);
}

static gboolean
on_upstream_readable (GSocket      *socket,
                      GIOCondition  condition,
                      gpointer      user_data)
{
  Mapping *mapping = user_data;
  Relay *relay = mapping->relay;
  gint64 now = g_get_monotonic_time ();

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize len = g_socket_receive (socket, (char *) relay->buffer, sizeof relay->buffer,
                                     NULL, &error);

      if (len < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          /* An ICMP error left by an earlier send: nobody listens upstream yet. */
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
            continue;
          g_message ("receiving from upstream failed: %s", error->message);
          break;
        }

      if (relay->is_cut)
        {
          relay->stats.cut++;
          continue;
        }
      mapping_touch (mapping, now);
      relay_impair (relay, relay->buffer, len, relay->listener,
                    G_SOCKET_ADDRESS (mapping->client), now);
    }

  relay_flush (relay, now);
  relay_rearm (relay);
  return G_SOURCE_CONTINUE;
}

static Mapping *
relay_open_mapping (Relay               *relay,
                    GInetSocketAddress  *client,
                    GError             **error)
{
  g_autoptr(GSocket) upstream = NULL;
  Mapping *mapping;

  if (g_hash_table_size (relay->mappings) >= MAX_MAPPINGS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "already %d clients", MAX_MAPPINGS);
      return NULL;
    }

  upstream = g_socket_new (g_socket_address_get_family (relay->upstream_address),
                           G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (upstream == NULL)
    return NULL;
  g_socket_set_blocking (upstream, FALSE);
  enlarge_buffers (upstream, UPSTREAM_BUFFER);
  /* Connecting binds an ephemeral port and filters out foreign senders. */
  if (!g_socket_connect (upstream, relay->upstream_address, NULL, error))
    return NULL;

  mapping = g_new0 (Mapping, 1);
  mapping->relay = relay;
  mapping->client = g_object_ref (client);
  mapping->upstream = g_steal_pointer (&upstream);
  mapping->watch = g_socket_create_source (mapping->upstream, G_IO_IN, NULL);
  g_source_set_callback (mapping->watch, G_SOURCE_FUNC (on_upstream_readable), mapping, NULL);
  g_source_attach (mapping->watch, NULL);
  mapping->lru_link.data = mapping;
  g_queue_push_tail_link (&relay->lru, &mapping->lru_link);
  g_hash_table_insert (relay->mappings, mapping->client, mapping);
  return mapping;
}

static void
relay_from_client (Relay              *relay,
                   GInetSocketAddress *client,
                   const guint8       *data,
                   gsize               len,
                   gint64              now)
{
  g_autoptr(GError) error = NULL;
  Mapping *mapping;

  if (relay->is_cut)
    {
      relay->stats.cut++;
      return;
    }

  mapping = g_hash_table_lookup (relay->mappings, client);
  if (mapping == NULL)
    mapping = relay_open_mapping (relay, client, &error);
  if (mapping == NULL)
    {
      g_debug ("no upstream socket for a new client: %s", error->message);
      relay->stats.dropped++;
      return;
    }

  mapping_touch (mapping, now);
  relay_impair (relay, data, len, mapping->upstream, NULL, now);
}

static gboolean
on_listener_readable (GSocket      *socket,
                      GIOCondition  condition,
                      gpointer      user_data)
{
  Relay *relay = user_data;
  gint64 now = g_get_monotonic_time ();

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketAddress) sender = NULL;
      gssize len = g_socket_receive_from (socket, &sender, (char *) relay->buffer,
                                          sizeof relay->buffer, NULL, &error);

      if (len < 0)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_message ("receiving from clients failed: %s", error->message);
          break;
        }
      if (G_IS_INET_SOCKET_ADDRESS (sender))
        relay_from_client (relay, G_INET_SOCKET_ADDRESS (sender), relay->buffer, len, now);
    }

  relay_flush (relay, now);
  relay_rearm (relay);
  return G_SOURCE_CONTINUE;
}

/* The scheduler: one ready time for every held datagram and idle mapping */

static gboolean
scheduler_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     user_data)
{
  Relay *relay = ((SchedulerSource *) source)->relay;
  gint64 now = g_source_get_time (source);

  relay_flush (relay, now);
  relay_expire (relay, now);
  relay_rearm (relay);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs scheduler_funcs = {
  .dispatch = scheduler_dispatch,
};

static void
relay_rearm (Relay *relay)
{
  Mapping *oldest = g_queue_peek_head (&relay->lru);
  gint64 ready = -1;

  if (relay->held->len > 0)
    ready = ((Held *) relay->held->pdata[0])->departure;
  if (oldest != NULL)
    {
      gint64 expiry = oldest->last_active + MAPPING_IDLE_US;

      if (ready < 0 || expiry < ready)
        ready = expiry;
    }
  g_source_set_ready_time (relay->scheduler, ready);
}

/* Control on stdin */

static void
relay_print_stats (Relay *relay)
{
  const Stats *s = &relay->stats;

  printf ("{\"forwarded\":%" G_GUINT64_FORMAT ",\"dropped\":%" G_GUINT64_FORMAT
          ",\"duplicated\":%" G_GUINT64_FORMAT ",\"corrupted\":%" G_GUINT64_FORMAT
          ",\"reordered\":%" G_GUINT64_FORMAT ",\"cut\":%" G_GUINT64_FORMAT "}\n",
          s->forwarded, s->dropped, s->duplicated, s->corrupted, s->reordered, s->cut);
  fflush (stdout);
}

/* Splits off the next blank-separated word in place; NULL at the end. */
static char *
next_word (char **cursor)
{
  char *word = *cursor + strspn (*cursor, " \t\r");
  char *end;

  if (*word == '\0')
    return NULL;
  end = word + strcspn (word, " \t\r");
  *cursor = *end != '\0' ? end + 1 : end;
  *end = '\0';
  return word;
}

static void
relay_run_command (Relay *relay,
                   char  *line)
{
  g_autoptr(GError) error = NULL;
  char *cursor = line;
  const char *verb = next_word (&cursor);

  if (verb == NULL)
    return;

  if (g_str_equal (verb, "set"))
    {
      const char *name = next_word (&cursor);
      const char *value = next_word (&cursor);

      if (name == NULL || value == NULL || next_word (&cursor) != NULL)
        g_printerr ("quipu-relay: usage: set NAME VALUE\n");
      else if (!relay_set_parameter (relay, name, value, &error))
        g_printerr ("quipu-relay: set %s: %s\n", name, error->message);
    }
  else if (g_str_equal (verb, "cut") || g_str_equal (verb, "restore")
           || g_str_equal (verb, "stats"))
    {
      if (next_word (&cursor) != NULL)
        g_printerr ("quipu-relay: '%s' takes no argument\n", verb);
      else if (g_str_equal (verb, "stats"))
        relay_print_stats (relay);
      else
        relay->is_cut = g_str_equal (verb, "cut");
    }
  else
    {
      g_printerr ("quipu-relay: unknown command '%s' (expected cut, restore, "
                  "set NAME VALUE or stats)\n", verb);
    }
}

static void
relay_feed_commands (Relay      *relay,
                     const char *chunk,
                     gsize       len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (chunk[i] == '\n')
        {
          if (relay->command_overlong)
            g_printerr ("quipu-relay: command longer than %d bytes ignored\n",
                        MAX_COMMAND_LINE);
          else
            relay_run_command (relay, relay->command->str);
          g_string_truncate (relay->command, 0);
          relay->command_overlong = FALSE;
        }
      else if (relay->command->len >= MAX_COMMAND_LINE)
        relay->command_overlong = TRUE;
      else
        g_string_append_c (relay->command, chunk[i]);
    }
}

static gboolean
on_stdin_readable (gint         fd,
                   GIOCondition condition,
                   gpointer     user_data)
{
  Relay *relay = user_data;
  char chunk[4096];
  gssize n = read (fd, chunk, sizeof chunk);

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n > 0)
    {
      relay_feed_commands (relay, chunk, n);
      return G_SOURCE_CONTINUE;
    }

  /* End of input: run an unterminated last line, then keep relaying. */
  if (relay->command->len > 0)
    relay_feed_commands (relay, "\n", 1);
  relay->stdin_id = 0;
  return G_SOURCE_REMOVE;
}

static gboolean
on_terminate (gpointer user_data)
{
  Relay *relay = user_data;

  relay_print_stats (relay);
  g_main_loop_quit (relay->loop);
  return G_SOURCE_CONTINUE;
}

/* Lifetime */

static void
relay_free (Relay *relay)
{
  g_clear_handle_id (&relay->stdin_id, g_source_remove);
  g_clear_handle_id (&relay->sigint_id, g_source_remove);
  g_clear_handle_id (&relay->sigterm_id, g_source_remove);
  if (relay->listener_watch != NULL)
    g_source_destroy (relay->listener_watch);
  g_clear_pointer (&relay->listener_watch, g_source_unref);
  g_source_destroy (relay->scheduler);
  g_source_unref (relay->scheduler);
  g_hash_table_unref (relay->mappings);
  g_ptr_array_unref (relay->held);
  g_clear_object (&relay->listener);
  g_clear_object (&relay->upstream_address);
  g_rand_free (relay->rand);
  g_string_free (relay->command, TRUE);
  g_main_loop_unref (relay->loop);
  g_free (relay);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Relay, relay_free)

static Relay *
relay_new (void)
{
  Relay *relay = g_new0 (Relay, 1);

  relay->rand = g_rand_new_with_seed (1);
  relay->mappings = g_hash_table_new_full (client_hash, client_equal, NULL, mapping_free);
  g_queue_init (&relay->lru);
  relay->held = g_ptr_array_new_with_free_func (held_free);
  relay->scheduler = g_source_new (&scheduler_funcs, sizeof (SchedulerSource));
  ((SchedulerSource *) relay->scheduler)->relay = relay;
  g_source_set_name (relay->scheduler, "quipu-relay scheduler");
  g_source_attach (relay->scheduler, NULL);
  relay->command = g_string_new (NULL);
  relay->loop = g_main_loop_new (NULL, FALSE);
  return relay;
}

static gboolean
relay_listen (Relay           *relay,
              GSocketAddress  *listen_address,
              GSocketAddress  *upstream_address,
              GError         **error)
{
  g_autoptr(GSocket) listener = NULL;

  listener = g_socket_new (g_socket_address_get_family (listen_address),
                           G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (listener == NULL)
    return FALSE;
  g_socket_set_blocking (listener, FALSE);
  enlarge_buffers (listener, LISTENER_BUFFER);
  if (!g_socket_bind (listener, listen_address, FALSE, error))
    return FALSE;

  relay->listener = g_steal_pointer (&listener);
  relay->upstream_address = g_object_ref (upstream_address);
  relay->listener_watch = g_socket_create_source (relay->listener, G_IO_IN, NULL);
  g_source_set_callback (relay->listener_watch, G_SOURCE_FUNC (on_listener_readable),
                         relay, NULL);
  g_source_attach (relay->listener_watch, NULL);
  return TRUE;
}

/* Each client holds a socket: make room for MAX_MAPPINGS of them. */
static void
raise_fd_limit (void)
{
  const rlim_t wanted = MAX_MAPPINGS + 64;
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted)
    return;
  limit.rlim_cur = MIN (wanted, limit.rlim_max);
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < wanted)
    g_message ("only %lu file descriptors allowed: fewer than %d clients can be relayed",
               (gulong) limit.rlim_cur, MAX_MAPPINGS);
}

static int
usage_error (const char *message)
{
  g_printerr ("quipu-relay: %s\n", message);
  return EXIT_USAGE;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *listen_text = NULL;
  g_autofree char *upstream_text = NULL;
  g_autofree char *seed = NULL;
  g_autofree char *loss = NULL;
  g_autofree char *duplicate = NULL;
  g_autofree char *reorder = NULL;
  g_autofree char *delay = NULL;
  g_autofree char *jitter = NULL;
  g_autofree char *corrupt = NULL;
  const GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen_text, "Address for clients (port 0: any)", "ADDR:PORT" },
    { "upstream", 0, 0, G_OPTION_ARG_STRING, &upstream_text, "Server to relay to", "ADDR:PORT" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &seed, "Random seed (default 1)", "N" },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &loss, "Drop probability", "P" },
    { "duplicate", 0, 0, G_OPTION_ARG_STRING, &duplicate, "Duplication probability", "P" },
    { "reorder", 0, 0, G_OPTION_ARG_STRING, &reorder, "Probability to hold a datagram back", "P" },
    { "delay", 0, 0, G_OPTION_ARG_STRING, &delay, "One-way delay", "MS" },
    { "jitter", 0, 0, G_OPTION_ARG_STRING, &jitter, "Uniform jitter around the delay", "MS" },
    { "corrupt", 0, 0, G_OPTION_ARG_STRING, &corrupt, "Bit-flip probability", "P" },
    G_OPTION_ENTRY_NULL
  };
  /* Pointers to the option strings: GOption fills them in during parsing. */
  const struct { const char *name; char **value; } parameters[] = {
    { "seed", &seed }, { "loss", &loss }, { "duplicate", &duplicate }, { "reorder", &reorder },
    { "delay", &delay }, { "jitter", &jitter }, { "corrupt", &corrupt },
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) listen_address = NULL;
  g_autoptr(GSocketAddress) upstream_address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(Relay) relay = NULL;
  g_autofree char *bound_text = NULL;

  context = g_option_context_new ("- lossy UDP relay for tests");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (error->message);
  if (argc > 1)
    {
      g_autofree char *message = g_strdup_printf ("unexpected argument '%s'", argv[1]);
      return usage_error (message);
    }
  if (listen_text == NULL || upstream_text == NULL)
    return usage_error ("--listen ADDR:PORT and --upstream ADDR:PORT are required");

  relay = relay_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (parameters); i++)
    {
      const char *value = *parameters[i].value;

      if (value != NULL && !relay_set_parameter (relay, parameters[i].name, value, &error))
        {
          g_autofree char *message = g_strdup_printf ("--%s: %s", parameters[i].name,
                                                      error->message);
          return usage_error (message);
        }
    }

  listen_address = parse_address (listen_text, TRUE, &error);
  if (listen_address == NULL)
    {
      g_autofree char *message = g_strdup_printf ("--listen: %s", error->message);
      return usage_error (message);
    }
  upstream_address = parse_address (upstream_text, FALSE, &error);
  if (upstream_address == NULL)
    {
      g_autofree char *message = g_strdup_printf ("--upstream: %s", error->message);
      return usage_error (message);
    }

  raise_fd_limit ();
  if (!relay_listen (relay, listen_address, upstream_address, &error)
      || (bound = g_socket_get_local_address (relay->listener, &error)) == NULL)
    {
      g_printerr ("quipu-relay: cannot listen on %s: %s\n", listen_text, error->message);
      return EXIT_FAILURE;
    }

  /* Handlers first, so a signal right after the line below still prints stats. */
  relay->sigint_id = g_unix_signal_add (SIGINT, on_terminate, relay);
  relay->sigterm_id = g_unix_signal_add (SIGTERM, on_terminate, relay);
  relay->stdin_id = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                   on_stdin_readable, relay);

  bound_text = format_address (G_INET_SOCKET_ADDRESS (bound));
  printf ("listening on %s\n", bound_text);
  fflush (stdout);

  g_main_loop_run (relay->loop);
  return EXIT_SUCCESS;
}
