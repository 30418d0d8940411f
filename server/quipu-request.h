#pragma once

#include "quipu-batch.h"
#include "quipu-limits.h"
#include "quipu-room.h"
#include "quipu-session.h"
#include "quipu-store.h"

G_BEGIN_DECLS

/* What a frame handler works with: the session the frame came on, the batch
 * it belongs to, and the server's store, roster and limits. Handlers reach nothing
 * else of the server. */
typedef struct {
  QuipuSession *session;
  QuipuBatch   *batch;
  QuipuStore   *store;
  QuipuRoster  *roster;
  QuipuLimits  *limits;
} QuipuRequest;

/* Limits shared by the handlers. */
#define QUIPU_SERVER_DEFAULT_PAGE 200   /* history frames when the client names no limit */
#define QUIPU_SERVER_MAX_PAGE     1000  /* most history frames per request */
#define QUIPU_SERVER_MAX_ENTRIES  256   /* most rooms or users listed in one frame */

static inline void
quipu_request_reply (QuipuRequest     *request,
                     const QuipuFrame *frame,
                     guint64           inbox_seq)
{
  quipu_session_send_frame (request->session, request->batch, frame, inbox_seq);
}

/* One more error caused by the session's user (a refused request, an ERROR
 * it sent); past error-rate the connection is closed: a correct client
 * rarely causes one, and each costs a frame and maybe a log line. */
static inline gboolean
quipu_request_count_error (QuipuRequest *request)
{
  QuipuUserBuckets *buckets = quipu_limits_user_buckets (request->limits, request->session->uid);

  if (buckets == NULL || quipu_limits_take (request->limits, buckets, QUIPU_RATE_ERRORS))
    return TRUE;
  if (!request->session->refused)
    {
      request->session->refused = TRUE;
      quipu_session_close (request->session, request->batch, QUIPU_PROTOCOL_ERROR_RATE_LIMITED,
                           "too many refused requests");
    }
  return FALSE;
}

/* Only the client's own faults count: not rate-limited (the limit
 * working) nor server-error (a full disk is not the writer's doing). */
static inline void
quipu_request_error (QuipuRequest       *request,
                     QuipuProtocolError  code,
                     const char         *text,
                     const QuipuFrame   *about)
{
  quipu_session_send_error (request->session, request->batch, code, text, about);
  if (code != QUIPU_PROTOCOL_ERROR_RATE_LIMITED && code != QUIPU_PROTOCOL_ERROR_SERVER)
    quipu_request_count_error (request);
}

G_END_DECLS
