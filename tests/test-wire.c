#define G_LOG_DOMAIN "quipu-test-wire"

#include "config.h"

#include <string.h>

#include "quipu-test-frames.h"
#include "quipu-wire.h"

/* ---- raw byte builders, for input the encoder would refuse ---- */

static void
raw_tlv (GByteArray *payload,
         guint64     id,
         const void *value,
         gsize       len)
{
  quipu_varint_append (payload, id);
  quipu_varint_append (payload, len);
  g_byte_array_append (payload, value, len);
}

static void
raw_string (GByteArray *payload,
            guint64     id,
            const char *value)
{
  raw_tlv (payload, id, value, strlen (value));
}

static void
raw_varint (GByteArray *payload,
            guint64     id,
            guint64     value)
{
  quipu_varint_append (payload, id);
  quipu_varint_append (payload, quipu_varint_size (value));
  quipu_varint_append (payload, value);
}

/* Wraps a payload (consumed) in a frame header. */
static GBytes *
raw_frame (guint64     type,
           GByteArray *payload)
{
  GByteArray *out = g_byte_array_new ();

  quipu_varint_append (out, type);
  quipu_varint_append (out, payload->len);
  g_byte_array_append (out, payload->data, payload->len);
  g_byte_array_unref (payload);
  return g_byte_array_free_to_bytes (out);
}

static GBytes *
encode_ok (const QuipuFrame *frame)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = quipu_frame_encode (frame, &error);

  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  return bytes;
}

/* The encoded payload of `frame` without any field `drop` (0 keeps all). */
static GByteArray *
payload_of (const QuipuFrame *frame,
            guint64           drop)
{
  g_autoptr(GBytes) bytes = encode_ok (frame);
  GByteArray *out = g_byte_array_new ();
  gsize len, pos;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint64 type, payload_len;

  pos = quipu_varint_read (data, len, &type);
  pos += quipu_varint_read (data + pos, len - pos, &payload_len);
  g_assert_cmpuint (pos + payload_len, ==, len);

  while (pos < len)
    {
      gsize start = pos;
      guint64 id, value_len;

      pos += quipu_varint_read (data + pos, len - pos, &id);
      pos += quipu_varint_read (data + pos, len - pos, &value_len);
      pos += value_len;
      if (id != drop)
        g_byte_array_append (out, data + start, pos - start);
    }
  return out;
}

static QuipuFrame *
decode_ok (GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  QuipuFrame *frame = NULL;
  gsize consumed = 0;
  QuipuDecodeResult result;

  result = quipu_frame_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                               &consumed, &frame, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, QUIPU_DECODE_OK);
  g_assert_cmpuint (consumed, ==, g_bytes_get_size (bytes));
  g_assert_nonnull (frame);
  return frame;
}

static void
assert_decode_error (GBytes     *bytes,
                     int         code,
                     const char *message)
{
  g_autoptr(GError) error = NULL;
  QuipuFrame *frame = NULL;
  gsize consumed = 99;
  QuipuDecodeResult result;

  result = quipu_frame_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                               &consumed, &frame, &error);
  g_assert_cmpint (result, ==, QUIPU_DECODE_ERROR);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, code);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_null (frame);
  g_assert_cmpuint (consumed, ==, 0);
}

static void
assert_encode_error (const QuipuFrame *frame,
                     int               code,
                     const char       *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  static const guint8 canary[] = { 0xde, 0xad, 0xbe, 0xef };

  g_byte_array_append (out, canary, sizeof canary);
  g_assert_false (quipu_frame_encode_to (frame, out, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, code);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_cmpmem (out->data, out->len, canary, sizeof canary);
}

static void
assert_string_lists_equal (GPtrArray *a,
                           GPtrArray *b)
{
  g_assert_cmpuint (a != NULL ? a->len : 0, ==, b != NULL ? b->len : 0);
  for (guint i = 0; a != NULL && i < a->len; i++)
    g_assert_cmpstr (g_ptr_array_index (a, i), ==, g_ptr_array_index (b, i));
}

static void
assert_frames_equal (const QuipuFrame *a,
                     const QuipuFrame *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmphex (a->present, ==, b->present);

  g_assert_cmpuint (a->versions != NULL ? a->versions->len : 0, ==,
                    b->versions != NULL ? b->versions->len : 0);
  if (a->versions != NULL)
    g_assert_cmpmem (a->versions->data, a->versions->len * sizeof (guint64),
                     b->versions->data, b->versions->len * sizeof (guint64));
  assert_string_lists_equal (a->features, b->features);
  assert_string_lists_equal (a->recipients, b->recipients);
  assert_string_lists_equal (a->room_entries, b->room_entries);

  g_assert_cmpstr (a->username, ==, b->username);
  g_assert_cmpstr (a->client, ==, b->client);
  g_assert_cmpstr (a->user_id, ==, b->user_id);
  g_assert_cmpstr (a->room, ==, b->room);
  g_assert_cmpstr (a->body, ==, b->body);
  g_assert_cmpstr (a->sender, ==, b->sender);
  g_assert_cmpstr (a->text, ==, b->text);

  g_assert_cmpmem (a->key, sizeof a->key, b->key, sizeof b->key);
  g_assert_cmpmem (a->proof, sizeof a->proof, b->proof, sizeof b->proof);
  g_assert_cmpmem (a->signature, sizeof a->signature, b->signature, sizeof b->signature);

  g_assert_cmpuint (a->client_msg_id, ==, b->client_msg_id);
  g_assert_cmpuint (a->seq, ==, b->seq);
  g_assert_cmpuint (a->timestamp, ==, b->timestamp);
  g_assert_cmpuint (a->status, ==, b->status);
  g_assert_cmpuint (a->code, ==, b->code);
  g_assert_cmpuint (a->token, ==, b->token);
  g_assert_cmpuint (a->flags, ==, b->flags);
  g_assert_cmpuint (a->after_seq, ==, b->after_seq);
  g_assert_cmpuint (a->before_seq, ==, b->before_seq);
  g_assert_cmpuint (a->limit, ==, b->limit);
  g_assert_cmpuint (a->count, ==, b->count);

  g_assert_cmpuint (a->users != NULL ? a->users->len : 0, ==, b->users != NULL ? b->users->len : 0);
  for (guint i = 0; a->users != NULL && i < a->users->len; i++)
    {
      const QuipuUserInfo *ua = g_ptr_array_index (a->users, i);
      const QuipuUserInfo *ub = g_ptr_array_index (b->users, i);

      g_assert_cmpstr (ua->name, ==, ub->name);
      g_assert_cmpint (ua->has_key, ==, ub->has_key);
      if (ua->has_key)
        g_assert_cmpmem (ua->key, sizeof ua->key, ub->key, sizeof ub->key);
    }
}

/* ---- varints ---- */

static void
test_varint_boundaries (void)
{
  static const struct {
    guint64 value;
    gsize   size;
  } cases[] = {
    { 0, 1 }, { 63, 1 }, { 64, 2 }, { 16383, 2 }, { 16384, 4 },
    { (G_GUINT64_CONSTANT (1) << 30) - 1, 4 }, { G_GUINT64_CONSTANT (1) << 30, 8 },
    { QUIPU_VARINT_MAX, 8 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) out = g_byte_array_new ();
      guint64 value = G_MAXUINT64;

      g_assert_cmpuint (quipu_varint_size (cases[i].value), ==, cases[i].size);
      quipu_varint_append (out, cases[i].value);
      g_assert_cmpuint (out->len, ==, cases[i].size);
      g_assert_cmpuint (quipu_varint_read (out->data, out->len, &value), ==, cases[i].size);
      g_assert_cmpuint (value, ==, cases[i].value);
    }
}

static void
test_varint_rfc_examples (void)
{
  /* RFC 9000 §A.1, including the non-minimal 0x4025. */
  static const struct {
    guint8  bytes[8];
    gsize   len;
    guint64 value;
    gboolean minimal;
  } cases[] = {
    { { 0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c }, 8, G_GUINT64_CONSTANT (151288809941952652), TRUE },
    { { 0x9d, 0x7f, 0x3e, 0x7d }, 4, 494878333, TRUE },
    { { 0x7b, 0xbd }, 2, 15293, TRUE },
    { { 0x25 }, 1, 37, TRUE },
    { { 0x40, 0x25 }, 2, 37, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) out = g_byte_array_new ();
      guint64 value = 0;

      g_assert_cmpuint (quipu_varint_read (cases[i].bytes, cases[i].len, &value), ==, cases[i].len);
      g_assert_cmpuint (value, ==, cases[i].value);

      quipu_varint_append (out, value);
      if (cases[i].minimal)
        g_assert_cmpmem (out->data, out->len, cases[i].bytes, cases[i].len);
      else
        g_assert_cmpuint (out->len, <, cases[i].len);
    }
}

static void
test_varint_truncated (void)
{
  static const guint64 values[] = { 0, 64, 16384, QUIPU_VARINT_MAX };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GByteArray) out = g_byte_array_new ();
      guint64 value = 12345;

      quipu_varint_append (out, values[i]);
      for (gsize len = 0; len < out->len; len++)
        g_assert_cmpuint (quipu_varint_read (out->data, len, &value), ==, 0);
      g_assert_cmpuint (value, ==, 12345);
    }
}

