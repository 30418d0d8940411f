#pragma once

#include "quipu-request.h"

G_BEGIN_DECLS

typedef enum {
  QUIPU_HISTORY_NEVER,          /* resync: what the client missed is news */
  QUIPU_HISTORY_ALWAYS,         /* join, scroll-back */
  QUIPU_HISTORY_IF_DELIVERED,   /* inbox at login: news only if no client of the user had it */
} QuipuHistoryMode;

/* Sends a page of a room (room != NULL) or of the session's inbox, then the
 * HISTORY frame that closes it (PROTOCOL.md, "History"). */
void quipu_history_send_page (QuipuRequest        *request,
                              QuipuRoom           *room,
                              QuipuFetchDirection  direction,
                              guint64              seq,
                              guint                limit,
                              QuipuHistoryMode     mode);

/* A HISTORY request from the client. */
void quipu_history_handle    (QuipuRequest     *request,
                              const QuipuFrame *frame);

G_END_DECLS
