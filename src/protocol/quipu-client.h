#pragma once

#include <gio/gio.h>

#include "quipu-conversation.h"
#include "quipu-identity.h"
#include "quipu-message.h"
#include "quipu-state.h"
#include "quipu-trust.h"

G_BEGIN_DECLS

/* The highest sequence number; as `before_seq`, it asks for the newest page. */
#define QUIPU_SEQ_MAX ((G_GUINT64_CONSTANT (1) << 62) - 1)

#define QUIPU_TYPE_CLIENT (quipu_client_get_type ())
G_DECLARE_FINAL_TYPE (QuipuClient, quipu_client, QUIPU, CLIENT, GObject)

/* The session object the desktop app, quipu-cli and quipu-bench all drive
 * from a GLib main loop: one login to one server, its state machine, rooms,
 * the outbox of unacknowledged messages, resync and reconnection.
 *
 * Signals:
 *   message-received (QuipuMessage *)   a message from the server, once
 *   message-acked    (QuipuMessage *)   one of ours was stored
 *   message-failed   (QuipuMessage *, GError *)  one of ours was refused
 *   presence-changed (const char *room, const char *user, const char *user_id, gboolean online)
 *   history-loaded   (const char *room_or_NULL, guint count, gboolean more)
 *   joined           (const char *room)
 * Properties: state (QuipuState), server ("host:port"), username, user-id,
 *   auto-reconnect, history-limit, verify-signatures, pinned-fingerprint,
 *   trust-store-path, server-fingerprint, n-pending, room-directory. */

QuipuClient  *quipu_client_new              (QuipuIdentity *identity,
                                             const char    *username);

const char   *quipu_client_get_username     (QuipuClient *self);
const char   *quipu_client_get_user_id      (QuipuClient *self);
QuipuState    quipu_client_get_state        (QuipuClient *self);
/* Why the session is in the Error state (or the last failure); NULL if none. */
const GError *quipu_client_get_error        (QuipuClient *self);
const char   *quipu_client_get_server_fingerprint (QuipuClient *self);

void          quipu_client_set_server       (QuipuClient *self, const char *host_port);
void          quipu_client_set_auto_reconnect (QuipuClient *self, gboolean auto_reconnect);
void          quipu_client_set_history_limit (QuipuClient *self, guint limit);
void          quipu_client_set_verify_signatures (QuipuClient *self, gboolean verify);
void          quipu_client_set_pinned_fingerprint (QuipuClient *self, const char *fingerprint);
/* NULL: $XDG_DATA_HOME/quipu/known-servers. */
void          quipu_client_set_trust_store_path (QuipuClient *self, const char *path);
/* NULL: $XDG_DATA_HOME/quipu/known-users, where the keys first seen for
 * other users are kept per server (see quipu-known-users.h). */
void          quipu_client_set_known_users_path (QuipuClient *self, const char *path);
void          quipu_client_set_client_name  (QuipuClient *self, const char *name);

/* Starts connecting to the server set before (Disconnected or Error). */
void          quipu_client_connect          (QuipuClient *self);
/* Says goodbye and closes; state goes Disconnecting, then Disconnected. */
void          quipu_client_disconnect       (QuipuClient *self);

/* Rooms are remembered across reconnects and rejoined with a resync. */
gboolean      quipu_client_join             (QuipuClient *self, const char *room, GError **error);
void          quipu_client_leave            (QuipuClient *self, const char *room);

/* Signs and queues a message. It is sent now if connected, else after the
 * next login, and resent after reconnects until acknowledged. Returns the
 * pending message (its status changes to ACKED or FAILED). */
QuipuMessage *quipu_client_send_to_room     (QuipuClient        *self,
                                             const char         *room,
                                             const char         *body,
                                             GError            **error);
QuipuMessage *quipu_client_send_direct      (QuipuClient        *self,
                                             const char * const *recipients,
                                             const char         *body,
                                             GError            **error);
guint         quipu_client_get_n_pending    (QuipuClient *self);

/* Asks for up to `limit` messages older than the oldest one seen in the room
 * (room NULL: the direct-message inbox); they arrive as message-received
 * with is_history, then history-loaded. FALSE if not connected or a page is
 * already on its way. */
gboolean      quipu_client_load_older       (QuipuClient *self, const char *room, guint limit);

/* Like quipu_client_load_older, from an explicit sequence. */
gboolean      quipu_client_request_history  (QuipuClient *self, const char *room,
                                             guint64 before_seq, guint limit);

/* How the server certificate was trusted on the current connection. */
QuipuTrustVia quipu_client_get_trust_via    (QuipuClient *self);

/* The highest sequence up to which the conversation is complete. */
guint64       quipu_client_get_synced_seq   (QuipuClient *self, const char *room);

/* The models for a user interface (quipu-conversation.h). A GListModel of
 * QuipuConversation: joined rooms and direct conversations, most recent
 * activity first; (transfer none). Joining a room adds it, leaving removes
 * it; a direct message or quipu_client_open_direct adds a direct one. */
GListModel        *quipu_client_get_conversations  (QuipuClient *self);
/* By key ("#room", "@bob,carol"; see quipu_conversation_key_for_room);
 * (transfer none), NULL if none. */
QuipuConversation *quipu_client_get_conversation   (QuipuClient *self, const char *key);
/* Finds or creates the direct conversation with these people (we may be
 * among them or not); (transfer none). NULL with QUIPU_PROTOCOL_ERROR_BAD_NAME
 * if a name is invalid. */
QuipuConversation *quipu_client_open_direct        (QuipuClient         *self,
                                                    const char * const  *participants,
                                                    GError             **error);
/* The rooms the server listed at login, most recently active first (also
 * the "room-directory" property, which notifies). Never NULL. */
const char * const *quipu_client_get_room_directory (QuipuClient *self);

G_END_DECLS
