#define G_LOG_DOMAIN "quipu-wire"

#include "config.h"

#include <stddef.h>
#include <string.h>

#include "quipu-names.h"
#include "quipu-wire.h"

#define FIELD_BIT(id) (G_GUINT64_CONSTANT (1) << (id))

typedef enum {
  KIND_VARINT,
  KIND_STRING,
  KIND_NAME,
  KIND_BYTES,
  KIND_USER,
} FieldKind;

/* One row per field id: how its value is checked and where it lives in
 * QuipuFrame, so decoder, encoder and setters share a single description. */
typedef struct {
  const char *name;       /* in "lacks field %s", "duplicate field %u (%s)" */
  const char *label;      /* subject of value errors: "message body is empty" */
  const char *plural;     /* repeated fields: "more than 64 recipients" */
  FieldKind   kind;
  guint       size;       /* max bytes (strings), exact size (bytes) */
  guint       max_count;  /* repeated fields; 0 for the others */
  gsize       offset;
} FieldSpec;

#define SCALAR(id, nm, lbl, knd, sz, member) \
  [id] = { nm, lbl, NULL, knd, sz, 0, offsetof (QuipuFrame, member) }
#define LIST(id, nm, pl, knd, sz, count, member) \
  [id] = { nm, nm, pl, knd, sz, count, offsetof (QuipuFrame, member) }

static const FieldSpec field_specs[QUIPU_FIELD_LAST + 1] = {
  LIST   (QUIPU_FIELD_VERSION, "version", "versions", KIND_VARINT, 0, QUIPU_MAX_LIST, versions),
  LIST   (QUIPU_FIELD_FEATURE, "feature", "features", KIND_STRING, QUIPU_MAX_TEXT_SIZE, QUIPU_MAX_LIST, features),
  SCALAR (QUIPU_FIELD_USERNAME, "username", "username", KIND_NAME, 0, username),
  SCALAR (QUIPU_FIELD_CLIENT, "client", "client", KIND_STRING, QUIPU_MAX_TEXT_SIZE, client),
  SCALAR (QUIPU_FIELD_USER_ID, "user_id", "user id", KIND_STRING, QUIPU_MAX_TEXT_SIZE, user_id),
  SCALAR (QUIPU_FIELD_KEY, "key", "public key", KIND_BYTES, QUIPU_KEY_SIZE, key),
  SCALAR (QUIPU_FIELD_PROOF, "proof", "proof", KIND_BYTES, QUIPU_SIGNATURE_SIZE, proof),
  SCALAR (QUIPU_FIELD_ROOM, "room", "room", KIND_NAME, 0, room),
  LIST   (QUIPU_FIELD_RECIPIENT, "recipient", "recipients", KIND_NAME, 0, QUIPU_MAX_RECIPIENTS, recipients),
  SCALAR (QUIPU_FIELD_CLIENT_MSG_ID, "client_msg_id", "client_msg_id", KIND_VARINT, 0, client_msg_id),
  SCALAR (QUIPU_FIELD_SEQ, "seq", "seq", KIND_VARINT, 0, seq),
  SCALAR (QUIPU_FIELD_BODY, "body", "message body", KIND_STRING, QUIPU_MAX_BODY_SIZE, body),
  SCALAR (QUIPU_FIELD_TIMESTAMP, "timestamp", "timestamp", KIND_VARINT, 0, timestamp),
  SCALAR (QUIPU_FIELD_SIGNATURE, "signature", "signature", KIND_BYTES, QUIPU_SIGNATURE_SIZE, signature),
  SCALAR (QUIPU_FIELD_SENDER, "sender", "sender", KIND_NAME, 0, sender),
  SCALAR (QUIPU_FIELD_STATUS, "status", "presence status", KIND_VARINT, 0, status),
  SCALAR (QUIPU_FIELD_CODE, "code", "code", KIND_VARINT, 0, code),
  SCALAR (QUIPU_FIELD_TEXT, "text", "text", KIND_STRING, QUIPU_MAX_TEXT_SIZE, text),
  SCALAR (QUIPU_FIELD_TOKEN, "token", "token", KIND_VARINT, 0, token),
  SCALAR (QUIPU_FIELD_FLAGS, "flags", "flags", KIND_VARINT, 0, flags),
  SCALAR (QUIPU_FIELD_AFTER_SEQ, "after_seq", "after_seq", KIND_VARINT, 0, after_seq),
  SCALAR (QUIPU_FIELD_BEFORE_SEQ, "before_seq", "before_seq", KIND_VARINT, 0, before_seq),
  SCALAR (QUIPU_FIELD_LIMIT, "limit", "limit", KIND_VARINT, 0, limit),
  LIST   (QUIPU_FIELD_ROOM_ENTRY, "room_entry", "room entries", KIND_NAME, 0, QUIPU_MAX_LIST, room_entries),
  LIST   (QUIPU_FIELD_USER, "user", "users", KIND_USER, 0, QUIPU_MAX_LIST, users),
  SCALAR (QUIPU_FIELD_COUNT, "count", "count", KIND_VARINT, 0, count),
};

