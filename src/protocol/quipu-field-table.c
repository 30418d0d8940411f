/* The codec keeps the one log domain it had as one file (tests expect it). */
#define G_LOG_DOMAIN "quipu-wire"

#include "config.h"

#include <stddef.h>
#include <string.h>

#include "quipu-field-table.h"
#include "quipu-names.h"
#include "quipu-varint.h"

#define SCALAR(id, nm, lbl, knd, sz, member) \
  [id] = { nm, lbl, NULL, QUIPU_FIELD_KIND_##knd, sz, 0, offsetof (QuipuFrame, member) }
#define LIST(id, nm, pl, knd, sz, count, member) \
  [id] = { nm, nm, pl, QUIPU_FIELD_KIND_##knd, sz, count, offsetof (QuipuFrame, member) }

const QuipuFieldSpec quipu_field_specs[QUIPU_FIELD_LAST + 1] = {
  LIST   (QUIPU_FIELD_VERSION, "version", "versions", VARINT, 0, QUIPU_MAX_LIST, versions),
  LIST   (QUIPU_FIELD_FEATURE, "feature", "features", STRING, QUIPU_MAX_TEXT_SIZE, QUIPU_MAX_LIST, features),
  SCALAR (QUIPU_FIELD_USERNAME, "username", "username", NAME, 0, username),
  SCALAR (QUIPU_FIELD_CLIENT, "client", "client", STRING, QUIPU_MAX_TEXT_SIZE, client),
  SCALAR (QUIPU_FIELD_USER_ID, "user_id", "user id", STRING, QUIPU_MAX_TEXT_SIZE, user_id),
  SCALAR (QUIPU_FIELD_KEY, "key", "public key", BYTES, QUIPU_KEY_SIZE, key),
  SCALAR (QUIPU_FIELD_PROOF, "proof", "proof", BYTES, QUIPU_SIGNATURE_SIZE, proof),
  SCALAR (QUIPU_FIELD_ROOM, "room", "room", NAME, 0, room),
  LIST   (QUIPU_FIELD_RECIPIENT, "recipient", "recipients", NAME, 0, QUIPU_MAX_RECIPIENTS, recipients),
  SCALAR (QUIPU_FIELD_CLIENT_MSG_ID, "client_msg_id", "client_msg_id", VARINT, 0, client_msg_id),
  SCALAR (QUIPU_FIELD_SEQ, "seq", "seq", VARINT, 0, seq),
  SCALAR (QUIPU_FIELD_BODY, "body", "message body", STRING, QUIPU_MAX_BODY_SIZE, body),
  SCALAR (QUIPU_FIELD_TIMESTAMP, "timestamp", "timestamp", VARINT, 0, timestamp),
  SCALAR (QUIPU_FIELD_SIGNATURE, "signature", "signature", BYTES, QUIPU_SIGNATURE_SIZE, signature),
  SCALAR (QUIPU_FIELD_SENDER, "sender", "sender", NAME, 0, sender),
  SCALAR (QUIPU_FIELD_STATUS, "status", "presence status", VARINT, 0, status),
  SCALAR (QUIPU_FIELD_CODE, "code", "code", VARINT, 0, code),
  SCALAR (QUIPU_FIELD_TEXT, "text", "text", STRING, QUIPU_MAX_TEXT_SIZE, text),
  SCALAR (QUIPU_FIELD_TOKEN, "token", "token", VARINT, 0, token),
  SCALAR (QUIPU_FIELD_FLAGS, "flags", "flags", VARINT, 0, flags),
  SCALAR (QUIPU_FIELD_AFTER_SEQ, "after_seq", "after_seq", VARINT, 0, after_seq),
  SCALAR (QUIPU_FIELD_BEFORE_SEQ, "before_seq", "before_seq", VARINT, 0, before_seq),
  SCALAR (QUIPU_FIELD_LIMIT, "limit", "limit", VARINT, 0, limit),
  LIST   (QUIPU_FIELD_ROOM_ENTRY, "room_entry", "room entries", NAME, 0, QUIPU_MAX_LIST, room_entries),
  LIST   (QUIPU_FIELD_USER, "user", "users", USER, 0, QUIPU_MAX_LIST, users),
  SCALAR (QUIPU_FIELD_COUNT, "count", "count", VARINT, 0, count),
};

#undef SCALAR
#undef LIST

/* ROOM/RECIPIENT (MESSAGE), the single VERSION (WELCOME) and the single USER
 * (PRESENCE) have rules of their own in quipu_frame_check_rules(). */
static const guint64 required_fields[QUIPU_FRAME_DISCONNECT + 1] = {
  [QUIPU_FRAME_CONNECT] = QUIPU_FIELD_BIT (QUIPU_FIELD_VERSION) | QUIPU_FIELD_BIT (QUIPU_FIELD_USERNAME) |
                          QUIPU_FIELD_BIT (QUIPU_FIELD_KEY) | QUIPU_FIELD_BIT (QUIPU_FIELD_PROOF),
  [QUIPU_FRAME_WELCOME] = QUIPU_FIELD_BIT (QUIPU_FIELD_VERSION) | QUIPU_FIELD_BIT (QUIPU_FIELD_USERNAME) |
                          QUIPU_FIELD_BIT (QUIPU_FIELD_USER_ID),
  [QUIPU_FRAME_MESSAGE] = QUIPU_FIELD_BIT (QUIPU_FIELD_CLIENT_MSG_ID) | QUIPU_FIELD_BIT (QUIPU_FIELD_BODY) |
                          QUIPU_FIELD_BIT (QUIPU_FIELD_TIMESTAMP) | QUIPU_FIELD_BIT (QUIPU_FIELD_SIGNATURE),
  [QUIPU_FRAME_ACK] = QUIPU_FIELD_BIT (QUIPU_FIELD_CLIENT_MSG_ID) | QUIPU_FIELD_BIT (QUIPU_FIELD_SEQ),
  [QUIPU_FRAME_PRESENCE] = QUIPU_FIELD_BIT (QUIPU_FIELD_USER) | QUIPU_FIELD_BIT (QUIPU_FIELD_STATUS),
  [QUIPU_FRAME_JOIN] = QUIPU_FIELD_BIT (QUIPU_FIELD_ROOM),
  [QUIPU_FRAME_LEAVE] = QUIPU_FIELD_BIT (QUIPU_FIELD_ROOM),
  [QUIPU_FRAME_ERROR] = QUIPU_FIELD_BIT (QUIPU_FIELD_CODE),
};

const QuipuFieldSpec *
quipu_field_spec_lookup (QuipuFieldId id)
{
  if ((guint) id == 0 || (guint) id > QUIPU_FIELD_LAST)
    return NULL;
  return &quipu_field_specs[id];
}

void
quipu_user_info_free (gpointer data)
{
  QuipuUserInfo *user = data;

  g_free (user->name);
  g_free (user);
}

GPtrArray *
quipu_frame_ensure_list (QuipuFrame           *frame,
                         const QuipuFieldSpec *spec)
{
  GPtrArray **list = quipu_field_ptr (frame, spec);

  if (*list == NULL)
    *list = g_ptr_array_new_with_free_func (spec->kind == QUIPU_FIELD_KIND_USER ? quipu_user_info_free : g_free);
  return *list;
}

GArray *
quipu_frame_ensure_versions (QuipuFrame *frame)
{
  if (frame->versions == NULL)
    frame->versions = g_array_new (FALSE, FALSE, sizeof (guint64));
  return frame->versions;
}

/* ---- value checks shared by the decoder and the encoder ---- */

gboolean
quipu_field_check_varint (const QuipuFieldSpec *spec,
                          guint64               value,
                          GError              **error)
{
  if (value > QUIPU_VARINT_MAX)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s %" G_GUINT64_FORMAT " does not fit in a varint",
                   spec->label, value);
      return FALSE;
    }
  if (spec == &quipu_field_specs[QUIPU_FIELD_STATUS] && value > QUIPU_PRESENCE_ONLINE)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "presence status %" G_GUINT64_FORMAT " is not 0 or 1", value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_text (const QuipuFieldSpec *spec,
            const char           *value,
            gsize                 len,
            GError              **error)
{
  if (len > spec->size)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "%s is longer than %u bytes", spec->label, spec->size);
      return FALSE;
    }
  if (len == 0 && spec == &quipu_field_specs[QUIPU_FIELD_BODY])
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

