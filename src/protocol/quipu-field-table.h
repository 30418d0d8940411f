#pragma once

/* The one description of every field id that the frame setters, the decoder
 * and the encoder share, and the value checks both directions of the codec
 * apply, so an encoded frame always decodes. Internal to the codec. */

#include <glib.h>

#include "quipu-frame.h"

G_BEGIN_DECLS

#define QUIPU_FIELD_BIT(id) (G_GUINT64_CONSTANT (1) << (id))

typedef enum {
  QUIPU_FIELD_KIND_VARINT,
  QUIPU_FIELD_KIND_STRING,
  QUIPU_FIELD_KIND_NAME,
  QUIPU_FIELD_KIND_BYTES,
  QUIPU_FIELD_KIND_USER,
} QuipuFieldKind;

/* One row per field id: how its value is checked and where it lives in
 * QuipuFrame, so decoder, encoder and setters share a single description. */
typedef struct {
  const char    *name;       /* in "lacks field %s", "duplicate field %u (%s)" */
  const char    *label;      /* subject of value errors: "message body is empty" */
  const char    *plural;     /* repeated fields: "more than 64 recipients" */
  QuipuFieldKind kind;
  guint          size;       /* max bytes (strings), exact size (bytes) */
  guint          max_count;  /* repeated fields; 0 for the others */
  gsize          offset;
} QuipuFieldSpec;

extern const QuipuFieldSpec quipu_field_specs[QUIPU_FIELD_LAST + 1];

static inline gpointer
quipu_field_ptr (const QuipuFrame     *frame,
                 const QuipuFieldSpec *spec)
{
  return (guint8 *) frame + spec->offset;
}

static inline gboolean
quipu_field_is_repeated (const QuipuFieldSpec *spec)
{
  return spec->max_count > 0;
}

/* NULL for 0 and ids past QUIPU_FIELD_LAST. */
const QuipuFieldSpec *quipu_field_spec_lookup (QuipuFieldId id);

/* The list a repeated field lives in, created on first use. */
GPtrArray *quipu_frame_ensure_list     (QuipuFrame *frame, const QuipuFieldSpec *spec);
GArray    *quipu_frame_ensure_versions (QuipuFrame *frame);
void       quipu_user_info_free        (gpointer data);
guint      quipu_frame_list_length     (const QuipuFrame *frame, QuipuFieldId id);

/* Value checks; errors are in QUIPU_PROTOCOL_ERROR. */
gboolean quipu_field_check_varint      (const QuipuFieldSpec *spec, guint64 value, GError **error);
gboolean quipu_field_check_string      (const QuipuFieldSpec *spec, const char *value, gsize len,
                                        GError **error);
gboolean quipu_field_check_bytes_len   (const QuipuFieldSpec *spec, gsize len, GError **error);
gboolean quipu_field_check_list_length (const QuipuFieldSpec *spec, guint count, GError **error);

/* Required fields and per-type rules. `present` is what is (or will be) on
 * the wire, which for a frame being encoded may differ from frame->present
 * (a list set present but empty). */
gboolean quipu_frame_check_rules (const QuipuFrame *frame, guint64 present, GError **error);

G_END_DECLS