#undef SCALAR
#undef LIST

static const char * const frame_names[QUIPU_FRAME_DISCONNECT + 1] = {
  [QUIPU_FRAME_CONNECT] = "CONNECT",
  [QUIPU_FRAME_WELCOME] = "WELCOME",
  [QUIPU_FRAME_MESSAGE] = "MESSAGE",
  [QUIPU_FRAME_ACK] = "ACK",
  [QUIPU_FRAME_PING] = "PING",
  [QUIPU_FRAME_PONG] = "PONG",
  [QUIPU_FRAME_PRESENCE] = "PRESENCE",
  [QUIPU_FRAME_JOIN] = "JOIN",
  [QUIPU_FRAME_LEAVE] = "LEAVE",
  [QUIPU_FRAME_HISTORY] = "HISTORY",
  [QUIPU_FRAME_ERROR] = "ERROR",
  [QUIPU_FRAME_DISCONNECT] = "DISCONNECT",
};

/* ROOM/RECIPIENT (MESSAGE), the single VERSION (WELCOME) and the single USER
 * (PRESENCE) have rules of their own in check_frame_rules(). */
static const guint64 required_fields[QUIPU_FRAME_DISCONNECT + 1] = {
  [QUIPU_FRAME_CONNECT] = FIELD_BIT (QUIPU_FIELD_VERSION) | FIELD_BIT (QUIPU_FIELD_USERNAME) |
                          FIELD_BIT (QUIPU_FIELD_KEY) | FIELD_BIT (QUIPU_FIELD_PROOF),
  [QUIPU_FRAME_WELCOME] = FIELD_BIT (QUIPU_FIELD_VERSION) | FIELD_BIT (QUIPU_FIELD_USERNAME) |
                          FIELD_BIT (QUIPU_FIELD_USER_ID),
  [QUIPU_FRAME_MESSAGE] = FIELD_BIT (QUIPU_FIELD_CLIENT_MSG_ID) | FIELD_BIT (QUIPU_FIELD_BODY) |
                          FIELD_BIT (QUIPU_FIELD_TIMESTAMP) | FIELD_BIT (QUIPU_FIELD_SIGNATURE),
  [QUIPU_FRAME_ACK] = FIELD_BIT (QUIPU_FIELD_CLIENT_MSG_ID) | FIELD_BIT (QUIPU_FIELD_SEQ),
  [QUIPU_FRAME_PRESENCE] = FIELD_BIT (QUIPU_FIELD_USER) | FIELD_BIT (QUIPU_FIELD_STATUS),
  [QUIPU_FRAME_JOIN] = FIELD_BIT (QUIPU_FIELD_ROOM),
  [QUIPU_FRAME_LEAVE] = FIELD_BIT (QUIPU_FIELD_ROOM),
  [QUIPU_FRAME_ERROR] = FIELD_BIT (QUIPU_FIELD_CODE),
};