static void
test_varint_max (void)
{
  static const guint8 all_ones[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint64 value = 0;

  quipu_varint_append (out, QUIPU_VARINT_MAX);
  g_assert_cmpmem (out->data, out->len, all_ones, sizeof all_ones);
  g_assert_cmpuint (quipu_varint_read (all_ones, sizeof all_ones, &value), ==, 8);
  g_assert_cmpuint (value, ==, QUIPU_VARINT_MAX);
  g_assert_cmpuint (quipu_varint_size (QUIPU_VARINT_MAX + 1), ==, 0);
}

/* ---- frame API ---- */

static void
test_type_names (void)
{
  g_assert_cmpstr (quipu_frame_type_to_string (QUIPU_FRAME_CONNECT), ==, "CONNECT");
  g_assert_cmpstr (quipu_frame_type_to_string (QUIPU_FRAME_HISTORY), ==, "HISTORY");
  g_assert_cmpstr (quipu_frame_type_to_string (QUIPU_FRAME_DISCONNECT), ==, "DISCONNECT");
  g_assert_null (quipu_frame_type_to_string (0));
  g_assert_null (quipu_frame_type_to_string (0x0d));
  g_assert_null (quipu_frame_type_to_string (0x21));
}

static void
test_setters (void)
{
  g_autoptr(QuipuFrame) f = quipu_frame_new (QUIPU_FRAME_CONNECT);

  g_assert_cmphex (f->present, ==, 0);
  g_assert_null (f->versions);
  g_assert_null (f->features);
  g_assert_null (f->users);

  quipu_frame_add_uint (f, QUIPU_FIELD_VERSION, 3);
  quipu_frame_add_uint (f, QUIPU_FIELD_VERSION, 4);
  g_assert_cmpuint (f->versions->len, ==, 2);
  quipu_frame_set_uint (f, QUIPU_FIELD_VERSION, 1);
  g_assert_cmpuint (f->versions->len, ==, 1);
  g_assert_cmpuint (g_array_index (f->versions, guint64, 0), ==, 1);

  quipu_frame_set_string (f, QUIPU_FIELD_USERNAME, "alice");
  quipu_frame_set_string (f, QUIPU_FIELD_USERNAME, "bob");
  g_assert_cmpstr (f->username, ==, "bob");

  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 5);
  g_assert_cmpuint (f->seq, ==, 5);
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, quipu_test_key_a, sizeof quipu_test_key_a);
  g_assert_cmpmem (f->key, sizeof f->key, quipu_test_key_a, sizeof quipu_test_key_a);

  g_assert_true (quipu_frame_has (f, QUIPU_FIELD_VERSION));
  g_assert_true (quipu_frame_has (f, QUIPU_FIELD_USERNAME));
  g_assert_true (quipu_frame_has (f, QUIPU_FIELD_SEQ));
  g_assert_true (quipu_frame_has (f, QUIPU_FIELD_KEY));
  g_assert_false (quipu_frame_has (f, QUIPU_FIELD_PROOF));
  g_assert_false (quipu_frame_has (f, QUIPU_FIELD_FEATURE));
}

