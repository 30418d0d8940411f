#define G_LOG_DOMAIN "quipu-fuzz-frame"

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "quipu-wire.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static GBytes *
encode_or_die (const QuipuFrame *frame)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = quipu_frame_encode (frame, &error);

  /* The decoder accepted this frame, so the encoder must too. */
  if (bytes == NULL)
    g_error ("re-encoding a decoded %s frame failed: %s",
             quipu_frame_type_to_string (frame->type), error->message);
  return bytes;
}

/* decode → encode → decode → encode must reach a fixed point at once. */
static void
check_round_trip (const QuipuFrame *frame)
{
  g_autoptr(GBytes) first = encode_or_die (frame);
  g_autoptr(GBytes) second = NULL;
  g_autoptr(QuipuFrame) again = NULL;
  g_autoptr(GError) error = NULL;
  gsize consumed = 0;
  QuipuDecodeResult result;

  result = quipu_frame_decode (g_bytes_get_data (first, NULL), g_bytes_get_size (first),
                               &consumed, &again, &error);
  if (result != QUIPU_DECODE_OK || consumed != g_bytes_get_size (first))
    g_error ("decoding a re-encoded %s frame gave %d (%s), consumed %" G_GSIZE_FORMAT
             " of %" G_GSIZE_FORMAT,
             quipu_frame_type_to_string (frame->type), result,
             error != NULL ? error->message : "no error", consumed, g_bytes_get_size (first));

  second = encode_or_die (again);
  if (!g_bytes_equal (first, second))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  gsize pos = 0;

  /* Like a stream reader: go on after whole frames, stop at the first
   * incomplete or bad one. */
  while (pos < size)
    {
      g_autoptr(QuipuFrame) frame = NULL;
      g_autoptr(GError) error = NULL;
      gsize consumed = 0;
      QuipuDecodeResult result;

      result = quipu_frame_decode (data + pos, size - pos, &consumed, &frame, &error);
      if (result == QUIPU_DECODE_NEED_MORE || result == QUIPU_DECODE_ERROR)
        break;
      if (consumed == 0)
        abort ();
      if (result == QUIPU_DECODE_OK)
        check_round_trip (frame);
      pos += consumed;
    }

  return 0;
}
