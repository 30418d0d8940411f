#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <string.h>

#include "quipu-names.h"
#include "quipu-room.h"

typedef struct {
  gint64            uid;
  GPtrArray        *sessions;  /* QuipuSession *, not owned */
} OnlineUser;

/* A user's arrival in or departure from a room, held until the end of
 * the batch: a JOIN and a LEAVE in one batch tell nobody anything. */
typedef struct {
  char                *fold;
  gint64               uid;
  char                *username;
  guint8               key[QUIPU_KEY_SIZE];
  QuipuPresenceStatus  before;    /* as the members last heard */
  QuipuPresenceStatus  now;
  guint                changes;   /* calls it took in */
} PendingPresence;

struct _QuipuRoster
{
  GHashTable *rooms;    /* quipu_name_fold () -> QuipuRoom * */
  GHashTable *online;   /* gint64 * uid -> OnlineUser * */
  GHashTable *pending;  /* "uid fold" -> PendingPresence *, in this batch */
  GPtrArray  *order;    /* the same, in the order they first changed */
  guint64     presence_sent;
  guint64     presence_coalesced;
};

static void
pending_free (gpointer data)
{
  PendingPresence *pending = data;

  g_free (pending->fold);
  g_free (pending->username);
  g_free (pending);
}

static void
room_free (gpointer data)
{
  QuipuRoom *room = data;

  g_free (room->name);
  g_free (room->fold);
  g_ptr_array_unref (room->members);
  g_free (room);
}

static void
online_user_free (gpointer data)
{
  OnlineUser *user = data;

  g_ptr_array_unref (user->sessions);
  g_free (user);
}

QuipuRoster *
quipu_roster_new (void)
{
  QuipuRoster *roster = g_new0 (QuipuRoster, 1);

  roster->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, room_free);
  roster->online = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, online_user_free);
  roster->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  roster->order = g_ptr_array_new_with_free_func (pending_free);
  return roster;
}

void
quipu_roster_free (QuipuRoster *roster)
{
  g_hash_table_unref (roster->pending);
  g_ptr_array_unref (roster->order);
  g_hash_table_unref (roster->online);
  g_hash_table_unref (roster->rooms);
  g_free (roster);
}

QuipuRoom *
quipu_roster_lookup_room (QuipuRoster *roster,
                          const char  *name)
{
  g_autofree char *fold = quipu_name_fold (name);

  return fold ? g_hash_table_lookup (roster->rooms, fold) : NULL;
}

QuipuRoom *
quipu_roster_add_room (QuipuRoster *roster,
                       const char  *spelling)
{
  QuipuRoom *room = g_new0 (QuipuRoom, 1);

  room->name = g_strdup (spelling);
  room->fold = quipu_name_fold (spelling);
  room->members = g_ptr_array_new ();
  room->roster = roster;
  g_hash_table_insert (roster->rooms, g_strdup (room->fold), room);
  return room;
}

QuipuRoom *
quipu_roster_joined_room (QuipuRoster  *roster,
                          QuipuSession *session,
                          const char   *name)
{
  QuipuRoom *room = quipu_roster_lookup_room (roster, name);

  return room != NULL && g_ptr_array_find (session->rooms, room, NULL) ? room : NULL;
}

static gboolean
room_has_user (QuipuRoom    *room,
               gint64        uid,
               QuipuSession *except)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      QuipuSession *member = g_ptr_array_index (room->members, i);

      if (member != except && member->uid == uid)
        return TRUE;
    }
  return FALSE;
}

static void
send_presence (QuipuRoster         *roster,
               QuipuRoom           *room,
               QuipuBatch          *batch,
               gint64               uid,
               const char          *username,
               const guint8        *key,
               QuipuPresenceStatus  status)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_PRESENCE);
  g_autoptr(GBytes) bytes = NULL;

  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, room->name);
  quipu_frame_add_user (frame, username, key);
  quipu_frame_set_uint (frame, QUIPU_FIELD_STATUS, status);
  bytes = quipu_frame_encode (frame, NULL);
  for (guint i = 0; bytes != NULL && i < room->members->len; i++)
    {
      QuipuSession *member = g_ptr_array_index (room->members, i);

      if (member->uid != uid)
        {
          quipu_session_send (member, batch, bytes, 0);
          roster->presence_sent++;
        }
    }
}

/* In a batch the change waits for quipu_roster_flush_presence(); outside
 * one (a connection closing on a timer) it goes out at once. */
static void
broadcast_presence (QuipuRoom           *room,
                    QuipuBatch          *batch,
                    QuipuSession        *subject,
                    QuipuPresenceStatus  status)
{
  QuipuRoster *roster = room->roster;
  g_autofree char *id = NULL;
  PendingPresence *pending;

  if (batch == NULL || !quipu_batch_is_open (batch))
    {
      send_presence (roster, room, batch, subject->uid, subject->username, subject->key, status);
      return;
    }
  id = g_strdup_printf ("%" G_GINT64_FORMAT " %s", subject->uid, room->fold);
  pending = g_hash_table_lookup (roster->pending, id);
  if (pending == NULL)
    {
      pending = g_new0 (PendingPresence, 1);
      pending->fold = g_strdup (room->fold);
      pending->uid = subject->uid;
      pending->username = g_strdup (subject->username);
      memcpy (pending->key, subject->key, QUIPU_KEY_SIZE);
      pending->before = status == QUIPU_PRESENCE_ONLINE ? QUIPU_PRESENCE_OFFLINE : QUIPU_PRESENCE_ONLINE;
      g_hash_table_insert (roster->pending, g_steal_pointer (&id), pending);
      g_ptr_array_add (roster->order, pending);
    }
  pending->now = status;
  pending->changes++;
}

