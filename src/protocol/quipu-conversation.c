#define G_LOG_DOMAIN "quipu-conversation"

#include "config.h"

#include <string.h>

#include "quipu-conversation-items.h"
#include "quipu-conversation-private.h"
#include "quipu-identity.h"
#include "quipu-member-private.h"
#include "quipu-names.h"

struct _QuipuConversation {
  GObject                parent_instance;

  QuipuClient           *client;          /* not owned; NULL once detached */
  char                  *key;
  QuipuConversationKind  kind;
  char                  *title;
  char                  *room;
  GStrv                  participants;

  QuipuConversationItems items;

  GListStore            *members;
  GHashTable            *members_by_name; /* folded name -> QuipuMember (in members) */

  GTask                 *older_task;
  guint                  unread_count;
  gboolean               has_mention;
  gboolean               has_older;
  guint64                synced_seq;
  gint64                 last_activity;
};

/* Registered here rather than through glib-mkenums (quipu-enums.h): the
 * type lives with the one header that declares it. */
G_DEFINE_ENUM_TYPE (QuipuConversationKind, quipu_conversation_kind,
  G_DEFINE_ENUM_VALUE (QUIPU_CONVERSATION_ROOM, "room"),
  G_DEFINE_ENUM_VALUE (QUIPU_CONVERSATION_DIRECT, "direct"))

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (QuipuConversation, quipu_conversation, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_KEY,
  PROP_KIND,
  PROP_TITLE,
  PROP_ROOM,
  PROP_PARTICIPANTS,
  PROP_UNREAD_COUNT,
  PROP_HAS_MENTION,
  PROP_SYNCED_SEQ,
  PROP_HAS_OLDER,
  PROP_LOADING_OLDER,
  PROP_LAST_ACTIVITY,
  PROP_MEMBERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* GListModel. */

static GType
quipu_conversation_get_item_type (GListModel *model)
{
  return QUIPU_TYPE_MESSAGE;
}

static guint
quipu_conversation_get_n_items (GListModel *model)
{
  return quipu_conversation_items_get_n_items (&QUIPU_CONVERSATION (model)->items);
}

static gpointer
quipu_conversation_get_item (GListModel *model,
                             guint       position)
{
  QuipuMessage *msg = quipu_conversation_items_get (&QUIPU_CONVERSATION (model)->items, position);

  return msg != NULL ? g_object_ref (msg) : NULL;
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = quipu_conversation_get_item_type;
  iface->get_n_items = quipu_conversation_get_n_items;
  iface->get_item = quipu_conversation_get_item;
}

/* GObject. */

static void
quipu_conversation_dispose (GObject *object)
{
  QuipuConversation *self = QUIPU_CONVERSATION (object);

  quipu_conversation_detach (self);

  G_OBJECT_CLASS (quipu_conversation_parent_class)->dispose (object);
}

static void
quipu_conversation_finalize (GObject *object)
{
  QuipuConversation *self = QUIPU_CONVERSATION (object);

  g_free (self->key);
  g_free (self->title);
  g_free (self->room);
  g_strfreev (self->participants);
  quipu_conversation_items_clear (&self->items);
  g_hash_table_unref (self->members_by_name);
  g_object_unref (self->members);

  G_OBJECT_CLASS (quipu_conversation_parent_class)->finalize (object);
}

static void
quipu_conversation_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  QuipuConversation *self = QUIPU_CONVERSATION (object);

  switch (prop_id)
    {
    case PROP_KEY:
      g_value_set_string (value, self->key);
      break;
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_ROOM:
      g_value_set_string (value, self->room);
      break;
    case PROP_PARTICIPANTS:
      g_value_set_boxed (value, self->participants);
      break;
    case PROP_UNREAD_COUNT:
      g_value_set_uint (value, self->unread_count);
      break;
    case PROP_HAS_MENTION:
      g_value_set_boolean (value, self->has_mention);
      break;
    case PROP_SYNCED_SEQ:
      g_value_set_uint64 (value, self->synced_seq);
      break;
    case PROP_HAS_OLDER:
      g_value_set_boolean (value, self->has_older);
      break;
    case PROP_LOADING_OLDER:
      g_value_set_boolean (value, self->older_task != NULL);
      break;
    case PROP_LAST_ACTIVITY:
      g_value_set_int64 (value, self->last_activity);
      break;
    case PROP_MEMBERS:
      g_value_set_object (value, self->members);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_conversation_class_init (QuipuConversationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = quipu_conversation_dispose;
  object_class->finalize = quipu_conversation_finalize;
  object_class->get_property = quipu_conversation_get_property;

  properties[PROP_KEY] = g_param_spec_string ("key", NULL, NULL, NULL, flags);
  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, QUIPU_TYPE_CONVERSATION_KIND, QUIPU_CONVERSATION_ROOM, flags);
  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL, flags);
  properties[PROP_ROOM] = g_param_spec_string ("room", NULL, NULL, NULL, flags);
  properties[PROP_PARTICIPANTS] = g_param_spec_boxed ("participants", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_UNREAD_COUNT] = g_param_spec_uint ("unread-count", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_HAS_MENTION] = g_param_spec_boolean ("has-mention", NULL, NULL, FALSE, flags);
  properties[PROP_SYNCED_SEQ] = g_param_spec_uint64 ("synced-seq", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_HAS_OLDER] = g_param_spec_boolean ("has-older", NULL, NULL, TRUE, flags);
  properties[PROP_LOADING_OLDER] = g_param_spec_boolean ("loading-older", NULL, NULL, FALSE, flags);
  properties[PROP_LAST_ACTIVITY] =
    g_param_spec_int64 ("last-activity", NULL, NULL, G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_MEMBERS] = g_param_spec_object ("members", NULL, NULL, G_TYPE_LIST_MODEL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
quipu_conversation_init (QuipuConversation *self)
{
  quipu_conversation_items_init (&self->items, G_LIST_MODEL (self));
  self->members = g_list_store_new (QUIPU_TYPE_MEMBER);
  self->members_by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->has_older = TRUE;
}

QuipuConversation *
quipu_conversation_new_room (QuipuClient *client,
                             const char  *room)
{
  QuipuConversation *self = g_object_new (QUIPU_TYPE_CONVERSATION, NULL);

  self->client = client;
  self->kind = QUIPU_CONVERSATION_ROOM;
  self->key = quipu_conversation_key_for_room (room);
  self->room = g_strdup (room);
  self->title = g_strconcat ("#", room, NULL);
  return self;
}

QuipuConversation *
quipu_conversation_new_direct (QuipuClient        *client,
                               const char * const *participants)
{
  QuipuConversation *self = g_object_new (QUIPU_TYPE_CONVERSATION, NULL);

  self->client = client;
  self->kind = QUIPU_CONVERSATION_DIRECT;
  self->key = quipu_conversation_key_for_direct (participants, quipu_client_get_username (client));
  self->participants = g_strdupv ((char **) participants);
  self->title = g_strjoinv (", ", self->participants);
  return self;
}

/* Ends the load in flight, if any, with `error` (taken) or TRUE. */
static void
finish_older (QuipuConversation *self,
              GError            *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->older_task);

  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING_OLDER]);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
