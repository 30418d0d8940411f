#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* QUIC variable-length integers (RFC 9000 §16): the wire's only number form. */
#define QUIPU_VARINT_MAX ((G_GUINT64_CONSTANT (1) << 62) - 1)

gsize    quipu_varint_size   (guint64 value);                 /* 1, 2, 4 or 8; 0 if > MAX */
void     quipu_varint_append (GByteArray *out, guint64 value); /* value <= QUIPU_VARINT_MAX */
/* Returns bytes read (1..8), or 0 if data is too short for the varint. */
gsize    quipu_varint_read   (const guint8 *data, gsize len, guint64 *value);

G_END_DECLS