void
quipu_roster_flush_presence (QuipuRoster *roster,
                             QuipuBatch  *batch)
{
  for (guint i = 0; i < roster->order->len; i++)
    {
      PendingPresence *pending = g_ptr_array_index (roster->order, i);
      QuipuRoom *room = g_hash_table_lookup (roster->rooms, pending->fold);

      /* A room nobody is left in has nobody to tell. */
      if (pending->now == pending->before || room == NULL)
        roster->presence_coalesced += pending->changes;
      else
        {
          roster->presence_coalesced += pending->changes - 1;
          send_presence (roster, room, batch, pending->uid, pending->username, pending->key, pending->now);
        }
    }
  g_hash_table_remove_all (roster->pending);
  g_ptr_array_set_size (roster->order, 0);
}

void
quipu_room_join (QuipuRoom    *room,
                 QuipuSession *session,
                 QuipuBatch   *batch)
{
  gboolean was_present;

  if (g_ptr_array_find (room->members, session, NULL))
    return;
  was_present = room_has_user (room, session->uid, NULL);
  g_ptr_array_add (room->members, session);
  g_ptr_array_add (session->rooms, room);
  if (!was_present)
    broadcast_presence (room, batch, session, QUIPU_PRESENCE_ONLINE);
}

void
quipu_room_leave (QuipuRoom    *room,
                  QuipuSession *session,
                  QuipuBatch   *batch)
{
  g_ptr_array_remove (room->members, session);
  g_ptr_array_remove (session->rooms, room);
  if (!room_has_user (room, session->uid, NULL))
    broadcast_presence (room, batch, session, QUIPU_PRESENCE_OFFLINE);
  /* Nobody to tell anything any more: 10 000 rooms joined and left must
   * not stay behind in memory. */
  if (room->members->len == 0)
    g_hash_table_remove (room->roster->rooms, room->fold);
}

void
quipu_room_send (QuipuRoom    *room,
                 QuipuBatch   *batch,
                 GBytes       *bytes,
                 QuipuSession *except)
{
  for (guint i = 0; i < room->members->len; i++)
    {
      QuipuSession *member = g_ptr_array_index (room->members, i);

      if (member != except)
        quipu_session_send_written (member, batch, bytes, 0, QUIPU_ON_FAILURE_DROP, NULL);
    }
}

void
quipu_room_add_users (QuipuRoom  *room,
                      QuipuFrame *frame,
                      guint       max)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < room->members->len && g_hash_table_size (seen) < max; i++)
    {
      QuipuSession *member = g_ptr_array_index (room->members, i);

      if (g_hash_table_add (seen, &member->uid))
        quipu_frame_add_user (frame, member->username, member->key);
    }
}

void
quipu_roster_go_online (QuipuRoster  *roster,
                        QuipuSession *session)
{
  OnlineUser *user = g_hash_table_lookup (roster->online, &session->uid);

  if (user == NULL)
    {
      user = g_new0 (OnlineUser, 1);
      user->uid = session->uid;
      user->sessions = g_ptr_array_new ();
      g_hash_table_insert (roster->online, &user->uid, user);
    }
  g_ptr_array_add (user->sessions, session);
}

void
quipu_roster_go_offline (QuipuRoster  *roster,
                         QuipuSession *session,
                         QuipuBatch   *batch)
{
  OnlineUser *user;

  while (session->rooms->len > 0)
    quipu_room_leave (g_ptr_array_index (session->rooms, session->rooms->len - 1), session, batch);
  if (session->uid == 0)
    return;

  user = g_hash_table_lookup (roster->online, &session->uid);
  if (user == NULL)
    return;
  g_ptr_array_remove (user->sessions, session);
  if (user->sessions->len == 0)
    g_hash_table_remove (roster->online, &session->uid);
}

GPtrArray *
quipu_roster_lookup_user (QuipuRoster *roster,
                          gint64       uid)
{
  OnlineUser *user = g_hash_table_lookup (roster->online, &uid);

  return user ? user->sessions : NULL;
}

void
quipu_roster_add_users (QuipuRoster *roster,
                        QuipuFrame  *frame,
                        guint        max)
{
  GHashTableIter iter;
  OnlineUser *user;
  guint n_users = 0;

  g_hash_table_iter_init (&iter, roster->online);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &user) && n_users++ < max)
    {
      QuipuSession *other = g_ptr_array_index (user->sessions, 0);

      quipu_frame_add_user (frame, other->username, other->key);
    }
}

void
quipu_roster_get_presence_counts (QuipuRoster *roster,
                                  guint64     *sent,
                                  guint64     *coalesced)
{
  *sent = roster->presence_sent;
  *coalesced = roster->presence_coalesced;
}

guint
quipu_roster_count_rooms (QuipuRoster *roster)
{
  return g_hash_table_size (roster->rooms);
}

guint
quipu_roster_count_users (QuipuRoster *roster)
{
  return g_hash_table_size (roster->online);
}