quipu_conversation_detach (QuipuConversation *self)
{
  self->client = NULL;
  finish_older (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                           "the session has ended"));
}

/* Feeding. */

static void
note_activity (QuipuConversation *self,
               QuipuMessage      *msg)
{
  gint64 timestamp = quipu_message_get_timestamp (msg);

  if (timestamp <= self->last_activity)
    return;
  self->last_activity = timestamp;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_ACTIVITY]);
}

static void
update_synced_seq (QuipuConversation *self)
{
  guint64 seq;

  if (self->client == NULL)
    return;
  seq = quipu_client_get_synced_seq (self->client, self->room);
  if (seq == self->synced_seq)
    return;
  self->synced_seq = seq;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SYNCED_SEQ]);
}

/* Whether `body` names `name` (quipu_name_find_mention: the one rule). */
static gboolean
mentions (const char *body,
          const char *name)
{
  return quipu_name_find_mention (body, name, 0, NULL, NULL);
}

static void
count_unread (QuipuConversation *self,
              QuipuMessage      *msg)
{
  const char *me = self->client ? quipu_client_get_username (self->client) : NULL;

  if (quipu_message_is_history (msg) || quipu_message_is_own (msg))
    return;
  self->unread_count++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_COUNT]);
  if (!self->has_mention && me != NULL && mentions (quipu_message_get_body (msg), me))
    {
      self->has_mention = TRUE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MENTION]);
    }
}