static void
test_setters_wrong_kind (void)
{
  g_autoptr(QuipuFrame) f = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  g_test_expect_message ("quipu-wire", G_LOG_LEVEL_CRITICAL, "*len == spec->size*");
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, quipu_test_key_a, QUIPU_KEY_SIZE - 1);
  g_test_assert_expected_messages ();

  g_test_expect_message ("quipu-wire", G_LOG_LEVEL_CRITICAL, "*KIND_VARINT*");
  quipu_frame_set_uint (f, QUIPU_FIELD_BODY, 1);
  g_test_assert_expected_messages ();

  g_test_expect_message ("quipu-wire", G_LOG_LEVEL_CRITICAL, "*field_is_repeated*");
  quipu_frame_set_string (f, QUIPU_FIELD_RECIPIENT, "bob");
  g_test_assert_expected_messages ();

  g_assert_cmphex (f->present, ==, 0);
  g_assert_null (f->recipients);
}

/* ---- round trips ---- */

static void
test_roundtrip (gconstpointer data)
{
  QuipuTestFrameMaker make = (QuipuTestFrameMaker) data;
  g_autoptr(QuipuFrame) original = make ();
  g_autoptr(GBytes) first = encode_ok (original);
  g_autoptr(QuipuFrame) decoded = decode_ok (first);
  g_autoptr(GBytes) second = encode_ok (decoded);

  assert_frames_equal (original, decoded);
  g_assert_true (g_bytes_equal (first, second));
}

static void
test_roundtrip_bounds (void)
{
  g_autoptr(QuipuFrame) f = quipu_test_frame_message_direct ();
  g_autofree char *body = g_strnfill (QUIPU_MAX_BODY_SIZE, 'x');
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) decoded = NULL;

  g_clear_pointer (&f->recipients, g_ptr_array_unref);
  for (guint i = 0; i < QUIPU_MAX_RECIPIENTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("user%u", i);

      quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, name);
    }
  quipu_frame_set_string (f, QUIPU_FIELD_BODY, body);
  quipu_frame_set_string (f, QUIPU_FIELD_SENDER, "ééééééééééééééééééééééééééééééé✓");

  bytes = encode_ok (f);
  decoded = decode_ok (bytes);
  assert_frames_equal (f, decoded);
}

/* ---- header-level errors and streaming ---- */

static void
assert_need_more (const guint8 *data,
                  gsize         len)
{
  g_autoptr(GError) error = NULL;
  QuipuFrame *frame = NULL;
  gsize consumed = 99;

  g_assert_cmpint (quipu_frame_decode (data, len, &consumed, &frame, &error), ==,
                   QUIPU_DECODE_NEED_MORE);
  g_assert_no_error (error);
  g_assert_null (frame);
  g_assert_cmpuint (consumed, ==, 0);
}

static void
test_header_truncated (void)
{
  static const guint8 type_cut[] = { 0x40 };
  static const guint8 length_cut[] = { 0x03, 0x80, 0x00 };
  static const guint8 payload_cut[] = { 0x05, 0x03, 0x13, 0x01 };

  assert_need_more (NULL, 0);
  assert_need_more (type_cut, sizeof type_cut);
  assert_need_more (length_cut, sizeof length_cut);
  assert_need_more (payload_cut, sizeof payload_cut);
}

static void
test_every_prefix_needs_more (void)
{
  for (gsize i = 0; i < quipu_test_n_frames; i++)
    {
      g_autoptr(QuipuFrame) f = quipu_test_frames[i].make ();
      g_autoptr(GBytes) bytes = encode_ok (f);
      gsize len;
      const guint8 *data = g_bytes_get_data (bytes, &len);

      for (gsize prefix = 0; prefix < len; prefix++)
        assert_need_more (data, prefix);
    }
}

static void
test_stream (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  gsize pos = 0;
  guint n_frames = 0;

  for (gsize i = 0; i < quipu_test_n_frames; i++)
    {
      g_autoptr(QuipuFrame) f = quipu_test_frames[i].make ();
      g_autoptr(GError) error = NULL;

      g_assert_true (quipu_frame_encode_to (f, stream, &error));
      g_assert_no_error (error);
    }

  while (pos < stream->len)
    {
      g_autoptr(QuipuFrame) expected = quipu_test_frames[n_frames].make ();
      g_autoptr(QuipuFrame) frame = NULL;
      g_autoptr(GError) error = NULL;
      gsize consumed = 0;

      g_assert_cmpint (quipu_frame_decode (stream->data + pos, stream->len - pos,
                                           &consumed, &frame, &error), ==, QUIPU_DECODE_OK);
      g_assert_no_error (error);
      assert_frames_equal (expected, frame);
      pos += consumed;
      n_frames++;
    }
  g_assert_cmpuint (pos, ==, stream->len);
  g_assert_cmpuint (n_frames, ==, quipu_test_n_frames);
}

static void
test_frame_size_limit (void)
{
  static const guint8 over_header[] = { 0x05, 0x80, 0x00, 0xff, 0xfc };
  /* PING: 1-byte type, 4-byte length, then unknown field 50 with a 1-byte
   * id and 4-byte length: the padding makes the frame exactly the limit. */
  gsize padding = QUIPU_MAX_FRAME_SIZE - 1 - 4 - 1 - 4;
  g_autofree guint8 *pad = g_malloc0 (padding);
  GByteArray *payload = g_byte_array_new ();
  g_autoptr(GBytes) at_limit = NULL;
  g_autoptr(GBytes) over_limit = g_bytes_new_static (over_header, sizeof over_header);
  g_autoptr(QuipuFrame) frame = NULL;

  raw_tlv (payload, 50, pad, padding);
  at_limit = raw_frame (QUIPU_FRAME_PING, payload);
  g_assert_cmpuint (g_bytes_get_size (at_limit), ==, QUIPU_MAX_FRAME_SIZE);
  frame = decode_ok (at_limit);
  g_assert_cmpint (frame->type, ==, QUIPU_FRAME_PING);
  g_assert_cmphex (frame->present, ==, 0);

  /* One byte more, announced by a header alone: refused at once. */
  assert_decode_error (over_limit, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                       "frame of 65537 bytes exceeds the limit of 65536 bytes");
}

static void
test_oversize_header (void)
{
  /* MESSAGE announcing a 64 KiB + 1 payload; no payload bytes follow. */
  static const guint8 header[] = { 0x03, 0x80, 0x01, 0x00, 0x01 };
  g_autoptr(GBytes) bytes = g_bytes_new_static (header, sizeof header);

  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                       "frame of 65542 bytes exceeds the limit of 65536 bytes");
}

