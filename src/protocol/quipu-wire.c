#define G_LOG_DOMAIN "quipu-wire"

#include "config.h"

#include <string.h>

#include "quipu-field-table.h"
#include "quipu-wire.h"

/* ---- decoder ---- */

/* Reads one TLV header at *pos inside data[0..len) and checks that the value
 * fits; `container` names what it must fit in ("frame", "user"). */
static gboolean
read_field_header (const guint8 *data,
                   gsize         len,
                   gsize        *pos,
                   const char   *container,
                   guint64      *id,
                   guint64      *value_len,
                   GError      **error)
{
  gsize start = *pos;
  gsize n, m;

  n = quipu_varint_read (data + start, len - start, id);
  m = n == 0 ? 0 : quipu_varint_read (data + start + n, len - start - n, value_len);
  if (m == 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "truncated varint in the field header at offset %" G_GSIZE_FORMAT " of the %s",
                   start, container);
      return FALSE;
    }
  *pos = start + n + m;
  if (*value_len > len - *pos)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "field %" G_GUINT64_FORMAT " length %" G_GUINT64_FORMAT
                   " runs past the end of the %s", *id, *value_len, container);
      return FALSE;
    }
  return TRUE;
}

typedef gboolean (*FieldFunc) (guint64 id, const guint8 *value, gsize len, gpointer data, GError **error);

/* The one TLV loop: hands each field of data[0..len) to `func`, in order. */
static gboolean
walk_fields (const guint8 *data,
             gsize         len,
             const char   *container,
             FieldFunc     func,
             gpointer      func_data,
             GError      **error)
{
  gsize pos = 0;

  while (pos < len)
    {
      guint64 id, vlen;

      if (!read_field_header (data, len, &pos, container, &id, &vlen, error) ||
          !func (id, data + pos, vlen, func_data, error))
        return FALSE;
      pos += vlen;
    }
  return TRUE;
}

static gboolean
decode_varint_value (const QuipuFieldSpec *spec,
                     const guint8         *value,
                     gsize                 len,
                     guint64              *out,
                     GError              **error)
{
  gsize n = quipu_varint_read (value, len, out);

  if (n == 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s: truncated varint", spec->label);
      return FALSE;
    }
  if (n != len)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s: %" G_GSIZE_FORMAT "-byte varint in a %" G_GSIZE_FORMAT "-byte field",
                   spec->label, n, len);
      return FALSE;
    }
  return quipu_field_check_varint (spec, *out, error);
}

static gboolean
check_not_seen (guint64   seen,
                guint64   id,
                GError  **error)
{
  if (seen & QUIPU_FIELD_BIT (id))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "duplicate field %" G_GUINT64_FORMAT " (%s)", id, quipu_field_specs[id].name);
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  QuipuUserInfo *user;
  guint64        seen;
} UserDecoder;

static gboolean
decode_user_field (guint64       id,
                   const guint8 *value,
                   gsize         vlen,
                   gpointer      data,
                   GError      **error)
{
  UserDecoder *decoder = data;
  QuipuUserInfo *user = decoder->user;
  const QuipuFieldSpec *spec;

  if (id == QUIPU_FIELD_USER)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                           "user nested inside a user");
      return FALSE;
    }
  if (id != QUIPU_FIELD_USERNAME && id != QUIPU_FIELD_KEY)
    return TRUE;
  if (!check_not_seen (decoder->seen, id, error))
    return FALSE;
  decoder->seen |= QUIPU_FIELD_BIT (id);

  spec = &quipu_field_specs[id];
  if (id == QUIPU_FIELD_KEY)
    {
      if (!quipu_field_check_bytes_len (spec, vlen, error))
        return FALSE;
      memcpy (user->key, value, QUIPU_KEY_SIZE);
      user->has_key = TRUE;
    }
  else
    {
      if (!quipu_field_check_string (spec, (const char *) value, vlen, error))
        return FALSE;
      user->name = g_strndup ((const char *) value, vlen);
    }
  return TRUE;
}

static gboolean
decode_user_fields (QuipuUserInfo *user,
                    const guint8  *data,
                    gsize          len,
                    GError       **error)
{
  UserDecoder decoder = { user, 0 };

  if (!walk_fields (data, len, "user", decode_user_field, &decoder, error))
    return FALSE;

  if (user->name == NULL)
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                           "lacks field username");
      return FALSE;
    }
  return TRUE;
}