static inline gpointer
field_ptr (const QuipuFrame *frame,
           const FieldSpec  *spec)
{
  return (guint8 *) frame + spec->offset;
}

static inline gboolean
field_is_repeated (const FieldSpec *spec)
{
  return spec->max_count > 0;
}

static gboolean
frame_type_is_known (guint64 type)
{
  return type >= QUIPU_FRAME_CONNECT && type <= QUIPU_FRAME_DISCONNECT;
}

const char *
quipu_frame_type_to_string (guint64 type)
{
  return frame_type_is_known (type) ? frame_names[type] : NULL;
}

/* ---- varints (RFC 9000 §16) ---- */

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

/* ---- frames and setters ---- */

static void
user_info_free (gpointer data)
{
  QuipuUserInfo *user = data;

  g_free (user->name);
  g_free (user);
}

QuipuFrame *
quipu_frame_new (QuipuFrameType type)
{
  QuipuFrame *frame = g_new0 (QuipuFrame, 1);

  frame->type = type;
  return frame;
}

void
quipu_frame_free (QuipuFrame *frame)
{
  if (frame == NULL)
    return;

  g_clear_pointer (&frame->versions, g_array_unref);
  g_clear_pointer (&frame->features, g_ptr_array_unref);
  g_clear_pointer (&frame->recipients, g_ptr_array_unref);
  g_clear_pointer (&frame->room_entries, g_ptr_array_unref);
  g_clear_pointer (&frame->users, g_ptr_array_unref);
  g_free (frame->username);
  g_free (frame->client);
  g_free (frame->user_id);
  g_free (frame->room);
  g_free (frame->body);
  g_free (frame->sender);
  g_free (frame->text);
  g_free (frame);
}

static const FieldSpec *
lookup_spec (QuipuFieldId id)
{
  if ((guint) id == 0 || (guint) id > QUIPU_FIELD_LAST)
    return NULL;
  return &field_specs[id];
}

static GPtrArray *
ensure_ptr_list (QuipuFrame      *frame,
                 const FieldSpec *spec)
{
  GPtrArray **list = field_ptr (frame, spec);

  if (*list == NULL)
    *list = g_ptr_array_new_with_free_func (spec->kind == KIND_USER ? user_info_free : g_free);
  return *list;
}

static GArray *
ensure_versions (QuipuFrame *frame)
{
  if (frame->versions == NULL)
    frame->versions = g_array_new (FALSE, FALSE, sizeof (guint64));
  return frame->versions;
}

void
quipu_frame_set_uint (QuipuFrame   *frame,
                      QuipuFieldId  id,
                      guint64       value)
{
  const FieldSpec *spec = lookup_spec (id);

  g_return_if_fail (frame != NULL);
  g_return_if_fail (spec != NULL && spec->kind == KIND_VARINT);
  g_return_if_fail (value <= QUIPU_VARINT_MAX);

  if (id == QUIPU_FIELD_VERSION)
    {
      g_array_set_size (ensure_versions (frame), 0);
      g_array_append_val (frame->versions, value);
    }
  else
    {
      *(guint64 *) field_ptr (frame, spec) = value;
    }
  frame->present |= FIELD_BIT (id);
}

void
quipu_frame_add_uint (QuipuFrame   *frame,
                      QuipuFieldId  id,
                      guint64       value)
{
  g_return_if_fail (frame != NULL);
  g_return_if_fail (id == QUIPU_FIELD_VERSION);
  g_return_if_fail (value <= QUIPU_VARINT_MAX);

  g_array_append_val (ensure_versions (frame), value);
  frame->present |= FIELD_BIT (id);
}