static void
test_encode_oversize_frame (void)
{
  g_autoptr(QuipuFrame) f = quipu_frame_new (QUIPU_FRAME_PING);
  g_autofree char *feature = g_strnfill (QUIPU_MAX_TEXT_SIZE, 'f');

  for (guint i = 0; i < 64; i++)
    quipu_frame_add_string (f, QUIPU_FIELD_FEATURE, feature);
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                       "frame of 65733 bytes exceeds the limit of 65536 bytes");
}

static void
test_unknown_frame_type (void)
{
  g_autoptr(GBytes) bytes = raw_frame (0x0d, g_byte_array_new ());
  g_autoptr(GBytes) zero = raw_frame (0x00, g_byte_array_new ());

  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL, "unknown frame type 0x0d");
  assert_decode_error (zero, QUIPU_PROTOCOL_ERROR_PROTOCOL, "unknown frame type 0x00");
}

static void
test_extension_frame_skipped (void)
{
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GBytes) extension = NULL;
  g_autoptr(QuipuFrame) ping = quipu_test_frame_ping ();
  g_autoptr(QuipuFrame) frame = NULL;
  g_autoptr(GError) error = NULL;
  gsize ext_len, consumed = 0;

  raw_string (payload, 1, "an extension the decoder cannot know");
  extension = raw_frame (0x21, g_steal_pointer (&payload));
  ext_len = g_bytes_get_size (extension);
  g_byte_array_append (stream, g_bytes_get_data (extension, NULL), ext_len);
  g_assert_true (quipu_frame_encode_to (ping, stream, NULL));

  /* Waits for the whole extension frame before skipping it. */
  assert_need_more (stream->data, ext_len - 1);

  g_assert_cmpint (quipu_frame_decode (stream->data, stream->len, &consumed, &frame, &error), ==,
                   QUIPU_DECODE_SKIPPED);
  g_assert_no_error (error);
  g_assert_null (frame);
  g_assert_cmpuint (consumed, ==, ext_len);

  g_assert_cmpint (quipu_frame_decode (stream->data + consumed, stream->len - consumed,
                                       &consumed, &frame, &error), ==, QUIPU_DECODE_OK);
  g_assert_no_error (error);
  assert_frames_equal (ping, frame);
  g_assert_cmpuint (ext_len + consumed, ==, stream->len);
}

static void
test_unknown_field_skipped (void)
{
  g_autoptr(QuipuFrame) ping = quipu_test_frame_ping ();
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) frame = NULL;

  raw_string (payload, 99, "from the future");
  raw_varint (payload, QUIPU_FIELD_TOKEN, ping->token);
  raw_string (payload, 0, "reserved id");
  bytes = raw_frame (QUIPU_FRAME_PING, g_steal_pointer (&payload));

  frame = decode_ok (bytes);
  assert_frames_equal (ping, frame);
}

/* ---- field-level errors ---- */

/* A frame made by `make`, with field `drop` removed and `extra` appended. */
static GBytes *
frame_with (QuipuTestFrameMaker  make,
            guint64              drop,
            GByteArray          *extra)
{
  g_autoptr(QuipuFrame) f = make ();
  GByteArray *payload = payload_of (f, drop);

  if (extra != NULL)
    {
      g_byte_array_append (payload, extra->data, extra->len);
      g_byte_array_unref (extra);
    }
  return raw_frame (f->type, payload);
}

static GByteArray *
one_string (guint64     id,
            const char *value,
            gsize       len)
{
  GByteArray *extra = g_byte_array_new ();

  raw_tlv (extra, id, value, len);
  return extra;
}

static void
test_payload_truncated_varint (void)
{
  static const guint8 id_cut[] = { 0x40 };
  static const guint8 token_cut[] = { 0x13, 0x01, 0x40 };
  static const guint8 token_short[] = { 0x13, 0x02, 0x05, 0x00 };
  struct {
    const guint8 *payload;
    gsize         len;
    const char   *message;
  } cases[] = {
    { id_cut, sizeof id_cut, "truncated varint in the field header at offset 0 of the frame" },
    { token_cut, sizeof token_cut, "token: truncated varint" },
    { token_short, sizeof token_short, "token: 1-byte varint in a 2-byte field" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GByteArray *payload = g_byte_array_new ();
      g_autoptr(GBytes) bytes = NULL;

      g_byte_array_append (payload, cases[i].payload, cases[i].len);
      bytes = raw_frame (QUIPU_FRAME_PING, payload);
      assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL, cases[i].message);
    }
}

static void
test_field_past_end (void)
{
  static const guint8 past_end[] = { 0x13, 0x05, 0x01 };
  GByteArray *payload = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;

  g_byte_array_append (payload, past_end, sizeof past_end);
  bytes = raw_frame (QUIPU_FRAME_PING, payload);
  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                       "field 19 length 5 runs past the end of the frame");
}

static void
test_body_bounds (void)
{
  g_autofree char *long_body = g_strnfill (QUIPU_MAX_BODY_SIZE + 1, 'x');
  g_autoptr(GBytes) too_long = frame_with (quipu_test_frame_message_room, QUIPU_FIELD_BODY,
                                           one_string (QUIPU_FIELD_BODY, long_body, strlen (long_body)));
  g_autoptr(GBytes) empty = frame_with (quipu_test_frame_message_room, QUIPU_FIELD_BODY,
                                        one_string (QUIPU_FIELD_BODY, "", 0));

  assert_decode_error (too_long, QUIPU_PROTOCOL_ERROR_TOO_LARGE,
                       "message body is longer than 16384 bytes");
  assert_decode_error (empty, QUIPU_PROTOCOL_ERROR_PROTOCOL, "message body is empty");
}