static gboolean
decode_user (QuipuFrame   *frame,
             const guint8 *data,
             gsize         len,
             GError      **error)
{
  QuipuUserInfo *user = g_new0 (QuipuUserInfo, 1);
  GError *local_error = NULL;

  if (!decode_user_fields (user, data, len, &local_error))
    {
      quipu_user_info_free (user);
      g_propagate_prefixed_error (error, local_error, "user: ");
      return FALSE;
    }
  g_ptr_array_add (quipu_frame_ensure_list (frame, &quipu_field_specs[QUIPU_FIELD_USER]), user);
  return TRUE;
}

static gboolean
decode_field (QuipuFrame   *frame,
              guint64       id,
              const guint8 *value,
              gsize         len,
              GError      **error)
{
  const QuipuFieldSpec *spec = &quipu_field_specs[id];
  gboolean repeated = quipu_field_is_repeated (spec);
  guint64 number;

  if (repeated)
    {
      if (!quipu_field_check_list_length (spec, quipu_frame_list_length (frame, id) + 1, error))
        return FALSE;
    }
  else if (!check_not_seen (frame->present, id, error))
    return FALSE;

  switch (spec->kind)
    {
    case QUIPU_FIELD_KIND_VARINT:
      if (!decode_varint_value (spec, value, len, &number, error))
        return FALSE;
      if (repeated)
        g_array_append_val (quipu_frame_ensure_versions (frame), number);
      else
        *(guint64 *) quipu_field_ptr (frame, spec) = number;
      break;

    case QUIPU_FIELD_KIND_STRING:
    case QUIPU_FIELD_KIND_NAME:
      if (!quipu_field_check_string (spec, (const char *) value, len, error))
        return FALSE;
      if (repeated)
        g_ptr_array_add (quipu_frame_ensure_list (frame, spec), g_strndup ((const char *) value, len));
      else
        *(char **) quipu_field_ptr (frame, spec) = g_strndup ((const char *) value, len);
      break;

    case QUIPU_FIELD_KIND_BYTES:
      if (!quipu_field_check_bytes_len (spec, len, error))
        return FALSE;
      memcpy (quipu_field_ptr (frame, spec), value, len);
      break;

    case QUIPU_FIELD_KIND_USER:
      if (!decode_user (frame, value, len, error))
        return FALSE;
      break;
    }

  frame->present |= QUIPU_FIELD_BIT (id);
  return TRUE;
}

static gboolean
decode_frame_field (guint64       id,
                    const guint8 *value,
                    gsize         len,
                    gpointer      frame,
                    GError      **error)
{
  /* Unknown ids (and the reserved id 0) are for extensions: skip them. */
  if (id == 0 || id > QUIPU_FIELD_LAST)
    return TRUE;
  return decode_field (frame, id, value, len, error);
}

static gboolean
decode_payload (QuipuFrame   *frame,
                const guint8 *data,
                gsize         len,
                GError      **error)
{
  return walk_fields (data, len, "frame", decode_frame_field, frame, error) &&
         quipu_frame_check_rules (frame, frame->present, error);
}

