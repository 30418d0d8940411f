/* The codec keeps the one log domain it had as one file (tests expect it). */
#define G_LOG_DOMAIN "quipu-wire"

#include "config.h"

#include <string.h>

#include "quipu-field-table.h"
#include "quipu-varint.h"

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

const char *
quipu_frame_type_to_string (guint64 type)
{
  return quipu_frame_type_is_known (type) ? frame_names[type] : NULL;
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

void
quipu_frame_set_uint (QuipuFrame   *frame,
                      QuipuFieldId  id,
                      guint64       value)
{
  const QuipuFieldSpec *spec = quipu_field_spec_lookup (id);

  g_return_if_fail (frame != NULL);
  g_return_if_fail (spec != NULL && spec->kind == QUIPU_FIELD_KIND_VARINT);
  g_return_if_fail (value <= QUIPU_VARINT_MAX);

  if (id == QUIPU_FIELD_VERSION)
    {
      g_array_set_size (quipu_frame_ensure_versions (frame), 0);
      g_array_append_val (frame->versions, value);
    }
  else
    {
      *(guint64 *) quipu_field_ptr (frame, spec) = value;
    }
  frame->present |= QUIPU_FIELD_BIT (id);
}

void
quipu_frame_add_uint (QuipuFrame   *frame,
                      QuipuFieldId  id,
                      guint64       value)
{
  g_return_if_fail (frame != NULL);
  g_return_if_fail (id == QUIPU_FIELD_VERSION);
  g_return_if_fail (value <= QUIPU_VARINT_MAX);

  g_array_append_val (quipu_frame_ensure_versions (frame), value);
  frame->present |= QUIPU_FIELD_BIT (id);
}

void
quipu_frame_set_string (QuipuFrame   *frame,
                        QuipuFieldId  id,
                        const char   *value)
{
  const QuipuFieldSpec *spec = quipu_field_spec_lookup (id);
  char **slot;

  g_return_if_fail (frame != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (spec != NULL && !quipu_field_is_repeated (spec) &&
                    (spec->kind == QUIPU_FIELD_KIND_STRING || spec->kind == QUIPU_FIELD_KIND_NAME));

  slot = quipu_field_ptr (frame, spec);
  g_free (*slot);
  *slot = g_strdup (value);
  frame->present |= QUIPU_FIELD_BIT (id);
}

void
quipu_frame_add_string (QuipuFrame   *frame,
                        QuipuFieldId  id,
                        const char   *value)
{
  const QuipuFieldSpec *spec = quipu_field_spec_lookup (id);

  g_return_if_fail (frame != NULL);
  g_return_if_fail (value != NULL);
  g_return_if_fail (spec != NULL && quipu_field_is_repeated (spec) &&
                    (spec->kind == QUIPU_FIELD_KIND_STRING || spec->kind == QUIPU_FIELD_KIND_NAME));

  g_ptr_array_add (quipu_frame_ensure_list (frame, spec), g_strdup (value));
  frame->present |= QUIPU_FIELD_BIT (id);
}

void
quipu_frame_set_bytes (QuipuFrame    *frame,
                       QuipuFieldId   id,
                       const guint8  *data,
                       gsize          len)
{
  const QuipuFieldSpec *spec = quipu_field_spec_lookup (id);

  g_return_if_fail (frame != NULL);
  g_return_if_fail (data != NULL);
  g_return_if_fail (spec != NULL && spec->kind == QUIPU_FIELD_KIND_BYTES);
  g_return_if_fail (len == spec->size);

  memcpy (quipu_field_ptr (frame, spec), data, len);
  frame->present |= QUIPU_FIELD_BIT (id);
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
  g_ptr_array_add (quipu_frame_ensure_list (frame, &quipu_field_specs[QUIPU_FIELD_USER]), user);
  frame->present |= QUIPU_FIELD_BIT (QUIPU_FIELD_USER);
}
