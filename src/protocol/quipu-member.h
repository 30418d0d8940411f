#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define QUIPU_TYPE_MEMBER (quipu_member_get_type ())
G_DECLARE_FINAL_TYPE (QuipuMember, quipu_member, QUIPU, MEMBER, GObject)

/* A person seen in a room (from JOIN and PRESENCE), for a member list.
 * Read-only properties: name, user-id, short-id ("abcd-efgh"), online.
 * user-id and short-id are NULL until the server has announced the key;
 * they and online notify when they change. */

const char *quipu_member_get_name     (QuipuMember *self);
const char *quipu_member_get_user_id  (QuipuMember *self);
const char *quipu_member_get_short_id (QuipuMember *self);
gboolean    quipu_member_get_online   (QuipuMember *self);

G_END_DECLS