QuipuDecodeResult
quipu_frame_decode (const guint8  *data,
                    gsize          len,
                    gsize         *consumed,
                    QuipuFrame   **out_frame,
                    GError       **error)
{
  g_autoptr(QuipuFrame) frame = NULL;
  guint64 type, payload_len;
  gsize n, m, header_len;

  g_return_val_if_fail (data != NULL || len == 0, QUIPU_DECODE_ERROR);
  g_return_val_if_fail (consumed != NULL, QUIPU_DECODE_ERROR);
  g_return_val_if_fail (out_frame != NULL, QUIPU_DECODE_ERROR);

  *consumed = 0;
  *out_frame = NULL;

  n = quipu_varint_read (data, len, &type);
  m = n == 0 ? 0 : quipu_varint_read (data + n, len - n, &payload_len);
  if (m == 0)
    return QUIPU_DECODE_NEED_MORE;
  header_len = n + m;

  /* Refuse from the header alone so a peer cannot make us buffer a huge frame. */
  if (payload_len > QUIPU_MAX_FRAME_SIZE - header_len)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "frame of %" G_GUINT64_FORMAT " bytes exceeds the limit of %d bytes",
                   header_len + payload_len, QUIPU_MAX_FRAME_SIZE);
      return QUIPU_DECODE_ERROR;
    }
  if (!quipu_frame_type_is_known (type) && type < QUIPU_FRAME_EXTENSION_MIN)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "unknown frame type 0x%02" G_GINT64_MODIFIER "x", type);
      return QUIPU_DECODE_ERROR;
    }
  if (payload_len > len - header_len)
    return QUIPU_DECODE_NEED_MORE;

  if (!quipu_frame_type_is_known (type))
    {
      *consumed = header_len + payload_len;
      return QUIPU_DECODE_SKIPPED;
    }

  frame = quipu_frame_new ((QuipuFrameType) type);
  if (!decode_payload (frame, data + header_len, payload_len, error))
    return QUIPU_DECODE_ERROR;

  *consumed = header_len + payload_len;
  *out_frame = g_steal_pointer (&frame);
  return QUIPU_DECODE_OK;
}

/* ---- encoder: pass 1 validates and measures, pass 2 writes ---- */

static gsize
tlv_size (guint64 id,
          gsize   value_len)
{
  return quipu_varint_size (id) + quipu_varint_size (value_len) + value_len;
}

static gsize
user_value_size (const QuipuUserInfo *user)
{
  gsize size = tlv_size (QUIPU_FIELD_USERNAME, strlen (user->name));

  if (user->has_key)
    size += tlv_size (QUIPU_FIELD_KEY, QUIPU_KEY_SIZE);
  return size;
}

static gboolean
measure_varint (const QuipuFieldSpec *spec,
                guint64               id,
                guint64               value,
                gsize                *size,
                GError              **error)
{
  if (!quipu_field_check_varint (spec, value, error))
    return FALSE;
  *size += tlv_size (id, quipu_varint_size (value));
  return TRUE;
}

static gboolean
measure_string (const QuipuFieldSpec *spec,
                guint64               id,
                const char           *value,
                gsize                *size,
                GError              **error)
{
  gsize len = strlen (value);

  if (!quipu_field_check_string (spec, value, len, error))
    return FALSE;
  *size += tlv_size (id, len);
  return TRUE;
}

static gboolean
measure_user (const QuipuUserInfo *user,
              gsize               *size,
              GError             **error)
{
  GError *local_error = NULL;

  if (!quipu_field_check_string (&quipu_field_specs[QUIPU_FIELD_USERNAME], user->name,
                     strlen (user->name), &local_error))
    {
      g_propagate_prefixed_error (error, local_error, "user: ");
      return FALSE;
    }
  *size += tlv_size (QUIPU_FIELD_USER, user_value_size (user));
  return TRUE;
}

static guint64
varint_at (const QuipuFrame     *frame,
           const QuipuFieldSpec *spec,
           guint                 i)
{
  if (quipu_field_is_repeated (spec))
    return g_array_index (frame->versions, guint64, i);
  return *(const guint64 *) quipu_field_ptr (frame, spec);
}

static const char *
string_at (const QuipuFrame     *frame,
           const QuipuFieldSpec *spec,
           guint                 i)
{
  if (quipu_field_is_repeated (spec))
    return g_ptr_array_index (*(GPtrArray * const *) quipu_field_ptr (frame, spec), i);
  return *(char * const *) quipu_field_ptr (frame, spec);
}

/* Validates one field as the decoder would and adds its encoded size,
 * returning in *on_wire whether anything gets written. */
