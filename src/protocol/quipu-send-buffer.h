#pragma once

#include <ngtcp2/ngtcp2.h>

#include <glib.h>

G_BEGIN_DECLS

/* The sending side of a stream: bytes queued, handed to QUIC, and kept
 * until the peer acknowledges them. Offsets count from the stream start. */
typedef struct {
  GQueue  blocks;      /* of SendBlock, oldest first */
  GList  *unsent;      /* a block at or before the first with unsent bytes, or NULL */
  guint64 queued;      /* just past everything queued */
  guint64 sent;        /* just past what QUIC has taken */
  guint64 acked;       /* everything below is acknowledged and freed */
} QuipuSendBuffer;

void     quipu_send_buffer_init        (QuipuSendBuffer *buffer);
void     quipu_send_buffer_clear       (QuipuSendBuffer *buffer);
void     quipu_send_buffer_append      (QuipuSendBuffer *buffer,
                                        const guint8    *data,
                                        gsize            len);
/* Points `vecs` (at most `max`) at the bytes not yet taken; returns how
 * many it filled. The memory stays put until acknowledged. */
gsize    quipu_send_buffer_peek_unsent (QuipuSendBuffer *buffer,
                                        ngtcp2_vec      *vecs,
                                        gsize            max);
void     quipu_send_buffer_mark_sent   (QuipuSendBuffer *buffer,
                                        gsize            len);
/* Frees what lies below `offset`; FALSE if that was acknowledged already. */
gboolean quipu_send_buffer_ack         (QuipuSendBuffer *buffer,
                                        guint64          offset);

G_END_DECLS
