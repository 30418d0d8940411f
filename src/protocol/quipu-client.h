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
 * the outbox of unacknowledged messages, resync and reconnection. All its
 * sources run on the main context that was thread-default when it was made.
 *
 * Signals:
 *   message-received (QuipuMessage *)   a message from the server, once
 *   message-acked    (QuipuMessage *)   one of ours was stored
 *   message-failed   (QuipuMessage *, GError *)  one of ours was refused
 *   presence-changed (const char *room, const char *user, const char *user_id, gboolean online)
 *   history-loaded   (const char *room_or_NULL, guint count, gboolean more)
 *   joined           (const char *room)
 * Properties (all notify; construct-only ones are marked):
 *   identity (QuipuIdentity, construct-only), username (construct-only; the
 *   server's spelling once logged in), user-id, state (QuipuState), error
 *   (GError, boxed: why the session is in Error, NULL once logged in),
 *   server ("host:port"), auto-reconnect, history-limit, verify-signatures,
 *   pinned-fingerprint, trust-store-path, trust-on-first-use,
 *   known-users-path, outbox-path, trust-via (QuipuTrustVia),
 *   server-fingerprint, n-pending, room-directory (GStrv).
 *
 * Certificate problems: the error is QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER for
 * a self-signed server never seen before when trust-on-first-use is FALSE,
 * and QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED when the certificate differs
 * from the one remembered in the known-servers file. Both fingerprints are
 * data on the error: quipu_error_get_presented_fingerprint () and
 * quipu_error_get_pinned_fingerprint () (the remembered one); the presented
 * one is also the server-fingerprint property by the time the error is
 * raised. After the user accepts it, quipu_client_trust_fingerprint () and
 * connect again. */

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
/* A fingerprint the server's certificate must have ("SHA256:..."); nothing
 * else is then trusted. NULL: system CAs, then the known-servers file. */
void          quipu_client_set_pinned_fingerprint (QuipuClient *self, const char *fingerprint);
const char   *quipu_client_get_pinned_fingerprint (QuipuClient *self);
/* NULL: $XDG_DATA_HOME/quipu/known-servers. */
void          quipu_client_set_trust_store_path (QuipuClient *self, const char *path);
const char   *quipu_client_get_trust_store_path (QuipuClient *self);
/* TRUE (default): a self-signed server seen for the first time is
 * remembered and trusted, as ssh does. FALSE: the connect fails with
 * QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER so the user can be asked. */
void          quipu_client_set_trust_on_first_use (QuipuClient *self, gboolean trust_on_first_use);
/* Records that the user accepts `fingerprint` for the current server in the
 * known-servers file, replacing what was remembered (a small file rewrite:
 * call it on the user's decision, not in a loop). */
gboolean      quipu_client_trust_fingerprint (QuipuClient  *self,
                                              const char   *fingerprint,
                                              GError      **error);
/* NULL: $XDG_DATA_HOME/quipu/known-users, where the keys first seen for
 * other users are kept per server (see quipu-known-users.h). */
void          quipu_client_set_known_users_path (QuipuClient *self, const char *path);
void          quipu_client_set_client_name  (QuipuClient *self, const char *name);
/* A file that keeps the messages not yet acknowledged (signed, 0600,
 * replaced atomically off the frame path), so what was written offline
 * survives quitting: setting it restores the messages saved there as
 * pending, sent after the next login. NULL: kept in memory only. */
void          quipu_client_set_outbox_path  (QuipuClient *self, const char *path);

/* Starts connecting to the server set before (Disconnected or Error). */
void          quipu_client_connect          (QuipuClient *self);
/* Connects (if not connected) and completes once the session is Connected,
 * having logged in, rejoined its rooms and resent its outbox; fails with the
 * session's error (see the error property) if it ends in Error first, or
 * with QUIPU_PROTOCOL_ERROR_CLOSED if disconnected meanwhile. */
void          quipu_client_connect_async    (QuipuClient         *self,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gboolean      quipu_client_connect_finish   (QuipuClient   *self,
                                             GAsyncResult  *result,
                                             GError       **error);
/* Says goodbye and closes; state goes Disconnecting, then Disconnected. */
void          quipu_client_disconnect       (QuipuClient *self);

/* Rooms are remembered across reconnects and rejoined with a resync. */
gboolean      quipu_client_join             (QuipuClient *self, const char *room, GError **error);
/* Joins and completes when the server has confirmed the join (at once if it
 * has on this connection). Fails for a bad room name, or when the session
 * ends in Error with no reconnect ahead, or is disconnected. */
void          quipu_client_join_async       (QuipuClient         *self,
                                             const char          *room,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gboolean      quipu_client_join_finish      (QuipuClient   *self,
                                             GAsyncResult  *result,
                                             GError       **error);
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