static gboolean
measure_field (const QuipuFrame *frame,
               guint64           id,
               gsize            *size,
               gboolean         *on_wire,
               GError          **error)
{
  const QuipuFieldSpec *spec = &quipu_field_specs[id];
  guint count = quipu_field_is_repeated (spec) ? quipu_frame_list_length (frame, id) : 1;

  if (quipu_field_is_repeated (spec) && !quipu_field_check_list_length (spec, count, error))
    return FALSE;
  *on_wire = count > 0;

  for (guint i = 0; i < count; i++)
    {
      gboolean ok = TRUE;

      switch (spec->kind)
        {
        case QUIPU_FIELD_KIND_VARINT:
          ok = measure_varint (spec, id, varint_at (frame, spec, i), size, error);
          break;

        case QUIPU_FIELD_KIND_STRING:
        case QUIPU_FIELD_KIND_NAME:
          g_return_val_if_fail (string_at (frame, spec, i) != NULL, FALSE);
          ok = measure_string (spec, id, string_at (frame, spec, i), size, error);
          break;

        case QUIPU_FIELD_KIND_BYTES:
          *size += tlv_size (id, spec->size);
          break;

        case QUIPU_FIELD_KIND_USER:
          ok = measure_user (g_ptr_array_index (frame->users, i), size, error);
          break;
        }

      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static void
append_tlv (GByteArray   *out,
            guint64       id,
            const void   *value,
            gsize         len)
{
  quipu_varint_append (out, id);
  quipu_varint_append (out, len);
  g_byte_array_append (out, value, len);
}

static void
append_varint_field (GByteArray *out,
                     guint64     id,
                     guint64     value)
{
  quipu_varint_append (out, id);
  quipu_varint_append (out, quipu_varint_size (value));
  quipu_varint_append (out, value);
}

static void
append_user (GByteArray          *out,
             const QuipuUserInfo *user)
{
  quipu_varint_append (out, QUIPU_FIELD_USER);
  quipu_varint_append (out, user_value_size (user));
  append_tlv (out, QUIPU_FIELD_USERNAME, user->name, strlen (user->name));
  if (user->has_key)
    append_tlv (out, QUIPU_FIELD_KEY, user->key, QUIPU_KEY_SIZE);
}

static void
append_field (GByteArray       *out,
              const QuipuFrame *frame,
              guint64           id)
{
  const QuipuFieldSpec *spec = &quipu_field_specs[id];
  guint count = quipu_field_is_repeated (spec) ? quipu_frame_list_length (frame, id) : 1;

  for (guint i = 0; i < count; i++)
    {
      switch (spec->kind)
        {
        case QUIPU_FIELD_KIND_VARINT:
          append_varint_field (out, id, varint_at (frame, spec, i));
          break;

        case QUIPU_FIELD_KIND_STRING:
        case QUIPU_FIELD_KIND_NAME:
          append_tlv (out, id, string_at (frame, spec, i), strlen (string_at (frame, spec, i)));
          break;

        case QUIPU_FIELD_KIND_BYTES:
          append_tlv (out, id, quipu_field_ptr (frame, spec), spec->size);
          break;

        case QUIPU_FIELD_KIND_USER:
          append_user (out, g_ptr_array_index (frame->users, i));
          break;
        }
    }
}

gboolean
quipu_frame_encode_to (const QuipuFrame  *frame,
                       GByteArray        *out,
                       GError           **error)
{
  guint64 on_wire = 0;
  gsize payload_len = 0;
  gsize total;

  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!quipu_frame_type_is_known (frame->type))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "unknown frame type 0x%02x", (guint) frame->type);
      return FALSE;
    }

  for (guint64 id = 1; id <= QUIPU_FIELD_LAST; id++)
    {
      gboolean written = FALSE;

      if (!quipu_frame_has (frame, id))
        continue;
      if (!measure_field (frame, id, &payload_len, &written, error))
        return FALSE;
      if (written)
        on_wire |= QUIPU_FIELD_BIT (id);
    }
  if (!quipu_frame_check_rules (frame, on_wire, error))
    return FALSE;

  total = quipu_varint_size (frame->type) + quipu_varint_size (payload_len) + payload_len;
  if (total > QUIPU_MAX_FRAME_SIZE)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "frame of %" G_GSIZE_FORMAT " bytes exceeds the limit of %d bytes",
                   total, QUIPU_MAX_FRAME_SIZE);
      return FALSE;
    }

  quipu_varint_append (out, frame->type);
  quipu_varint_append (out, payload_len);
  for (guint64 id = 1; id <= QUIPU_FIELD_LAST; id++)
    {
      if (on_wire & QUIPU_FIELD_BIT (id))
        append_field (out, frame, id);
    }
  return TRUE;
}

GBytes *
quipu_frame_encode (const QuipuFrame  *frame,
                    GError           **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();

  if (!quipu_frame_encode_to (frame, out, error))
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}
