#pragma once

#include <glib.h>

#include "quipu-batch.h"
#include "quipu-budget.h"
#include "quipu-connection.h"
#include "quipu-limits.h"
#include "quipu-wire.h"

G_BEGIN_DECLS

/* One client connection as the server sees it: who logged in on it, which
 * rooms it joined, and which inbox messages are on their way to it. Everything
 * a session sends goes through the current batch, so nothing leaves before the
 * batch's writes are durable. Reference counted: a batch keeps the sessions it
 * queued for alive past their close. */
typedef struct {
  QuipuConnection *conn;
  gint64           uid;        /* 0 until logged in */
  char            *username;   /* as registered */
  char            *user_id;
  guint8           key[QUIPU_KEY_SIZE];
  GPtrArray       *rooms;      /* QuipuRoom *, joined; the roster's business */
  GQueue           marks;      /* inbox marks, see quipu_session_acked() */
  guint64          delivered;  /* highest inbox seq known to have reached a client of the user */
  gboolean         refused;    /* refused or in violation: its frames are ignored */
  gboolean         closed;
  char            *address;    /* the peer's IP address, for per-address limits */
  QuipuLimits     *limits;     /* the server's, not owned */
  QuipuBucket      log_lines;  /* log lines about this connection */
  guint            log_dropped;/* held back since the last that passed */
  guint            login_deadline_id;  /* until CONNECT succeeds */
  gboolean         counted;    /* counted against its address's connections */
  GQueue           held;       /* what waits behind a feed, see quipu_session_send_feed() */
  gsize            held_bytes;
  guint64          acked_offset; /* of the stream, as QUIC last acknowledged it */
  QuipuBudgetEntry budget;     /* its share of max-queued-kib */
} QuipuSession;

/* Bytes of a feed on the stream, not yet acknowledged, before it waits for
 * the client to read: enough to keep a fast link busy, far below the 8 MiB
 * after which a client counts as having stopped reading (and at most half
 * of max-queued-per-connection-kib where that is set lower). */
#define QUIPU_SESSION_FEED_WINDOW (1024 * 1024)
/* A client with more than max-queued-per-connection-kib sent but
 * unacknowledged, or held behind a feed, has stopped reading and is closed.
 * That limit is at most this, the transport's own (MAX_BACKLOG in
 * quipu-connection.c), so the transport never refuses bytes first. */
#define QUIPU_SESSION_MAX_BEHIND  (QUIPU_CONFIG_MAX_QUEUED_PER_CONNECTION_KIB * 1024)

/* Sends the next frames of a feed with quipu_session_feed_frame(): at least
 * one, so that it always moves, and about `budget` bytes. Returns TRUE when
 * the feed is done (or cannot go on). */
typedef gboolean (*QuipuFeedFunc) (QuipuSession *session,
                                   gpointer      data,
                                   gsize         budget);

QuipuSession *quipu_session_new   (QuipuConnection *conn,
                                   QuipuLimits     *limits);
QuipuSession *quipu_session_ref   (QuipuSession *session);
void          quipu_session_unref (QuipuSession *session);

/* Logs an event with the session's peer and user name, at most
 * log-lines-per-minute of them (warnings and errors included: a peer that
 * provokes them must not fill the disk either). */
void quipu_session_log (QuipuSession   *session,
                        GLogLevelFlags  level,
                        const char     *event,
                        const char     *format,
                        ...) G_GNUC_PRINTF (4, 5);

/* Queues on the connection now, bypassing any batch and dropping a page on
 * its way (shutdown). An inbox_seq above 0 counts as delivered once QUIC
 * acknowledges these bytes. */
void quipu_session_deliver    (QuipuSession *session,
                               GBytes       *bytes,
                               guint64       inbox_seq);
void quipu_session_send       (QuipuSession *session,
                               QuipuBatch   *batch,
                               GBytes       *bytes,
                               guint64       inbox_seq);
/* A long reply (a history page) the session produces itself, in step with
 * what the client's stream accepts: a page of large messages queued at once
 * would trip the limit meant for clients that stop reading. Whatever is sent
 * to the session after it waits until the feed is done, so the client sees
 * the frames in the same order. `destroy` frees `data` when it is done or
 * the session goes. */
void quipu_session_send_feed  (QuipuSession   *session,
                               QuipuBatch     *batch,
                               QuipuFeedFunc   func,
                               gpointer        data,
                               GDestroyNotify  destroy);
/* The connection is gone: nothing more is sent, what was held is freed. */
void quipu_session_mark_closed (QuipuSession *session);
/* From a QuipuFeedFunc: on the stream now. Returns the bytes queued, 0 when
 * the frame could not be (the connection is going). */
gsize quipu_session_feed_frame (QuipuSession     *session,
                                const QuipuFrame *frame,
                                guint64           inbox_seq);
/* Bytes that report or carry the batch's writes: see QuipuOnFailure. */
void quipu_session_send_written (QuipuSession   *session,
                                 QuipuBatch     *batch,
                                 GBytes         *bytes,
                                 guint64         inbox_seq,
                                 QuipuOnFailure  on_failure,
                                 GBytes         *fallback);
void quipu_session_send_frame (QuipuSession     *session,
                               QuipuBatch       *batch,
                               const QuipuFrame *frame,
                               guint64           inbox_seq);
/* ERROR frame; `about` (may be NULL) gives the client message id and room. */
QuipuFrame *quipu_session_error_frame (QuipuProtocolError  code,
                                       const char         *text,
                                       const QuipuFrame   *about);
void quipu_session_send_error (QuipuSession       *session,
                               QuipuBatch         *batch,
                               QuipuProtocolError  code,
                               const char         *text,
                               const QuipuFrame   *about);
/* Closes after everything already sent to the session, in batch order. */
void quipu_session_close      (QuipuSession *session,
                               QuipuBatch   *batch,
                               guint64       code,
                               const char   *reason);
/* Refuses a login: ERROR, then close with the same code and text. */
void quipu_session_refuse     (QuipuSession       *session,
                               QuipuBatch         *batch,
                               QuipuProtocolError  code,
                               const char         *text);
/* Logs and fails the connection at once. */
void quipu_session_violation  (QuipuSession *session,
                               const char   *format,
                               ...) G_GNUC_PRINTF (2, 3);

/* Closes the connection if it has not logged in within `seconds`; the
 * timer goes with a login or quipu_session_stop_deadline(). */
void quipu_session_start_deadline (QuipuSession *session,
                                   guint         seconds);
void quipu_session_stop_deadline  (QuipuSession *session);

/* QUIC acknowledged the stream up to `offset`: moves a waiting feed on and
 * returns the highest inbox seq now delivered, which may be
 * session->delivered unchanged. */
guint64 quipu_session_acked (QuipuSession *session,
                             guint64       offset);

/* The QuipuOutgoingFunc of the server's batch. */
void quipu_session_release_outgoing (const QuipuOutgoing *out,
                                     gboolean             durable);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuSession, quipu_session_unref)

G_END_DECLS