void
quipu_conversation_add_message (QuipuConversation *self,
                                QuipuMessage      *msg)
{
  if (quipu_message_is_history (msg))
    {
      quipu_conversation_items_hold (&self->items, msg);
      return;
    }
  if (!quipu_conversation_items_insert_stored (&self->items, msg))
    return;
  note_activity (self, msg);
  count_unread (self, msg);
  update_synced_seq (self);
}

void
quipu_conversation_add_pending (QuipuConversation *self,
                                QuipuMessage      *msg)
{
  quipu_conversation_items_add_pending (&self->items, msg);
  note_activity (self, msg);
}

void
quipu_conversation_message_stored (QuipuConversation *self,
                                   QuipuMessage      *msg)
{
  if (quipu_conversation_items_message_stored (&self->items, msg))
    note_activity (self, msg);
  update_synced_seq (self);
}

/* Shows the page that has come. */
static void
flush_page (QuipuConversation *self)
{
  QuipuMessage *newest = quipu_conversation_items_flush_page (&self->items);

  if (newest != NULL)
    note_activity (self, newest);
}

void
quipu_conversation_page_loaded (QuipuConversation *self,
                                gboolean           more)
{
  flush_page (self);
  more = !!more;
  if (self->has_older != more)
    {
      self->has_older = more;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_OLDER]);
    }
  update_synced_seq (self);
  finish_older (self, NULL);
}

void
quipu_conversation_connection_lost (QuipuConversation *self)
{
  /* What came of a page cut short is real: show it (the next request may
   * bring it again; duplicates are dropped). */
  flush_page (self);
  finish_older (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                           "the connection was lost before the page came"));
}

/* Members. */

static QuipuMember *
member_ensure (QuipuConversation *self,
               const char        *name)
{
  g_autofree char *fold = quipu_name_fold (name);
  QuipuMember *member = g_hash_table_lookup (self->members_by_name, fold);

  if (member == NULL)
    {
      g_autoptr(QuipuMember) created = quipu_member_new (name);

      g_list_store_insert_sorted (self->members, created, quipu_member_compare, NULL);
      member = created;
      g_hash_table_insert (self->members_by_name, g_steal_pointer (&fold), member);
    }
  return member;
}

void
quipu_conversation_set_presence (QuipuConversation *self,
                                 const char        *name,
                                 const char        *user_id,
                                 gboolean           online)
{
  QuipuMember *member = member_ensure (self, name);

  quipu_member_set_user_id (member, user_id);
  quipu_member_set_online (member, online);
}

