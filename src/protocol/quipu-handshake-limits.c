#define G_LOG_DOMAIN "quipu-endpoint"

#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "quipu-handshake-limits.h"

struct _QuipuHandshakeSlot {
  guint8 len;            /* of addr: 4 or 16 */
  guint8 addr[16];
  guint  count;
};

struct _QuipuHandshakeLimits {
  GHashTable *slots;     /* QuipuHandshakeSlot * (its own key) with a count > 0 */
  guint       total;
  guint       max_per_address;
  guint       retry_threshold;
};

static guint
slot_hash (gconstpointer key)
{
  const QuipuHandshakeSlot *slot = key;
  guint hash = 5381;

  for (guint i = 0; i < slot->len; i++)
    hash = hash * 33 + slot->addr[i];
  return hash;
}

static gboolean
slot_equal (gconstpointer a,
            gconstpointer b)
{
  const QuipuHandshakeSlot *x = a, *y = b;

  return x->len == y->len && memcmp (x->addr, y->addr, x->len) == 0;
}

/* The address without its port; an IPv4 client on a dual-stack socket
 * (::ffff:a.b.c.d) is always seen the same way, so it is one key too. */
static void
slot_key (QuipuHandshakeSlot    *key,
          const struct sockaddr *remote)
{
  memset (key, 0, sizeof *key);
  if (remote->sa_family == AF_INET6)
    {
      key->len = 16;
      memcpy (key->addr, &((const struct sockaddr_in6 *) remote)->sin6_addr, 16);
    }
  else if (remote->sa_family == AF_INET)
    {
      key->len = 4;
      memcpy (key->addr, &((const struct sockaddr_in *) remote)->sin_addr, 4);
    }
}

QuipuHandshakeLimits *
quipu_handshake_limits_new (void)
{
  QuipuHandshakeLimits *limits = g_new0 (QuipuHandshakeLimits, 1);

  limits->slots = g_hash_table_new_full (slot_hash, slot_equal, g_free, NULL);
  return limits;
}

void
quipu_handshake_limits_free (QuipuHandshakeLimits *limits)
{
  g_hash_table_unref (limits->slots);
  g_free (limits);
}

void
quipu_handshake_limits_configure (QuipuHandshakeLimits *limits,
                                  guint                 max_per_address,
                                  guint                 retry_threshold)
{
  limits->max_per_address = max_per_address;
  limits->retry_threshold = retry_threshold;
}

gboolean
quipu_handshake_limits_allow (QuipuHandshakeLimits  *limits,
                              const struct sockaddr *remote)
{
  QuipuHandshakeSlot key;
  QuipuHandshakeSlot *slot;

  if (limits->max_per_address == 0)
    return TRUE;
  slot_key (&key, remote);
  slot = g_hash_table_lookup (limits->slots, &key);
  return slot == NULL || slot->count < limits->max_per_address;
}

gboolean
quipu_handshake_limits_want_retry (QuipuHandshakeLimits *limits)
{
  return limits->retry_threshold > 0 && limits->total >= limits->retry_threshold;
}

QuipuHandshakeSlot *
quipu_handshake_limits_begin (QuipuHandshakeLimits  *limits,
                              const struct sockaddr *remote)
{
  QuipuHandshakeSlot key;
  QuipuHandshakeSlot *slot;

  slot_key (&key, remote);
  slot = g_hash_table_lookup (limits->slots, &key);
  if (slot == NULL)
    {
      slot = g_memdup2 (&key, sizeof key);
      g_hash_table_add (limits->slots, slot);
    }
  slot->count++;
  limits->total++;
  return slot;
}

void
quipu_handshake_limits_end (QuipuHandshakeLimits *limits,
                            QuipuHandshakeSlot   *slot)
{
  g_return_if_fail (slot->count > 0 && limits->total > 0);

  limits->total--;
  /* An address with nothing in progress takes no memory. */
  if (--slot->count == 0)
    g_hash_table_remove (limits->slots, slot);
}

guint
quipu_handshake_limits_in_progress (QuipuHandshakeLimits *limits)
{
  return limits->total;
}
