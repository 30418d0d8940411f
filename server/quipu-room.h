#pragma once

#include <glib.h>

#include "quipu-batch.h"
#include "quipu-limits.h"
#include "quipu-session.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* Who is where, in memory: the rooms with their member sessions, and the
 * users online with their sessions. Presence follows from it: a user is in a
 * room while one of their sessions is. Rooms are keyed by quipu_name_fold();
 * their spelling is the store's (the first one ever seen). */
typedef struct _QuipuRoster QuipuRoster;

/* A room is in memory while it has members: the last one to leave frees
 * it (its history stays in the store). */
typedef struct {
  char        *name;      /* the spelling to show */
  char        *fold;
  GPtrArray   *members;   /* QuipuSession *, not owned */
  QuipuRoster *roster;    /* not owned */
} QuipuRoom;

QuipuRoster *quipu_roster_new  (void);
void         quipu_roster_free (QuipuRoster *roster);

QuipuRoom *quipu_roster_lookup_room (QuipuRoster *roster,
                                     const char  *name);
/* Adds the room (not there yet) under `spelling`; join it at once, or it
 * stays in memory without members until someone does. */
QuipuRoom *quipu_roster_add_room    (QuipuRoster *roster,
                                     const char  *spelling);
/* The room if the session joined it, else NULL. */
QuipuRoom *quipu_roster_joined_room (QuipuRoster  *roster,
                                     QuipuSession *session,
                                     const char   *name);

/* Both tell the room's other users when the session's user arrives or goes.
 * `room` is freed when its last member leaves. */
void quipu_room_join  (QuipuRoom    *room,
                       QuipuSession *session,
                       QuipuBatch   *batch);
void quipu_room_leave (QuipuRoom    *room,
                       QuipuSession *session,
                       QuipuBatch   *batch);
/* Sends the same bytes, a stored message, to every member but `except`;
 * nothing goes out if the batch's commit fails. */
void quipu_room_send  (QuipuRoom    *room,
                       QuipuBatch   *batch,
                       GBytes       *bytes,
                       QuipuSession *except);
/* The room's users, each once, at most `max`. */
void quipu_room_add_users (QuipuRoom  *room,
                           QuipuFrame *frame,
                           guint       max);

void       quipu_roster_go_online  (QuipuRoster  *roster,
                                    QuipuSession *session);
/* Leaves every room the session joined, then goes offline. */
void       quipu_roster_go_offline (QuipuRoster  *roster,
                                    QuipuSession *session,
                                    QuipuBatch   *batch);
/* The sessions of an online user (QuipuSession *), or NULL. */
GPtrArray *quipu_roster_lookup_user (QuipuRoster *roster,
                                     gint64       uid);
/* Sends the presence changes of the batch that still are changes: a user
 * who joined and left within it is news to nobody. Before the batch ends. */
void       quipu_roster_flush_presence (QuipuRoster *roster,
                                        QuipuBatch  *batch);
/* PRESENCE frames queued to members, and changes never sent because
 * another in the same batch cancelled or replaced them. */
void       quipu_roster_get_presence_counts (QuipuRoster *roster,
                                             guint64     *sent,
                                             guint64     *coalesced);
guint      quipu_roster_count_rooms (QuipuRoster *roster);
guint      quipu_roster_count_users (QuipuRoster *roster);
/* The online users, each once, at most `max`. */
void       quipu_roster_add_users   (QuipuRoster *roster,
                                     QuipuFrame  *frame,
                                     guint        max);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuRoster, quipu_roster_free)

G_END_DECLS
