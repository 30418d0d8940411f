/* The codec keeps the one log domain it had as one file (tests expect it). */
#define G_LOG_DOMAIN "quipu-wire"

#include "config.h"

#include "quipu-varint.h"

gsize
quipu_varint_size (guint64 value)
{
  if (value < (G_GUINT64_CONSTANT (1) << 6))
    return 1;
  if (value < (G_GUINT64_CONSTANT (1) << 14))
    return 2;
  if (value < (G_GUINT64_CONSTANT (1) << 30))
    return 4;
  if (value <= QUIPU_VARINT_MAX)
    return 8;
  return 0;
}

void
quipu_varint_append (GByteArray *out,
                     guint64     value)
{
  guint8 buf[8];
  gsize n = quipu_varint_size (value);
  guint8 prefix;

  g_return_if_fail (n != 0);

  /* The two top bits of the first byte are log2 of the length. */
  prefix = n == 1 ? 0x00 : n == 2 ? 0x40 : n == 4 ? 0x80 : 0xc0;
  for (gsize i = n; i > 0; i--)
    {
      buf[i - 1] = value & 0xff;
      value >>= 8;
    }
  buf[0] |= prefix;
  g_byte_array_append (out, buf, n);
}

gsize
quipu_varint_read (const guint8 *data,
                   gsize         len,
                   guint64      *value)
{
  gsize n;
  guint64 v;

  if (len == 0)
    return 0;
  n = (gsize) 1 << (data[0] >> 6);
  if (len < n)
    return 0;

  v = data[0] & 0x3f;
  for (gsize i = 1; i < n; i++)
    v = (v << 8) | data[i];
  *value = v;
  return n;
}
