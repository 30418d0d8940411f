#define G_LOG_DOMAIN "quipu-conversation-list"

#include "config.h"

#include <string.h>

#include "quipu-conversation-list.h"
#include "quipu-conversation-private.h"
#include "quipu-error.h"
#include "quipu-names.h"

struct _QuipuConversationList {
  GObject      parent_instance;
  QuipuClient *client;       /* not owned; NULL after shutdown */
  GPtrArray   *items;        /* QuipuConversation *, in list order */
  GHashTable  *by_key;       /* key -> QuipuConversation (in items) */
  gboolean     inbox_more;   /* the inbox has older pages */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QuipuConversationList, quipu_conversation_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
quipu_conversation_list_get_item_type (GListModel *model)
{
  return QUIPU_TYPE_CONVERSATION;
}

static guint
quipu_conversation_list_get_n_items (GListModel *model)
{
  return QUIPU_CONVERSATION_LIST (model)->items->len;
}

static gpointer
quipu_conversation_list_get_item (GListModel *model,
                                  guint       position)
{
  QuipuConversationList *self = QUIPU_CONVERSATION_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = quipu_conversation_list_get_item_type;
  iface->get_n_items = quipu_conversation_list_get_n_items;
  iface->get_item = quipu_conversation_list_get_item;
}

static void
quipu_conversation_list_dispose (GObject *object)
{
  QuipuConversationList *self = QUIPU_CONVERSATION_LIST (object);

  quipu_conversation_list_shutdown (self);

  G_OBJECT_CLASS (quipu_conversation_list_parent_class)->dispose (object);
}

static void
quipu_conversation_list_finalize (GObject *object)
{
  QuipuConversationList *self = QUIPU_CONVERSATION_LIST (object);

  g_hash_table_unref (self->by_key);
  g_ptr_array_unref (self->items);

  G_OBJECT_CLASS (quipu_conversation_list_parent_class)->finalize (object);
}

static void
quipu_conversation_list_class_init (QuipuConversationListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = quipu_conversation_list_dispose;
  object_class->finalize = quipu_conversation_list_finalize;
}

static void
quipu_conversation_list_init (QuipuConversationList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_key = g_hash_table_new (g_str_hash, g_str_equal);
  self->inbox_more = TRUE;
}

/* Order. */


static guint
sorted_position (QuipuConversationList *self,
                 QuipuConversation     *conv)
{
  guint pos = 0;

  while (pos < self->items->len &&
         quipu_conversation_compare (g_ptr_array_index (self->items, pos), conv) < 0)
    pos++;
  return pos;
}

/* Activity changed: move the conversation where it now belongs, as one
 * items-changed over the rows between its old and new place. */
static void
reposition (QuipuConversationList *self,
            QuipuConversation     *conv)
{
  gpointer item;
  guint from, to;

  /* Gone meanwhile: a handler of the conversation's own signals left it. */
  if (!g_ptr_array_find (self->items, conv, &from))
    return;
  item = g_ptr_array_steal_index (self->items, from);
  to = sorted_position (self, conv);

  g_ptr_array_insert (self->items, to, item);
  if (to != from)
    g_list_model_items_changed (G_LIST_MODEL (self), MIN (from, to),
                                MAX (from, to) - MIN (from, to) + 1,
                                MAX (from, to) - MIN (from, to) + 1);
}

static void
insert (QuipuConversationList *self,
        QuipuConversation     *conv)
{
  guint pos = sorted_position (self, conv);

  g_ptr_array_insert (self->items, pos, conv);
  g_hash_table_insert (self->by_key, (gpointer) quipu_conversation_get_key (conv), conv);
  g_list_model_items_changed (G_LIST_MODEL (self), pos, 0, 1);
}

/* Direct conversations. */

static int
compare_folded (gconstpointer a,
                gconstpointer b)
{
  g_autofree char *x = quipu_name_fold (*(const char * const *) a);
  g_autofree char *y = quipu_name_fold (*(const char * const *) b);

  return strcmp (x, y);
}

/* The people other than us, as spelled, each once, in key order (only us
 * if nobody else). */
static GStrv
others_of (const char * const *people,
           const char         *self_name)
{
  g_autoptr(GPtrArray) others = g_ptr_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *self_fold = quipu_name_fold (self_name);
  GStrv result;

  g_hash_table_add (seen, g_steal_pointer (&self_fold));
  for (guint i = 0; people != NULL && people[i] != NULL; i++)
    if (g_hash_table_add (seen, quipu_name_fold (people[i])))
      g_ptr_array_add (others, (gpointer) people[i]);
  if (others->len == 0)
    g_ptr_array_add (others, (gpointer) self_name);
  g_ptr_array_sort (others, compare_folded);

  result = g_new0 (char *, others->len + 1);
  for (guint i = 0; i < others->len; i++)
    result[i] = g_strdup (g_ptr_array_index (others, i));
  return result;
}

static QuipuConversation *
ensure_direct (QuipuConversationList *self,
               const char * const    *people)
{
  const char *me = quipu_client_get_username (self->client);
  g_autofree char *key = quipu_conversation_key_for_direct (people, me);
  QuipuConversation *conv = quipu_conversation_list_lookup (self, key);
  g_auto(GStrv) others = NULL;

  if (conv != NULL)
    return conv;
  others = others_of (people, me);
  conv = quipu_conversation_new_direct (self->client, (const char * const *) others);
  /* It pages the inbox, so it has what the inbox has. */
  quipu_conversation_page_loaded (conv, self->inbox_more);
  insert (self, conv);
  return conv;
}

static QuipuConversation *
ensure_direct_for_message (QuipuConversationList *self,
                           QuipuMessage          *msg)
{
  const char * const *recipients = quipu_message_get_recipients (msg);
  g_autoptr(GPtrArray) people = g_ptr_array_new ();

  g_ptr_array_add (people, (gpointer) quipu_message_get_sender (msg));
  for (guint i = 0; recipients != NULL && recipients[i] != NULL; i++)
    g_ptr_array_add (people, (gpointer) recipients[i]);
  g_ptr_array_add (people, NULL);
  return ensure_direct (self, (const char * const *) people->pdata);
}

/* Where a message goes: a direct conversation is made on its first
 * message; a room only by joining it (its late traffic after a leave, or a
 * message to a room never joined, is not shown: NULL). */
static QuipuConversation *
conversation_for_message (QuipuConversationList *self,
                          QuipuMessage          *msg)
{
  QuipuConversation *conv = quipu_conversation_list_lookup (self, quipu_message_get_conversation (msg));

  if (conv == NULL && quipu_message_get_room (msg) == NULL)
    conv = ensure_direct_for_message (self, msg);
  return conv;
}

/* The client's signals. */

static void
on_message_received (QuipuClient           *client,
                     QuipuMessage          *msg,
                     QuipuConversationList *self)
{
  QuipuConversation *conv = conversation_for_message (self, msg);

  if (conv == NULL)
    return;
  quipu_conversation_add_message (conv, msg);
  reposition (self, conv);
}

static void
on_message_acked (QuipuClient           *client,
                  QuipuMessage          *msg,
                  QuipuConversationList *self)
{
  QuipuConversation *conv = quipu_conversation_list_lookup (self, quipu_message_get_conversation (msg));

  if (conv == NULL)
    return;
  quipu_conversation_message_stored (conv, msg);
  reposition (self, conv);
}

static void
on_history_loaded (QuipuClient           *client,
                   const char            *room,
                   guint                  count,
                   gboolean               more,
                   QuipuConversationList *self)
{
  g_autoptr(GPtrArray) direct = NULL;

  if (room != NULL)
    {
      g_autofree char *key = quipu_conversation_key_for_room (room);
      QuipuConversation *conv = quipu_conversation_list_lookup (self, key);

      if (conv != NULL)
        {
          quipu_conversation_page_loaded (conv, more);
          reposition (self, conv);
        }
      return;
    }

  /* A page of the inbox: every direct conversation shares it. */
  self->inbox_more = more;
  direct = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->items->len; i++)
    {
      QuipuConversation *conv = g_ptr_array_index (self->items, i);

      if (quipu_conversation_get_kind (conv) == QUIPU_CONVERSATION_DIRECT)
        g_ptr_array_add (direct, g_object_ref (conv));
    }
  for (guint i = 0; i < direct->len; i++)
    {
      quipu_conversation_page_loaded (g_ptr_array_index (direct, i), more);
      reposition (self, g_ptr_array_index (direct, i));
    }
}