void
quipu_frame_set_string (QuipuFrame   *frame,
                        QuipuFieldId  id,
                        const char   *value)
{
  const FieldSpec *spec = lookup_spec (id);
  char **slot;

  g_return_if_fail (frame != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (spec != NULL && !field_is_repeated (spec) &&
                    (spec->kind == KIND_STRING || spec->kind == KIND_NAME));

  slot = field_ptr (frame, spec);
  g_free (*slot);
  *slot = g_strdup (value);
  frame->present |= FIELD_BIT (id);
}

void
quipu_frame_add_string (QuipuFrame   *frame,
                        QuipuFieldId  id,
                        const char   *value)
{
  const FieldSpec *spec = lookup_spec (id);

  g_return_if_fail (frame != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (spec != NULL && field_is_repeated (spec) &&
                    (spec->kind == KIND_STRING || spec->kind == KIND_NAME));

  g_ptr_array_add (ensure_ptr_list (frame, spec), g_strdup (value));
  frame->present |= FIELD_BIT (id);
}

void
quipu_frame_set_bytes (QuipuFrame    *frame,
                       QuipuFieldId   id,
                       const guint8  *data,
                       gsize          len)
{
  const FieldSpec *spec = lookup_spec (id);

  g_return_if_fail (frame != NULL);
  g_return_if_fail (data != NULL);
  g_return_if_fail (spec != NULL && spec->kind == KIND_BYTES);
  g_return_if_fail (len == spec->size);

  memcpy (field_ptr (frame, spec), data, len);
  frame->present |= FIELD_BIT (id);
}

void
quipu_frame_add_user (QuipuFrame   *frame,
                      const char   *name,
                      const guint8 *key)
{
  QuipuUserInfo *user;

  g_return_if_fail (frame != NULL);
  g_return_if_fail (name != NULL);

  user = g_new0 (QuipuUserInfo, 1);
  user->name = g_strdup (name);
  if (key != NULL)
    {
      memcpy (user->key, key, QUIPU_KEY_SIZE);
      user->has_key = TRUE;
    }
  g_ptr_array_add (ensure_ptr_list (frame, &field_specs[QUIPU_FIELD_USER]), user);
  frame->present |= FIELD_BIT (QUIPU_FIELD_USER);
}

/* ---- value checks shared by the decoder and the encoder ---- */

static gboolean
check_varint (const FieldSpec *spec,
              guint64          value,
              GError         **error)
{
  if (value > QUIPU_VARINT_MAX)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s %" G_GUINT64_FORMAT " does not fit in a varint",
                   spec->label, value);
      return FALSE;
    }
  if (spec == &field_specs[QUIPU_FIELD_STATUS] && value > QUIPU_PRESENCE_ONLINE)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "presence status %" G_GUINT64_FORMAT " is not 0 or 1", value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_text (const FieldSpec *spec,
            const char      *value,
            gsize            len,
            GError         **error)
{
  if (len > spec->size)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "%s is longer than %u bytes", spec->label, spec->size);
      return FALSE;
    }
  if (len == 0 && spec == &field_specs[QUIPU_FIELD_BODY])
    {
      g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                           "message body is empty");
      return FALSE;
    }
  /* Checked apart from UTF-8 validity (which also rejects NUL) to say which. */
  if (memchr (value, '\0', len) != NULL)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s contains a NUL byte", spec->label);
      return FALSE;
    }
  if (!g_utf8_validate_len (value, len, NULL))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s is not valid UTF-8", spec->label);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_string (const FieldSpec *spec,
              const char      *value,
              gsize            len,
              GError         **error)
{
  GError *local_error = NULL;

  if (spec->kind == KIND_STRING)
    return check_text (spec, value, len, error);

  if (!quipu_name_validate (value, len, &local_error))
    {
      g_propagate_prefixed_error (error, local_error, "%s: ", spec->label);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_bytes_len (const FieldSpec *spec,
                 gsize            len,
                 GError         **error)
{
  if (len != spec->size)
    {
      int code = spec == &field_specs[QUIPU_FIELD_KEY] ? QUIPU_PROTOCOL_ERROR_BAD_KEY
                                                      : QUIPU_PROTOCOL_ERROR_PROTOCOL;

      g_set_error (error, QUIPU_PROTOCOL_ERROR, code,
                   "%s must be %u bytes, got %" G_GSIZE_FORMAT, spec->label, spec->size, len);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_list_length (const FieldSpec *spec,
                   guint            count,
                   GError         **error)
{
  if (count > spec->max_count)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "more than %u %s", spec->max_count, spec->plural);
      return FALSE;
    }
  return TRUE;
}

static guint
list_length (const QuipuFrame *frame,
             QuipuFieldId      id)
{
  if (id == QUIPU_FIELD_VERSION)
    return frame->versions != NULL ? frame->versions->len : 0;
  else
    {
      GPtrArray * const *list = field_ptr (frame, &field_specs[id]);

      return *list != NULL ? (*list)->len : 0;
    }
}

/* `present` is what is (or will be) on the wire, which for a frame being
 * encoded may differ from frame->present (a list set present but empty). */
static gboolean
check_frame_rules (const QuipuFrame *frame,
                   guint64           present,
                   GError          **error)
{
  const char *type_name = frame_names[frame->type];
  guint64 missing = required_fields[frame->type] & ~present;
  gboolean has_room = (present & FIELD_BIT (QUIPU_FIELD_ROOM)) != 0;
  gboolean has_recipients = (present & FIELD_BIT (QUIPU_FIELD_RECIPIENT)) != 0;

  if (missing != 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s frame lacks field %s", type_name,
                   field_specs[g_bit_nth_lsf (missing, -1)].name);
      return FALSE;
    }

  switch (frame->type)
    {
    case QUIPU_FRAME_WELCOME:
    case QUIPU_FRAME_PRESENCE:
      {
        QuipuFieldId id = frame->type == QUIPU_FRAME_WELCOME ? QUIPU_FIELD_VERSION
                                                             : QUIPU_FIELD_USER;
        guint n = list_length (frame, id);

        if (n != 1)
          {
            g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                         "%s frame must carry exactly one %s, got %u",
                         type_name, field_specs[id].name, n);
            return FALSE;
          }
      }
      break;

    case QUIPU_FRAME_MESSAGE:
      if (has_room == has_recipients)
        {
          g_set_error_literal (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                               has_room ? "MESSAGE frame has both a room and recipients"
                                        : "MESSAGE frame lacks field room or recipient");
          return FALSE;
        }
      break;

    case QUIPU_FRAME_CONNECT:
    case QUIPU_FRAME_ACK:
    case QUIPU_FRAME_PING:
    case QUIPU_FRAME_PONG:
    case QUIPU_FRAME_JOIN:
    case QUIPU_FRAME_LEAVE:
    case QUIPU_FRAME_HISTORY:
    case QUIPU_FRAME_ERROR:
    case QUIPU_FRAME_DISCONNECT:
      break;
    }

  return TRUE;
}

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
decode_varint_value (const FieldSpec *spec,
                     const guint8    *value,
                     gsize            len,
                     guint64         *out,
                     GError         **error)
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
  return check_varint (spec, *out, error);
}