gboolean
quipu_field_check_string (const QuipuFieldSpec *spec,
                          const char           *value,
                          gsize                 len,
                          GError              **error)
{
  GError *local_error = NULL;

  if (spec->kind == QUIPU_FIELD_KIND_STRING)
    return check_text (spec, value, len, error);

  if (!quipu_name_validate (value, len, &local_error))
    {
      g_propagate_prefixed_error (error, local_error, "%s: ", spec->label);
      return FALSE;
    }
  return TRUE;
}

gboolean
quipu_field_check_bytes_len (const QuipuFieldSpec *spec,
                             gsize                 len,
                             GError              **error)
{
  if (len != spec->size)
    {
      int code = spec == &quipu_field_specs[QUIPU_FIELD_KEY] ? QUIPU_PROTOCOL_ERROR_BAD_KEY
                                                      : QUIPU_PROTOCOL_ERROR_PROTOCOL;

      g_set_error (error, QUIPU_PROTOCOL_ERROR, code,
                   "%s must be %u bytes, got %" G_GSIZE_FORMAT, spec->label, spec->size, len);
      return FALSE;
    }
  return TRUE;
}

gboolean
quipu_field_check_list_length (const QuipuFieldSpec *spec,
                               guint                 count,
                               GError              **error)
{
  if (count > spec->max_count)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                   "more than %u %s", spec->max_count, spec->plural);
      return FALSE;
    }
  return TRUE;
}