static void
on_presence_changed (QuipuClient           *client,
                     const char            *room,
                     const char            *user,
                     const char            *user_id,
                     gboolean               online,
                     QuipuConversationList *self)
{
  g_autofree char *key = NULL;
  QuipuConversation *conv;

  if (room == NULL)
    return;
  key = quipu_conversation_key_for_room (room);
  conv = quipu_conversation_list_lookup (self, key);
  if (conv != NULL)
    quipu_conversation_set_presence (conv, user, user_id, online);
}

static void
on_state (QuipuClient           *client,
          GParamSpec            *pspec,
          QuipuConversationList *self)
{
  g_autoptr(GPtrArray) all = NULL;

  if (quipu_client_get_state (client) == QUIPU_STATE_CONNECTED)
    return;
  all = g_ptr_array_copy (self->items, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);
  g_ptr_array_set_free_func (all, g_object_unref);
  for (guint i = 0; i < all->len; i++)
    {
      quipu_conversation_connection_lost (g_ptr_array_index (all, i));
      reposition (self, g_ptr_array_index (all, i));
    }
}

/* API. */

QuipuConversationList *
quipu_conversation_list_new (QuipuClient *client)
{
  QuipuConversationList *self = g_object_new (QUIPU_TYPE_CONVERSATION_LIST, NULL);

  self->client = client;
  g_signal_connect (client, "message-received", G_CALLBACK (on_message_received), self);
  g_signal_connect (client, "message-acked", G_CALLBACK (on_message_acked), self);
  g_signal_connect (client, "history-loaded", G_CALLBACK (on_history_loaded), self);
  g_signal_connect (client, "presence-changed", G_CALLBACK (on_presence_changed), self);
  g_signal_connect (client, "notify::state", G_CALLBACK (on_state), self);
  return self;
}