static void
test_text_bounds (void)
{
  g_autofree char *text = g_strnfill (QUIPU_MAX_TEXT_SIZE + 1, 't');
  g_autoptr(GBytes) long_feature = frame_with (quipu_test_frame_connect, 0,
                                               one_string (QUIPU_FIELD_FEATURE, text, strlen (text)));
  g_autoptr(GBytes) long_text = frame_with (quipu_test_frame_error, QUIPU_FIELD_TEXT,
                                            one_string (QUIPU_FIELD_TEXT, text, strlen (text)));
  g_autoptr(QuipuFrame) at_limit = quipu_test_frame_error ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) decoded = NULL;

  assert_decode_error (long_feature, QUIPU_PROTOCOL_ERROR_TOO_LARGE, "feature is longer than 1024 bytes");
  assert_decode_error (long_text, QUIPU_PROTOCOL_ERROR_TOO_LARGE, "text is longer than 1024 bytes");

  text[QUIPU_MAX_TEXT_SIZE] = '\0';
  quipu_frame_set_string (at_limit, QUIPU_FIELD_TEXT, text);
  bytes = encode_ok (at_limit);
  decoded = decode_ok (bytes);
  g_assert_cmpuint (strlen (decoded->text), ==, QUIPU_MAX_TEXT_SIZE);
}

static void
test_bad_strings (void)
{
  static const struct {
    guint64     id;
    const char *value;
    gsize       len;
    int         code;
    const char *message;
  } cases[] = {
    { QUIPU_FIELD_BODY, "caf\xc3", 4, QUIPU_PROTOCOL_ERROR_PROTOCOL, "message body is not valid UTF-8" },
    { QUIPU_FIELD_BODY, "a\0b", 3, QUIPU_PROTOCOL_ERROR_PROTOCOL, "message body contains a NUL byte" },
    { QUIPU_FIELD_TEXT, "\0", 1, QUIPU_PROTOCOL_ERROR_PROTOCOL, "text contains a NUL byte" },
    { QUIPU_FIELD_CLIENT, "\xed\xa0\x80", 3, QUIPU_PROTOCOL_ERROR_PROTOCOL, "client is not valid UTF-8" },
    { QUIPU_FIELD_SENDER, "\xc3\x28", 2, QUIPU_PROTOCOL_ERROR_BAD_NAME, "sender: name is not valid UTF-8" },
    { QUIPU_FIELD_SENDER, "", 0, QUIPU_PROTOCOL_ERROR_BAD_NAME, "sender: name is empty" },
    { QUIPU_FIELD_SENDER, "abcdefghijklmnopqrstuvwxyzABCDEFG", 33, QUIPU_PROTOCOL_ERROR_BAD_NAME,
      "sender: name is longer than 32 characters" },
    { QUIPU_FIELD_SENDER, "cafe\xcc\x81", 6, QUIPU_PROTOCOL_ERROR_BAD_NAME,
      "sender: name is not in Unicode normal form C" },
    { QUIPU_FIELD_ROOM_ENTRY, "a b", 3, QUIPU_PROTOCOL_ERROR_BAD_NAME,
      "room_entry: name contains a space, control or invisible character (U+0020)" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = frame_with (quipu_test_frame_message_room, cases[i].id,
                                            one_string (cases[i].id, cases[i].value, cases[i].len));

      assert_decode_error (bytes, cases[i].code, cases[i].message);
    }
}

static void
test_bad_usernames (void)
{
  static const struct {
    const char *value;
    const char *message;
  } cases[] = {
    { "", "username: name is empty" },
    { "abcdefghijklmnopqrstuvwxyzABCDEFG", "username: name is longer than 32 characters" },
    { "\xff", "username: name is not valid UTF-8" },
    { "Ame\xcc\x81lie", "username: name is not in Unicode normal form C" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = frame_with (quipu_test_frame_connect, QUIPU_FIELD_USERNAME,
                                            one_string (QUIPU_FIELD_USERNAME, cases[i].value,
                                                        strlen (cases[i].value)));
      g_autoptr(QuipuFrame) f = quipu_test_frame_connect ();

      assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_BAD_NAME, cases[i].message);
      quipu_frame_set_string (f, QUIPU_FIELD_USERNAME, cases[i].value);
      assert_encode_error (f, QUIPU_PROTOCOL_ERROR_BAD_NAME, cases[i].message);
    }
}

static void
test_too_many_recipients (void)
{
  GByteArray *extra = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) f = quipu_test_frame_message_direct ();

  for (guint i = 0; i <= QUIPU_MAX_RECIPIENTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("user%u", i);

      raw_string (extra, QUIPU_FIELD_RECIPIENT, name);
      if (i >= f->recipients->len)
        quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, name);
    }
  bytes = frame_with (quipu_test_frame_message_direct, QUIPU_FIELD_RECIPIENT, extra);
  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_TOO_LARGE, "more than 64 recipients");

  g_assert_cmpuint (f->recipients->len, ==, QUIPU_MAX_RECIPIENTS + 1);
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_TOO_LARGE, "more than 64 recipients");
}

static void
test_fixed_sizes (void)
{
  guint8 zeros[QUIPU_SIGNATURE_SIZE + 1] = { 0 };
  g_autoptr(GBytes) short_key = frame_with (quipu_test_frame_connect, QUIPU_FIELD_KEY,
                                            one_string (QUIPU_FIELD_KEY, (char *) zeros, 31));
  g_autoptr(GBytes) long_proof = frame_with (quipu_test_frame_connect, QUIPU_FIELD_PROOF,
                                             one_string (QUIPU_FIELD_PROOF, (char *) zeros, 65));
  g_autoptr(GBytes) short_sig = frame_with (quipu_test_frame_message_room, QUIPU_FIELD_SIGNATURE,
                                            one_string (QUIPU_FIELD_SIGNATURE, (char *) zeros, 63));

  assert_decode_error (short_key, QUIPU_PROTOCOL_ERROR_BAD_KEY, "public key must be 32 bytes, got 31");
  assert_decode_error (long_proof, QUIPU_PROTOCOL_ERROR_PROTOCOL, "proof must be 64 bytes, got 65");
  assert_decode_error (short_sig, QUIPU_PROTOCOL_ERROR_PROTOCOL, "signature must be 64 bytes, got 63");
}

static void
test_duplicate_field (void)
{
  GByteArray *extra = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) two_versions = NULL;
  g_autoptr(QuipuFrame) connect = NULL;

  raw_varint (extra, QUIPU_FIELD_TIMESTAMP, 5);
  bytes = frame_with (quipu_test_frame_message_room, 0, extra);
  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL, "duplicate field 13 (timestamp)");

  /* Repeated fields may repeat. */
  extra = g_byte_array_new ();
  raw_varint (extra, QUIPU_FIELD_VERSION, 7);
  two_versions = frame_with (quipu_test_frame_connect, 0, extra);
  connect = decode_ok (two_versions);
  g_assert_cmpuint (connect->versions->len, ==, 3);
  g_assert_cmpuint (g_array_index (connect->versions, guint64, 2), ==, 7);
}