guint
quipu_frame_list_length (const QuipuFrame *frame,
                         QuipuFieldId      id)
{
  if (id == QUIPU_FIELD_VERSION)
    return frame->versions != NULL ? frame->versions->len : 0;
  else
    {
      GPtrArray * const *list = quipu_field_ptr (frame, &quipu_field_specs[id]);

      return *list != NULL ? (*list)->len : 0;
    }
}

/* `present` is what is (or will be) on the wire, which for a frame being
 * encoded may differ from frame->present (a list set present but empty). */
gboolean
quipu_frame_check_rules (const QuipuFrame *frame,
                         guint64           present,
                         GError          **error)
{
  const char *type_name = quipu_frame_type_to_string (frame->type);
  guint64 missing = required_fields[frame->type] & ~present;
  gboolean has_room = (present & QUIPU_FIELD_BIT (QUIPU_FIELD_ROOM)) != 0;
  gboolean has_recipients = (present & QUIPU_FIELD_BIT (QUIPU_FIELD_RECIPIENT)) != 0;

  if (missing != 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                   "%s frame lacks field %s", type_name,
                   quipu_field_specs[g_bit_nth_lsf (missing, -1)].name);
      return FALSE;
    }

  switch (frame->type)
    {
    case QUIPU_FRAME_WELCOME:
    case QUIPU_FRAME_PRESENCE:
      {
        QuipuFieldId id = frame->type == QUIPU_FRAME_WELCOME ? QUIPU_FIELD_VERSION
                                                             : QUIPU_FIELD_USER;
        guint n = quipu_frame_list_length (frame, id);

        if (n != 1)
          {
            g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                         "%s frame must carry exactly one %s, got %u",
                         type_name, quipu_field_specs[id].name, n);
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
