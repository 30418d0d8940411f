#pragma once

#include <glib.h>

#include "quipu-error.h"
#include "quipu-frame.h"
#include "quipu-signing-input.h"
#include "quipu-varint.h"

G_BEGIN_DECLS

/* Bounds of the frame as a whole; those of field values are in quipu-frame.h. */
#define QUIPU_PROTOCOL_VERSION     1
#define QUIPU_MAX_FRAME_SIZE       (64 * 1024)   /* whole frame, header included */
/* Frame types at or above this are extensions: a receiver that does not know
 * one skips it. An unknown type below it is a protocol violation. */
#define QUIPU_FRAME_EXTENSION_MIN  0x20

/* Appends the encoded frame to `out`. Fails (and leaves `out` as it was) when
 * a field breaks a bound or the frame would exceed QUIPU_MAX_FRAME_SIZE. */
gboolean quipu_frame_encode_to (const QuipuFrame *frame, GByteArray *out, GError **error);
GBytes  *quipu_frame_encode    (const QuipuFrame *frame, GError **error);

typedef enum {
  QUIPU_DECODE_OK,         /* *out_frame set, *consumed bytes used */
  QUIPU_DECODE_NEED_MORE,  /* not a whole frame yet; nothing consumed */
  QUIPU_DECODE_SKIPPED,    /* an unknown extension frame; *consumed bytes to drop */
  QUIPU_DECODE_ERROR,      /* error set (QUIPU_PROTOCOL_ERROR_PROTOCOL or _TOO_LARGE,
                            * or _BAD_NAME / _BAD_KEY for the matching field) */
} QuipuDecodeResult;

/* Decodes the first frame in data[0..len). Validates every bound, UTF-8,
 * names (quipu_name_validate) and the fields each frame type requires. A
 * header announcing more than QUIPU_MAX_FRAME_SIZE is an error at once, not
 * NEED_MORE. */
QuipuDecodeResult quipu_frame_decode (const guint8  *data,
                                      gsize          len,
                                      gsize         *consumed,
                                      QuipuFrame   **out_frame,
                                      GError       **error);

G_END_DECLS
