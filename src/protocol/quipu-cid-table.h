#pragma once

#include <sys/socket.h>

#include <glib.h>
#include <ngtcp2/ngtcp2.h>

G_BEGIN_DECLS

/* An endpoint's routing table: which route (the endpoint's record of one
 * connection) a datagram goes to, by the connection ID it carries, by the
 * stateless reset token it ends in (client), and which routes lead to one
 * remote address (client, for ICMP errors). Every lookup is O(1), however
 * many connections there are. The table holds routes as opaque pointers. */
typedef struct {
  GHashTable *cid_map;    /* CidKey * (owned by the entry) -> route */
  GHashTable *token_map;  /* client: reset token (a CidKey *) -> route */
  GHashTable *by_remote;  /* client: address text -> GQueue of routes */
} QuipuCidTable;

/* A route's keys in the table, embedded in the route so it can take them
 * all out again. */
typedef struct {
  gpointer   route;
  GPtrArray *cids;        /* CidKey *, keys of cid_map */
  GPtrArray *tokens;      /* client: CidKey *, keys of token_map */
  char      *remote_key;  /* client: its key in by_remote */
  GList      remote_link;
} QuipuCidEntry;

void     quipu_cid_table_init       (QuipuCidTable         *table);
void     quipu_cid_table_clear      (QuipuCidTable         *table);

void     quipu_cid_entry_init       (QuipuCidEntry         *entry,
                                     gpointer               route);
/* Takes every key of `entry` out of the table and frees them. */
void     quipu_cid_table_remove     (QuipuCidTable         *table,
                                     QuipuCidEntry         *entry);

void     quipu_cid_table_add_cid    (QuipuCidTable         *table,
                                     QuipuCidEntry         *entry,
                                     const guint8          *data,
                                     gsize                  len);
void     quipu_cid_table_retire_cid (QuipuCidTable         *table,
                                     QuipuCidEntry         *entry,
                                     const guint8          *data,
                                     gsize                  len);
/* Replaces the token `token` of `entry`, or only removes it when !valid. */
void     quipu_cid_table_set_token  (QuipuCidTable         *table,
                                     QuipuCidEntry         *entry,
                                     const guint8           token[NGTCP2_STATELESS_RESET_TOKENLEN],
                                     gboolean               valid);
void     quipu_cid_table_set_remote (QuipuCidTable         *table,
                                     QuipuCidEntry         *entry,
                                     const struct sockaddr *remote);

/* The route, or NULL. */
gpointer quipu_cid_table_lookup       (QuipuCidTable *table,
                                       const guint8  *cid,
                                       gsize          len);
gpointer quipu_cid_table_lookup_token (QuipuCidTable *table,
                                       const guint8   token[NGTCP2_STATELESS_RESET_TOKENLEN]);
/* The routes to `remote` (GList data), or NULL if there are none. */
GQueue  *quipu_cid_table_get_remote   (QuipuCidTable         *table,
                                       const struct sockaddr *remote);

G_END_DECLS
