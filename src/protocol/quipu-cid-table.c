#define G_LOG_DOMAIN "quipu-endpoint"

#include "config.h"

#include <string.h>

#include "quipu-address.h"
#include "quipu-cid-table.h"

/* A connection ID or a stateless reset token, as a hash key. */
typedef struct {
  guint8 len;
  guint8 data[NGTCP2_MAX_CIDLEN];
} CidKey;

G_STATIC_ASSERT (NGTCP2_STATELESS_RESET_TOKENLEN <= NGTCP2_MAX_CIDLEN);

static guint
cid_hash (gconstpointer key)
{
  const CidKey *cid = key;
  guint h = 2166136261u;

  for (guint i = 0; i < cid->len; i++)
    h = (h ^ cid->data[i]) * 16777619u;
  return h;
}

static gboolean
cid_equal (gconstpointer a, gconstpointer b)
{
  const CidKey *x = a, *y = b;

  return x->len == y->len && memcmp (x->data, y->data, x->len) == 0;
}

static void
cid_from_raw (CidKey *cid, const guint8 *data, gsize len)
{
  cid->len = MIN (len, NGTCP2_MAX_CIDLEN);
  memcpy (cid->data, data, cid->len);
}

void
quipu_cid_table_init (QuipuCidTable *table)
{
  table->cid_map = g_hash_table_new (cid_hash, cid_equal);
  table->token_map = g_hash_table_new (cid_hash, cid_equal);
  table->by_remote = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_queue_free);
}

void
quipu_cid_table_clear (QuipuCidTable *table)
{
  g_clear_pointer (&table->cid_map, g_hash_table_unref);
  g_clear_pointer (&table->token_map, g_hash_table_unref);
  g_clear_pointer (&table->by_remote, g_hash_table_unref);
}

void
quipu_cid_entry_init (QuipuCidEntry *entry,
                      gpointer       route)
{
  entry->route = route;
  entry->remote_link.data = route;
  entry->cids = g_ptr_array_new_with_free_func (g_free);
  entry->tokens = g_ptr_array_new_with_free_func (g_free);
}

/* `keys` holds the entry's keys in `map`, so it can take them all out. */
static void
add_key (QuipuCidEntry *entry, GHashTable *map, GPtrArray *keys, const guint8 *data, gsize len)
{
  CidKey *key = g_new (CidKey, 1);

  cid_from_raw (key, data, len);
  g_ptr_array_add (keys, key);
  g_hash_table_replace (map, key, entry->route);
}

static void
remove_key (QuipuCidEntry *entry, GHashTable *map, GPtrArray *keys, const guint8 *data, gsize len)
{
  CidKey key;

  cid_from_raw (&key, data, len);
  for (guint i = 0; i < keys->len; i++)
    if (cid_equal (g_ptr_array_index (keys, i), &key))
      {
        if (g_hash_table_lookup (map, &key) == entry->route)
          g_hash_table_remove (map, &key);
        g_ptr_array_remove_index_fast (keys, i);
        break;
      }
}

static void
remove_keys (QuipuCidEntry *entry, GHashTable *map, GPtrArray *keys)
{
  for (guint i = 0; i < keys->len; i++)
    if (g_hash_table_lookup (map, keys->pdata[i]) == entry->route)
      g_hash_table_remove (map, keys->pdata[i]);
  g_ptr_array_unref (keys);
}

void
quipu_cid_table_remove (QuipuCidTable *table,
                        QuipuCidEntry *entry)
{
  remove_keys (entry, table->cid_map, g_steal_pointer (&entry->cids));
  remove_keys (entry, table->token_map, g_steal_pointer (&entry->tokens));
  if (entry->remote_key != NULL)
    {
      GQueue *routes = g_hash_table_lookup (table->by_remote, entry->remote_key);

      g_queue_unlink (routes, &entry->remote_link);
      if (g_queue_is_empty (routes))
        g_hash_table_remove (table->by_remote, entry->remote_key);
      g_clear_pointer (&entry->remote_key, g_free);
    }
}

void
quipu_cid_table_add_cid (QuipuCidTable *table,
                         QuipuCidEntry *entry,
                         const guint8  *data,
                         gsize          len)
{
  add_key (entry, table->cid_map, entry->cids, data, len);
}

void
quipu_cid_table_retire_cid (QuipuCidTable *table,
                            QuipuCidEntry *entry,
                            const guint8  *data,
                            gsize          len)
{
  remove_key (entry, table->cid_map, entry->cids, data, len);
}

void
quipu_cid_table_set_token (QuipuCidTable *table,
                           QuipuCidEntry *entry,
                           const guint8   token[NGTCP2_STATELESS_RESET_TOKENLEN],
                           gboolean       valid)
{
  remove_key (entry, table->token_map, entry->tokens, token, NGTCP2_STATELESS_RESET_TOKENLEN);
  if (valid)
    add_key (entry, table->token_map, entry->tokens, token, NGTCP2_STATELESS_RESET_TOKENLEN);
}

void
quipu_cid_table_set_remote (QuipuCidTable         *table,
                            QuipuCidEntry         *entry,
                            const struct sockaddr *remote)
{
  GQueue *routes;

  entry->remote_key = quipu_sockaddr_to_string (remote);
  routes = g_hash_table_lookup (table->by_remote, entry->remote_key);
  if (routes == NULL)
    {
      routes = g_queue_new ();
      g_hash_table_insert (table->by_remote, g_strdup (entry->remote_key), routes);
    }
  g_queue_push_tail_link (routes, &entry->remote_link);
}

gpointer
quipu_cid_table_lookup (QuipuCidTable *table,
                        const guint8  *cid,
                        gsize          len)
{
  CidKey key;

  cid_from_raw (&key, cid, len);
  return g_hash_table_lookup (table->cid_map, &key);
}

gpointer
quipu_cid_table_lookup_token (QuipuCidTable *table,
                              const guint8   token[NGTCP2_STATELESS_RESET_TOKENLEN])
{
  CidKey key;

  cid_from_raw (&key, token, NGTCP2_STATELESS_RESET_TOKENLEN);
  return g_hash_table_lookup (table->token_map, &key);
}

GQueue *
quipu_cid_table_get_remote (QuipuCidTable         *table,
                            const struct sockaddr *remote)
{
  g_autofree char *remote_key = quipu_sockaddr_to_string (remote);

  return g_hash_table_lookup (table->by_remote, remote_key);
}