static void
test_missing_required (void)
{
  static const struct {
    QuipuTestFrameMaker make;
    guint64     drop;
    const char *message;
  } cases[] = {
    { quipu_test_frame_connect, QUIPU_FIELD_VERSION, "CONNECT frame lacks field version" },
    { quipu_test_frame_connect, QUIPU_FIELD_USERNAME, "CONNECT frame lacks field username" },
    { quipu_test_frame_connect, QUIPU_FIELD_KEY, "CONNECT frame lacks field key" },
    { quipu_test_frame_connect, QUIPU_FIELD_PROOF, "CONNECT frame lacks field proof" },
    { quipu_test_frame_welcome, QUIPU_FIELD_VERSION, "WELCOME frame lacks field version" },
    { quipu_test_frame_welcome, QUIPU_FIELD_USERNAME, "WELCOME frame lacks field username" },
    { quipu_test_frame_welcome, QUIPU_FIELD_USER_ID, "WELCOME frame lacks field user_id" },
    { quipu_test_frame_message_room, QUIPU_FIELD_CLIENT_MSG_ID, "MESSAGE frame lacks field client_msg_id" },
    { quipu_test_frame_message_room, QUIPU_FIELD_BODY, "MESSAGE frame lacks field body" },
    { quipu_test_frame_message_room, QUIPU_FIELD_TIMESTAMP, "MESSAGE frame lacks field timestamp" },
    { quipu_test_frame_message_room, QUIPU_FIELD_SIGNATURE, "MESSAGE frame lacks field signature" },
    { quipu_test_frame_message_room, QUIPU_FIELD_ROOM, "MESSAGE frame lacks field room or recipient" },
    { quipu_test_frame_message_direct, QUIPU_FIELD_RECIPIENT, "MESSAGE frame lacks field room or recipient" },
    { quipu_test_frame_ack, QUIPU_FIELD_CLIENT_MSG_ID, "ACK frame lacks field client_msg_id" },
    { quipu_test_frame_ack, QUIPU_FIELD_SEQ, "ACK frame lacks field seq" },
    { quipu_test_frame_presence, QUIPU_FIELD_USER, "PRESENCE frame lacks field user" },
    { quipu_test_frame_presence, QUIPU_FIELD_STATUS, "PRESENCE frame lacks field status" },
    { quipu_test_frame_join, QUIPU_FIELD_ROOM, "JOIN frame lacks field room" },
    { quipu_test_frame_leave, QUIPU_FIELD_ROOM, "LEAVE frame lacks field room" },
    { quipu_test_frame_error, QUIPU_FIELD_CODE, "ERROR frame lacks field code" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = frame_with (cases[i].make, cases[i].drop, NULL);
      g_autoptr(QuipuFrame) f = cases[i].make ();

      assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL, cases[i].message);
      f->present &= ~(G_GUINT64_CONSTANT (1) << cases[i].drop);
      assert_encode_error (f, QUIPU_PROTOCOL_ERROR_PROTOCOL, cases[i].message);
    }
}

static void
test_optional_only_frames (void)
{
  static const QuipuFrameType types[] = {
    QUIPU_FRAME_PING, QUIPU_FRAME_PONG, QUIPU_FRAME_HISTORY, QUIPU_FRAME_DISCONNECT,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(QuipuFrame) f = quipu_frame_new (types[i]);
      g_autoptr(GBytes) bytes = encode_ok (f);
      g_autoptr(QuipuFrame) decoded = decode_ok (bytes);

      g_assert_cmpuint (g_bytes_get_size (bytes), ==, 2);
      g_assert_cmpint (decoded->type, ==, types[i]);
      g_assert_cmphex (decoded->present, ==, 0);
    }
}

static void
test_exactly_one (void)
{
  GByteArray *extra = g_byte_array_new ();
  g_autoptr(GBytes) welcome = NULL;
  g_autoptr(GBytes) presence = NULL;
  g_autoptr(QuipuFrame) f = quipu_test_frame_presence ();

  raw_varint (extra, QUIPU_FIELD_VERSION, 2);
  welcome = frame_with (quipu_test_frame_welcome, 0, extra);
  assert_decode_error (welcome, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                       "WELCOME frame must carry exactly one version, got 2");

  quipu_frame_add_user (f, "carol", NULL);
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                       "PRESENCE frame must carry exactly one user, got 2");
  g_ptr_array_set_size (f->users, 1);
  presence = encode_ok (f);
  g_clear_pointer (&f, quipu_frame_free);
  f = decode_ok (presence);
  g_assert_cmpuint (f->users->len, ==, 1);
}

static void
test_room_and_recipients (void)
{
  g_autoptr(GBytes) bytes = frame_with (quipu_test_frame_message_room, 0,
                                        one_string (QUIPU_FIELD_RECIPIENT, "bob", 3));
  g_autoptr(QuipuFrame) f = quipu_test_frame_message_room ();

  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                       "MESSAGE frame has both a room and recipients");
  quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "bob");
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                       "MESSAGE frame has both a room and recipients");
}

static void
test_presence_status (void)
{
  GByteArray *extra = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) f = quipu_test_frame_presence ();

  raw_varint (extra, QUIPU_FIELD_STATUS, 2);
  bytes = frame_with (quipu_test_frame_presence, QUIPU_FIELD_STATUS, extra);
  assert_decode_error (bytes, QUIPU_PROTOCOL_ERROR_PROTOCOL, "presence status 2 is not 0 or 1");

  quipu_frame_set_uint (f, QUIPU_FIELD_STATUS, 2);
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_PROTOCOL, "presence status 2 is not 0 or 1");
}

static GByteArray *
user_field (GByteArray *inner)
{
  GByteArray *extra = g_byte_array_new ();

  raw_tlv (extra, QUIPU_FIELD_USER, inner->data, inner->len);
  g_byte_array_unref (inner);
  return extra;
}