void
quipu_conversation_list_shutdown (QuipuConversationList *self)
{
  if (self->client == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->client, self);
  self->client = NULL;
  for (guint i = 0; i < self->items->len; i++)
    quipu_conversation_detach (g_ptr_array_index (self->items, i));
}

QuipuConversation *
quipu_conversation_list_lookup (QuipuConversationList *self,
                                const char            *key)
{
  return key ? g_hash_table_lookup (self->by_key, key) : NULL;
}

QuipuConversation *
quipu_conversation_list_add_room (QuipuConversationList *self,
                                  const char            *room,
                                  GList                 *pending)
{
  g_autofree char *key = quipu_conversation_key_for_room (room);
  QuipuConversation *conv = quipu_conversation_list_lookup (self, key);

  if (conv != NULL)
    return conv;
  conv = quipu_conversation_new_room (self->client, room);
  insert (self, conv);
  /* Written before the room was joined in this run: a restored outbox. */
  for (GList *l = pending; l != NULL; l = l->next)
    if (g_strcmp0 (quipu_message_get_conversation (l->data), key) == 0)
      quipu_conversation_add_pending (conv, l->data);
  reposition (self, conv);
  return conv;
}

void
quipu_conversation_list_remove_room (QuipuConversationList *self,
                                     const char            *room)
{
  g_autofree char *key = quipu_conversation_key_for_room (room);
  QuipuConversation *conv = quipu_conversation_list_lookup (self, key);
  guint index;

  if (conv == NULL || !g_ptr_array_find (self->items, conv, &index))
    return;
  g_hash_table_remove (self->by_key, key);
  quipu_conversation_detach (conv);
  g_ptr_array_remove_index (self->items, index);
  g_list_model_items_changed (G_LIST_MODEL (self), index, 1, 0);
}

QuipuConversation *
quipu_conversation_list_open_direct (QuipuConversationList  *self,
                                     const char * const     *participants,
                                     GError                **error)
{
  g_autoptr(GPtrArray) normal = g_ptr_array_new_with_free_func (g_free);

  if (participants == NULL || participants[0] == NULL)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                           "a direct conversation needs someone to talk to");
      return NULL;
    }
  for (guint i = 0; participants[i] != NULL; i++)
    {
      char *name = quipu_name_normalize (participants[i], error);

      if (name == NULL)
        return NULL;
      g_ptr_array_add (normal, name);
    }
  if (normal->len > QUIPU_MAX_RECIPIENTS)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "a direct conversation has at most %d other people", QUIPU_MAX_RECIPIENTS);
      return NULL;
    }
  g_ptr_array_add (normal, NULL);
  return ensure_direct (self, (const char * const *) normal->pdata);
}

void
quipu_conversation_list_add_pending (QuipuConversationList *self,
                                     QuipuMessage          *msg)
{
  QuipuConversation *conv = conversation_for_message (self, msg);

  if (conv == NULL)
    return;
  quipu_conversation_add_pending (conv, msg);
  reposition (self, conv);
}

void
quipu_conversation_list_joined (QuipuConversationList *self,
                                const char            *room,
                                GPtrArray             *users)
{
  g_autofree char *key = quipu_conversation_key_for_room (room);
  QuipuConversation *conv = quipu_conversation_list_lookup (self, key);

  if (conv != NULL)
    quipu_conversation_joined (conv, room, users);
}