static gboolean
check_not_seen (guint64   seen,
                guint64   id,
                GError  **error)
{
  if (seen & FIELD_BIT (id))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "duplicate field %" G_GUINT64_FORMAT " (%s)", id, field_specs[id].name);
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
  const FieldSpec *spec;

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
  decoder->seen |= FIELD_BIT (id);

  spec = &field_specs[id];
  if (id == QUIPU_FIELD_KEY)
    {
      if (!check_bytes_len (spec, vlen, error))
        return FALSE;
      memcpy (user->key, value, QUIPU_KEY_SIZE);
      user->has_key = TRUE;
    }
  else
    {
      if (!check_string (spec, (const char *) value, vlen, error))
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
      user_info_free (user);
      g_propagate_prefixed_error (error, local_error, "user: ");
      return FALSE;
    }
  g_ptr_array_add (ensure_ptr_list (frame, &field_specs[QUIPU_FIELD_USER]), user);
  return TRUE;
}

static gboolean
decode_field (QuipuFrame   *frame,
              guint64       id,
              const guint8 *value,
              gsize         len,
              GError      **error)
{
  const FieldSpec *spec = &field_specs[id];
  gboolean repeated = field_is_repeated (spec);
  guint64 number;

  if (repeated)
    {
      if (!check_list_length (spec, list_length (frame, id) + 1, error))
        return FALSE;
    }
  else if (!check_not_seen (frame->present, id, error))
    return FALSE;

  switch (spec->kind)
    {
    case KIND_VARINT:
      if (!decode_varint_value (spec, value, len, &number, error))
        return FALSE;
      if (repeated)
        g_array_append_val (ensure_versions (frame), number);
      else
        *(guint64 *) field_ptr (frame, spec) = number;
      break;

    case KIND_STRING:
    case KIND_NAME:
      if (!check_string (spec, (const char *) value, len, error))
        return FALSE;
      if (repeated)
        g_ptr_array_add (ensure_ptr_list (frame, spec), g_strndup ((const char *) value, len));
      else
        *(char **) field_ptr (frame, spec) = g_strndup ((const char *) value, len);
      break;

    case KIND_BYTES:
      if (!check_bytes_len (spec, len, error))
        return FALSE;
      memcpy (field_ptr (frame, spec), value, len);
      break;

    case KIND_USER:
      if (!decode_user (frame, value, len, error))
        return FALSE;
      break;
    }

  frame->present |= FIELD_BIT (id);
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
         check_frame_rules (frame, frame->present, error);
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
  if (!frame_type_is_known (type) && type < QUIPU_FRAME_EXTENSION_MIN)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "unknown frame type 0x%02" G_GINT64_MODIFIER "x", type);
      return QUIPU_DECODE_ERROR;
    }
  if (payload_len > len - header_len)
    return QUIPU_DECODE_NEED_MORE;

  if (!frame_type_is_known (type))
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
measure_varint (const FieldSpec *spec,
                guint64          id,
                guint64          value,
                gsize           *size,
                GError         **error)
{
  if (!check_varint (spec, value, error))
    return FALSE;
  *size += tlv_size (id, quipu_varint_size (value));
  return TRUE;
}

