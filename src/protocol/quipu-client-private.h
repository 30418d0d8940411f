#pragma once

#include "quipu-client.h"
#include "quipu-conversation-list.h"
#include "quipu-endpoint.h"
#include "quipu-outbox.h"
#include "quipu-pins.h"
#include "quipu-sequencer.h"
#include "quipu-state-machine.h"
#include "quipu-timer.h"
#include "quipu-waiters.h"
#include "quipu-wakeup.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* QuipuClient is one object in five files: quipu-client.c holds the
 * GObject and its settings; quipu-client-state.c its state machine at work
 * (failures, reconnect, network checks); quipu-client-connect.c opening a
 * connection (resolving the server); quipu-client-session.c what travels
 * over it (login, frames in and out); quipu-client-rooms.c what the
 * application asks of the session (join, send, history) and the outbox.
 * This is what they share. */

#define QUIPU_CLIENT_RESYNC_PAGE 1000

struct _QuipuClient {
  GObject          parent_instance;

  QuipuIdentity   *identity;
  char            *username;        /* as the server registered it, after WELCOME */
  char            *server;
  char            *client_name;
  char            *pinned_fingerprint;
  char            *trust_store_path;
  char            *server_fingerprint;
  QuipuTrustVia    trust_via;
  gboolean         trust_on_first_use;
  gboolean         auto_reconnect;
  gboolean         verify_signatures;
  guint            history_limit;

  /* Every source of the session is attached here: the thread-default
   * context at construction, where the endpoint runs too. */
  GMainContext    *context;
  QuipuState       state;
  GError          *error;
  QuipuEndpoint   *endpoint;        /* made on the first connect, kept for the next */
  gboolean         endpoint_shared; /* quipu-client-bench.h: the caller's, never released here */
  QuipuConnection *conn;
  GCancellable    *cancellable;
  QuipuTimer       reconnect_timer;
  QuipuTimer       login_timer;
  QuipuTimer       probe_timer;
  QuipuBackoff     backoff;
  gboolean         ever_logged_in;
  guint64          probe_token;

  QuipuOutbox     *outbox;
  GCancellable    *outbox_cancellable;
  guint64          stream_acked;    /* the peer has our stream up to here */
  QuipuTimer       rate_timer;      /* rate-limited: nothing is sent until it fires */
  QuipuBackoff     rate_backoff;
  guint            rate_cap;        /* 0, or most messages in flight after a rate-limited */
  GHashTable      *conversations;   /* quipu_sequencer_key () -> QuipuSequencer */
  QuipuPins       *pins;
  QuipuWaiters    *connect_waiters; /* quipu_client_connect_async, key NULL */
  QuipuWaiters    *join_waiters;    /* quipu_client_join_async, by quipu_sequencer_key () */

  QuipuWakeup     *wakeup;

  QuipuConversationList *conversation_list;   /* the app-facing models */
  GStrv            room_directory;  /* ROOM_ENTRY of the last WELCOME */
};

typedef enum {
  QUIPU_CLIENT_PROP_0,
  QUIPU_CLIENT_PROP_STATE,
  QUIPU_CLIENT_PROP_SERVER,
  QUIPU_CLIENT_PROP_IDENTITY,
  QUIPU_CLIENT_PROP_USERNAME,
  QUIPU_CLIENT_PROP_USER_ID,
  QUIPU_CLIENT_PROP_AUTO_RECONNECT,
  QUIPU_CLIENT_PROP_HISTORY_LIMIT,
  QUIPU_CLIENT_PROP_VERIFY_SIGNATURES,
  QUIPU_CLIENT_PROP_PINNED_FINGERPRINT,
  QUIPU_CLIENT_PROP_TRUST_STORE_PATH,
  QUIPU_CLIENT_PROP_TRUST_ON_FIRST_USE,
  QUIPU_CLIENT_PROP_KNOWN_USERS_PATH,
  QUIPU_CLIENT_PROP_OUTBOX_PATH,
  QUIPU_CLIENT_PROP_ERROR,
  QUIPU_CLIENT_PROP_TRUST_VIA,
  QUIPU_CLIENT_PROP_SERVER_FINGERPRINT,
  QUIPU_CLIENT_PROP_N_PENDING,
  QUIPU_CLIENT_PROP_ROOM_DIRECTORY,
  QUIPU_CLIENT_N_PROPS
} QuipuClientProperty;

enum {
  QUIPU_CLIENT_MESSAGE_RECEIVED,
  QUIPU_CLIENT_MESSAGE_ACKED,
  QUIPU_CLIENT_MESSAGE_FAILED,
  QUIPU_CLIENT_PRESENCE_CHANGED,
  QUIPU_CLIENT_HISTORY_LOADED,
  QUIPU_CLIENT_JOINED,
  QUIPU_CLIENT_N_SIGNALS
};

extern GParamSpec *quipu_client_pspecs[QUIPU_CLIENT_N_PROPS];
extern guint       quipu_client_signals[QUIPU_CLIENT_N_SIGNALS];

/* quipu-client.c */
QuipuSequencer *quipu_client_conversation     (QuipuClient *self,
                                               const char  *room);

/* quipu-client-state.c */
void            quipu_client_fail             (QuipuClient *self,
                                               GError      *error);
void            quipu_client_clear_error      (QuipuClient *self);
void            quipu_client_dispatch_event   (QuipuClient *self,
                                               QuipuEvent   event);
/* Retries at once instead of waiting out the backoff, or checks that a
 * connection that may have died meanwhile still answers. */
void            quipu_client_check_connection (QuipuClient *self);

/* quipu-client-connect.c */
void            quipu_client_open_connection  (QuipuClient *self);

/* quipu-client-session.c */
guint64         quipu_client_random_id        (void);
void            quipu_client_queue_frame      (QuipuClient      *self,
                                               const QuipuFrame *frame);
QuipuFrame     *quipu_client_build_message    (QuipuClient  *self,
                                               QuipuMessage *msg,
                                               GError      **error);
void            quipu_client_send_join        (QuipuClient    *self,
                                               QuipuSequencer *conv);
/* Whether a message may go on the wire now: logged in, not waiting out a
 * rate limit, and less than a window of our stream unacknowledged. */
gboolean        quipu_client_outbox_may_send  (QuipuClient *self);
/* Sends the outbox's unsent messages while the connection accepts them;
 * runs again as the peer acknowledges stream data. */
void            quipu_client_pump_outbox      (QuipuClient *self);
void            quipu_client_resume_session   (QuipuClient *self);
void            quipu_client_send_ping        (QuipuClient *self);
extern const QuipuConnectionCallbacks quipu_client_session_callbacks;

G_END_DECLS