static void
test_nested_user (void)
{
  static const struct {
    const char *what;
    int         code;
    const char *message;
  } cases[] = {
    { "nested", QUIPU_PROTOCOL_ERROR_PROTOCOL, "user: user nested inside a user" },
    { "no-name", QUIPU_PROTOCOL_ERROR_PROTOCOL, "user: lacks field username" },
    { "short-key", QUIPU_PROTOCOL_ERROR_BAD_KEY, "user: public key must be 32 bytes, got 31" },
    { "two-names", QUIPU_PROTOCOL_ERROR_PROTOCOL, "user: duplicate field 3 (username)" },
    { "bad-name", QUIPU_PROTOCOL_ERROR_BAD_NAME, "user: username: name contains '@', which is reserved" },
    { "past-end", QUIPU_PROTOCOL_ERROR_PROTOCOL, "user: field 3 length 9 runs past the end of the user" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GByteArray *inner = g_byte_array_new ();
      g_autoptr(GBytes) bytes = NULL;

      if (g_str_equal (cases[i].what, "nested"))
        {
          GByteArray *innermost = g_byte_array_new ();

          raw_string (innermost, QUIPU_FIELD_USERNAME, "carol");
          raw_string (inner, QUIPU_FIELD_USERNAME, "bob");
          raw_tlv (inner, QUIPU_FIELD_USER, innermost->data, innermost->len);
          g_byte_array_unref (innermost);
        }
      else if (g_str_equal (cases[i].what, "no-name"))
        raw_tlv (inner, QUIPU_FIELD_KEY, quipu_test_key_b, sizeof quipu_test_key_b);
      else if (g_str_equal (cases[i].what, "short-key"))
        {
          raw_string (inner, QUIPU_FIELD_USERNAME, "bob");
          raw_tlv (inner, QUIPU_FIELD_KEY, quipu_test_key_b, sizeof quipu_test_key_b - 1);
        }
      else if (g_str_equal (cases[i].what, "two-names"))
        {
          raw_string (inner, QUIPU_FIELD_USERNAME, "bob");
          raw_string (inner, QUIPU_FIELD_USERNAME, "bob");
        }
      else if (g_str_equal (cases[i].what, "bad-name"))
        raw_string (inner, QUIPU_FIELD_USERNAME, "bob@home");
      else
        g_byte_array_append (inner, (const guint8 *) "\x03\x09" "bob", 5);

      bytes = frame_with (quipu_test_frame_presence, QUIPU_FIELD_USER, user_field (inner));
      assert_decode_error (bytes, cases[i].code, cases[i].message);
    }
}

static void
test_nested_user_unknown_field (void)
{
  GByteArray *inner = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(QuipuFrame) f = NULL;
  const QuipuUserInfo *user;

  raw_string (inner, 77, "later");
  raw_string (inner, QUIPU_FIELD_BODY, "not a user field");
  raw_string (inner, QUIPU_FIELD_USERNAME, "bob");
  bytes = frame_with (quipu_test_frame_presence, QUIPU_FIELD_USER, user_field (inner));
  f = decode_ok (bytes);
  user = g_ptr_array_index (f->users, 0);
  g_assert_cmpstr (user->name, ==, "bob");
  g_assert_false (user->has_key);
  g_assert_false (quipu_frame_has (f, QUIPU_FIELD_BODY));
}

static void
test_encode_refuses_long_body (void)
{
  g_autoptr(QuipuFrame) f = quipu_test_frame_message_room ();
  g_autofree char *body = g_strnfill (QUIPU_MAX_BODY_SIZE + 1, 'x');

  quipu_frame_set_string (f, QUIPU_FIELD_BODY, body);
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_TOO_LARGE, "message body is longer than 16384 bytes");
}

static void
test_encode_refuses_huge_varint (void)
{
  g_autoptr(QuipuFrame) f = quipu_test_frame_ack ();

  /* Written directly: the setter would refuse it. */
  f->seq = QUIPU_VARINT_MAX + 1;
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_PROTOCOL,
                       "seq 4611686018427387904 does not fit in a varint");
}

static void
test_encode_refuses_bad_user (void)
{
  g_autoptr(QuipuFrame) f = quipu_test_frame_presence ();

  g_ptr_array_set_size (f->users, 0);
  quipu_frame_add_user (f, "bob@home", NULL);
  assert_encode_error (f, QUIPU_PROTOCOL_ERROR_BAD_NAME,
                       "user: username: name contains '@', which is reserved");
}

static void
test_encode_refuses_unknown_type (void)
{
  g_autoptr(QuipuFrame) f = quipu_frame_new (0x0d);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = quipu_frame_encode (f, &error);

  g_assert_null (bytes);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, "unknown frame type 0x0d");
}

/* ---- signed byte strings ---- */

static void
test_signing_input_layout (void)
{
  static const guint8 expected[] =
    "quipu/1 message\0"
    "\x05" "alice"
    "\x00"
    "\x02" "\x03" "bob" "\x05" "carol"
    "\x40\x40"
    "\x01"
    "\x02" "hi";
  g_autoptr(QuipuFrame) f = quipu_test_frame_message_direct ();
  g_autoptr(GBytes) input = NULL;

  quipu_frame_set_string (f, QUIPU_FIELD_SENDER, "alice");
  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, 64);
  input = quipu_message_signing_input (f);
  g_assert_cmpmem (g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                   expected, sizeof expected - 1);
}

static void
test_signing_input_covers_fields (void)
{
  g_autoptr(QuipuFrame) base = quipu_test_frame_message_direct ();
  g_autoptr(GBytes) reference = NULL;
  g_autoptr(QuipuFrame) room_frame = quipu_test_frame_message_room ();
  g_autoptr(GBytes) room_a = quipu_message_signing_input (room_frame);
  g_autoptr(GBytes) room_b = NULL;

  quipu_frame_set_string (base, QUIPU_FIELD_SENDER, "alice");
  reference = quipu_message_signing_input (base);

  for (guint change = 0; change < 6; change++)
    {
      g_autoptr(QuipuFrame) f = quipu_test_frame_message_direct ();
      g_autoptr(GBytes) changed = NULL;

      quipu_frame_set_string (f, QUIPU_FIELD_SENDER, change == 0 ? "alicf" : "alice");
      switch (change)
        {
        case 1: quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, 12346); break;
        case 2: quipu_frame_set_uint (f, QUIPU_FIELD_TIMESTAMP, 2); break;
        case 3: quipu_frame_set_string (f, QUIPU_FIELD_BODY, "hI"); break;
        case 4: quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "dave"); break;
        case 5:
          /* Same recipients, other order. */
          g_ptr_array_remove_index (f->recipients, 0);
          quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "bob");
          break;
        default: break;
        }
      changed = quipu_message_signing_input (f);
      g_assert_false (g_bytes_equal (reference, changed));
    }

  quipu_frame_set_string (room_frame, QUIPU_FIELD_ROOM, "lobbz");
  room_b = quipu_message_signing_input (room_frame);
  g_assert_false (g_bytes_equal (room_a, room_b));
}