static gboolean
measure_string (const FieldSpec *spec,
                guint64          id,
                const char      *value,
                gsize           *size,
                GError         **error)
{
  gsize len = strlen (value);

  if (!check_string (spec, value, len, error))
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

  if (!check_string (&field_specs[QUIPU_FIELD_USERNAME], user->name,
                     strlen (user->name), &local_error))
    {
      g_propagate_prefixed_error (error, local_error, "user: ");
      return FALSE;
    }
  *size += tlv_size (QUIPU_FIELD_USER, user_value_size (user));
  return TRUE;
}

static guint64
varint_at (const QuipuFrame *frame,
           const FieldSpec  *spec,
           guint             i)
{
  if (field_is_repeated (spec))
    return g_array_index (frame->versions, guint64, i);
  return *(const guint64 *) field_ptr (frame, spec);
}

static const char *
string_at (const QuipuFrame *frame,
           const FieldSpec  *spec,
           guint             i)
{
  if (field_is_repeated (spec))
    return g_ptr_array_index (*(GPtrArray * const *) field_ptr (frame, spec), i);
  return *(char * const *) field_ptr (frame, spec);
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
  const FieldSpec *spec = &field_specs[id];
  guint count = field_is_repeated (spec) ? list_length (frame, id) : 1;

  if (field_is_repeated (spec) && !check_list_length (spec, count, error))
    return FALSE;
  *on_wire = count > 0;

  for (guint i = 0; i < count; i++)
    {
      gboolean ok = TRUE;

      switch (spec->kind)
        {
        case KIND_VARINT:
          ok = measure_varint (spec, id, varint_at (frame, spec, i), size, error);
          break;

        case KIND_STRING:
        case KIND_NAME:
          g_return_val_if_fail (string_at (frame, spec, i) != NULL, FALSE);
          ok = measure_string (spec, id, string_at (frame, spec, i), size, error);
          break;

        case KIND_BYTES:
          *size += tlv_size (id, spec->size);
          break;

        case KIND_USER:
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
  const FieldSpec *spec = &field_specs[id];
  guint count = field_is_repeated (spec) ? list_length (frame, id) : 1;

  for (guint i = 0; i < count; i++)
    {
      switch (spec->kind)
        {
        case KIND_VARINT:
          append_varint_field (out, id, varint_at (frame, spec, i));
          break;

        case KIND_STRING:
        case KIND_NAME:
          append_tlv (out, id, string_at (frame, spec, i), strlen (string_at (frame, spec, i)));
          break;

        case KIND_BYTES:
          append_tlv (out, id, field_ptr (frame, spec), spec->size);
          break;

        case KIND_USER:
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

  if (!frame_type_is_known (frame->type))
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
        on_wire |= FIELD_BIT (id);
    }
  if (!check_frame_rules (frame, on_wire, error))
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
      if (on_wire & FIELD_BIT (id))
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

/* ---- signed byte strings ---- */

static void
append_prefixed (GByteArray *out,
                 const void *data,
                 gsize       len)
{
  quipu_varint_append (out, len);
  g_byte_array_append (out, data, len);
}

static void
append_prefixed_string (GByteArray *out,
                        const char *value)
{
  append_prefixed (out, value, strlen (value));
}

/* The context strings end in a NUL so no other signed string can start with one. */
static const char message_context[] = "quipu/1 message";
static const char login_context[] = "quipu/1 login";

static void
append_prefixed_name (GByteArray *out,
                      const char *name,
                      gboolean    fold)
{
  g_autofree char *folded = fold ? quipu_name_fold (name) : NULL;

  append_prefixed_string (out, folded != NULL ? folded : name);
}

GBytes *
quipu_message_signing_input_full (const QuipuFrame *frame,
                                  gboolean          fold)
{
  GByteArray *out;
  guint n_recipients;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (frame->sender != NULL, NULL);
  g_return_val_if_fail (frame->body != NULL, NULL);

  n_recipients = frame->recipients != NULL ? frame->recipients->len : 0;
  out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) message_context, sizeof message_context);
  append_prefixed_string (out, frame->sender);
  append_prefixed_name (out, frame->room != NULL ? frame->room : "", fold);
  quipu_varint_append (out, n_recipients);
  for (guint i = 0; i < n_recipients; i++)
    append_prefixed_name (out, g_ptr_array_index (frame->recipients, i), fold);
  quipu_varint_append (out, frame->client_msg_id);
  quipu_varint_append (out, frame->timestamp);
  append_prefixed_string (out, frame->body);

  return g_byte_array_free_to_bytes (out);
}

GBytes *
quipu_login_proof_input (const guint8 *exporter,
                         gsize         exporter_len,
                         const char   *username,
                         const guint8  key[QUIPU_KEY_SIZE])
{
  GByteArray *out;

  g_return_val_if_fail (exporter != NULL || exporter_len == 0, NULL);
  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) login_context, sizeof login_context);
  append_prefixed (out, exporter, exporter_len);
  append_prefixed_string (out, username);
  g_byte_array_append (out, key, QUIPU_KEY_SIZE);

  return g_byte_array_free_to_bytes (out);
}