void
quipu_conversation_joined (QuipuConversation *self,
                           const char        *room,
                           GPtrArray         *users)
{
  g_autoptr(GHashTable) online = g_hash_table_new (NULL, NULL);
  guint n;

  /* The server's spelling is the room's name for everyone. */
  if (room != NULL && g_strcmp0 (room, self->room) != 0)
    {
      g_free (self->room);
      g_free (self->title);
      self->room = g_strdup (room);
      self->title = g_strconcat ("#", room, NULL);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROOM]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
    }

  /* The JOIN reply lists who is online now; the others left while we were
   * away. */
  for (guint i = 0; users != NULL && i < users->len; i++)
    {
      QuipuUserInfo *user = g_ptr_array_index (users, i);
      g_autofree char *user_id = user->has_key ? quipu_user_id_from_key (user->key) : NULL;

      quipu_conversation_set_presence (self, user->name, user_id, TRUE);
      g_hash_table_add (online, member_ensure (self, user->name));
    }
  n = g_list_model_get_n_items (G_LIST_MODEL (self->members));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(QuipuMember) member = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (!g_hash_table_contains (online, member))
        quipu_member_set_online (member, FALSE);
    }
}

int
quipu_conversation_compare (QuipuConversation *a,
                            QuipuConversation *b)
{
  if (a->last_activity != b->last_activity)
    return a->last_activity > b->last_activity ? -1 : 1;
  return strcmp (a->key, b->key);
}

/* Public API. */

const char *
quipu_conversation_get_key (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);

  return self->key;
}

QuipuConversationKind
quipu_conversation_get_kind (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), QUIPU_CONVERSATION_ROOM);

  return self->kind;
}

const char *
quipu_conversation_get_title (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);

  return self->title;
}

const char *
quipu_conversation_get_room (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);

  return self->room;
}

const char * const *
quipu_conversation_get_participants (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);

  return (const char * const *) self->participants;
}

guint
quipu_conversation_get_unread_count (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), 0);

  return self->unread_count;
}

const char *
quipu_conversation_get_self_name (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);

  return self->client != NULL ? quipu_client_get_username (self->client) : NULL;
}

gboolean
quipu_conversation_get_has_mention (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), FALSE);

  return self->has_mention;
}

guint64
quipu_conversation_get_synced_seq (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), 0);

  return self->synced_seq;
}

gboolean
quipu_conversation_get_has_older (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), FALSE);

  return self->has_older;
}

gboolean
quipu_conversation_get_loading_older (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), FALSE);

  return self->older_task != NULL;
}

gint64
quipu_conversation_get_last_activity (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), 0);

  return self->last_activity;
}

GListModel *
quipu_conversation_get_members (QuipuConversation *self)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);

  return G_LIST_MODEL (self->members);
}

void
quipu_conversation_mark_read (QuipuConversation *self)
{
  g_return_if_fail (QUIPU_IS_CONVERSATION (self));

  if (self->unread_count != 0)
    {
      self->unread_count = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_COUNT]);
    }
  if (self->has_mention)
    {
      self->has_mention = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_MENTION]);
    }
}

void
quipu_conversation_load_older_async (QuipuConversation   *self,
                                     guint                limit,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (QUIPU_IS_CONVERSATION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, quipu_conversation_load_older_async);

  if (self->older_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "older messages of %s are on their way already", self->title);
      return;
    }
  if (self->client == NULL || quipu_client_get_state (self->client) != QUIPU_STATE_CONNECTED)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               "cannot load older messages of %s while not connected", self->title);
      return;
    }

  /* FALSE here means a page of this room (or of the inbox, for another
   * direct conversation) is on its way already: wait for that one. */
  quipu_client_load_older (self->client, self->room, limit);
  self->older_task = g_steal_pointer (&task);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING_OLDER]);
}

gboolean
quipu_conversation_load_older_finish (QuipuConversation  *self,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == quipu_conversation_load_older_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

QuipuMessage *
quipu_conversation_send (QuipuConversation  *self,
                         const char         *body,
                         GError            **error)
{
  g_return_val_if_fail (QUIPU_IS_CONVERSATION (self), NULL);
  g_return_val_if_fail (body != NULL, NULL);

  if (self->client == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the session of %s has ended", self->title);
      return NULL;
    }
  if (self->kind == QUIPU_CONVERSATION_ROOM)
    return quipu_client_send_to_room (self->client, self->room, body, error);
  return quipu_client_send_direct (self->client, (const char * const *) self->participants, body, error);
}