static void
test_signing_input_ignores_relay_fields (void)
{
  g_autoptr(QuipuFrame) f = quipu_test_frame_message_room ();
  g_autoptr(GBytes) before = quipu_message_signing_input (f);
  g_autoptr(GBytes) after = NULL;

  /* The server adds these when relaying; the signature must survive that. */
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 8);
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, quipu_test_key_b, sizeof quipu_test_key_b);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, 0);
  after = quipu_message_signing_input (f);
  g_assert_true (g_bytes_equal (before, after));
}

static void
test_login_proof_input (void)
{
  static const guint8 exporter[3] = { 0xe1, 0xe2, 0xe3 };
  g_autoptr(GByteArray) expected = g_byte_array_new ();
  g_autoptr(GBytes) input = quipu_login_proof_input (exporter, sizeof exporter, "alice", quipu_test_key_a);
  g_autoptr(GBytes) other_key = quipu_login_proof_input (exporter, sizeof exporter, "alice", quipu_test_key_b);

  g_byte_array_append (expected, (const guint8 *) "quipu/1 login", 14);
  g_byte_array_append (expected, (const guint8 *) "\x03", 1);
  g_byte_array_append (expected, exporter, sizeof exporter);
  g_byte_array_append (expected, (const guint8 *) "\x05" "alice", 6);
  g_byte_array_append (expected, quipu_test_key_a, sizeof quipu_test_key_a);

  g_assert_cmpmem (g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                   expected->data, expected->len);
  g_assert_false (g_bytes_equal (input, other_key));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  quipu_test_frames_init ();

  g_test_add_func ("/quipu/wire/varint/boundaries", test_varint_boundaries);
  g_test_add_func ("/quipu/wire/varint/rfc9000-examples", test_varint_rfc_examples);
  g_test_add_func ("/quipu/wire/varint/truncated", test_varint_truncated);
  g_test_add_func ("/quipu/wire/varint/max", test_varint_max);

  g_test_add_func ("/quipu/wire/frame/type-names", test_type_names);
  g_test_add_func ("/quipu/wire/frame/setters", test_setters);
  g_test_add_func ("/quipu/wire/frame/setters-wrong-kind", test_setters_wrong_kind);

  for (gsize i = 0; i < quipu_test_n_frames; i++)
    {
      g_autofree char *path = g_strdup_printf ("/quipu/wire/roundtrip/%s", quipu_test_frames[i].name);

      g_test_add_data_func (path, (gconstpointer) quipu_test_frames[i].make, test_roundtrip);
    }
  g_test_add_func ("/quipu/wire/roundtrip/bounds", test_roundtrip_bounds);
  g_test_add_func ("/quipu/wire/roundtrip/empty-frames", test_optional_only_frames);

  g_test_add_func ("/quipu/wire/stream/header-truncated", test_header_truncated);
  g_test_add_func ("/quipu/wire/stream/every-prefix", test_every_prefix_needs_more);
  g_test_add_func ("/quipu/wire/stream/concatenated", test_stream);
  g_test_add_func ("/quipu/wire/stream/extension-frame", test_extension_frame_skipped);

  g_test_add_func ("/quipu/wire/decode/frame-size-limit", test_frame_size_limit);
  g_test_add_func ("/quipu/wire/decode/oversize-header", test_oversize_header);
  g_test_add_func ("/quipu/wire/decode/unknown-type", test_unknown_frame_type);
  g_test_add_func ("/quipu/wire/decode/unknown-field", test_unknown_field_skipped);
  g_test_add_func ("/quipu/wire/decode/truncated-varint", test_payload_truncated_varint);
  g_test_add_func ("/quipu/wire/decode/field-past-end", test_field_past_end);
  g_test_add_func ("/quipu/wire/decode/body-bounds", test_body_bounds);
  g_test_add_func ("/quipu/wire/decode/text-bounds", test_text_bounds);
  g_test_add_func ("/quipu/wire/decode/bad-strings", test_bad_strings);
  g_test_add_func ("/quipu/wire/decode/bad-usernames", test_bad_usernames);
  g_test_add_func ("/quipu/wire/decode/too-many-recipients", test_too_many_recipients);
  g_test_add_func ("/quipu/wire/decode/fixed-sizes", test_fixed_sizes);
  g_test_add_func ("/quipu/wire/decode/duplicate-field", test_duplicate_field);
  g_test_add_func ("/quipu/wire/decode/missing-required", test_missing_required);
  g_test_add_func ("/quipu/wire/decode/exactly-one", test_exactly_one);
  g_test_add_func ("/quipu/wire/decode/room-and-recipients", test_room_and_recipients);
  g_test_add_func ("/quipu/wire/decode/presence-status", test_presence_status);
  g_test_add_func ("/quipu/wire/decode/nested-user", test_nested_user);
  g_test_add_func ("/quipu/wire/decode/nested-user-unknown-field", test_nested_user_unknown_field);

  g_test_add_func ("/quipu/wire/encode/refuses-long-body", test_encode_refuses_long_body);
  g_test_add_func ("/quipu/wire/encode/refuses-huge-varint", test_encode_refuses_huge_varint);
  g_test_add_func ("/quipu/wire/encode/oversize-frame", test_encode_oversize_frame);
  g_test_add_func ("/quipu/wire/encode/refuses-bad-user", test_encode_refuses_bad_user);
  g_test_add_func ("/quipu/wire/encode/refuses-unknown-type", test_encode_refuses_unknown_type);

  g_test_add_func ("/quipu/wire/signing/message-layout", test_signing_input_layout);
  g_test_add_func ("/quipu/wire/signing/message-covers-fields", test_signing_input_covers_fields);
  g_test_add_func ("/quipu/wire/signing/message-ignores-relay-fields", test_signing_input_ignores_relay_fields);
  g_test_add_func ("/quipu/wire/signing/login-proof", test_login_proof_input);

  return g_test_run ();
}
