#pragma once

#include "quipu-wire.h"

G_BEGIN_DECLS

/* One complete, valid frame of every type, with every field its type uses:
 * the codec tests round-trip them and the fuzzer's seed corpus is made of
 * them. Keys and signatures are fixed byte patterns, not real ones. */

extern guint8 quipu_test_key_a[QUIPU_KEY_SIZE];
extern guint8 quipu_test_key_b[QUIPU_KEY_SIZE];
extern guint8 quipu_test_proof[QUIPU_SIGNATURE_SIZE];
extern guint8 quipu_test_signature[QUIPU_SIGNATURE_SIZE];

typedef QuipuFrame *(*QuipuTestFrameMaker) (void);

typedef struct {
  const char          *name;
  QuipuTestFrameMaker  make;
} QuipuTestFrame;

/* Fills the patterns above; call once before making frames. */
void quipu_test_frames_init (void);

QuipuFrame *quipu_test_frame_connect        (void);
QuipuFrame *quipu_test_frame_welcome        (void);
QuipuFrame *quipu_test_frame_message_room   (void);
QuipuFrame *quipu_test_frame_message_direct (void);
QuipuFrame *quipu_test_frame_ack            (void);
QuipuFrame *quipu_test_frame_ping           (void);
QuipuFrame *quipu_test_frame_pong           (void);
QuipuFrame *quipu_test_frame_presence       (void);
QuipuFrame *quipu_test_frame_join           (void);
QuipuFrame *quipu_test_frame_leave          (void);
QuipuFrame *quipu_test_frame_history        (void);
QuipuFrame *quipu_test_frame_error          (void);
QuipuFrame *quipu_test_frame_disconnect     (void);

extern const QuipuTestFrame quipu_test_frames[];
extern const gsize quipu_test_n_frames;

G_END_DECLS
