#include "config.h"

#include "quipu-test-frames.h"

guint8 quipu_test_key_a[QUIPU_KEY_SIZE];
guint8 quipu_test_key_b[QUIPU_KEY_SIZE];
guint8 quipu_test_proof[QUIPU_SIGNATURE_SIZE];
guint8 quipu_test_signature[QUIPU_SIGNATURE_SIZE];

static void
fill_pattern (guint8 *buf,
              gsize   len,
              guint8  seed)
{
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) (seed + i * 7);
}

void
quipu_test_frames_init (void)
{
  fill_pattern (quipu_test_key_a, sizeof quipu_test_key_a, 0x11);
  fill_pattern (quipu_test_key_b, sizeof quipu_test_key_b, 0x22);
  fill_pattern (quipu_test_proof, sizeof quipu_test_proof, 0x33);
  fill_pattern (quipu_test_signature, sizeof quipu_test_signature, 0x44);
}

QuipuFrame *
quipu_test_frame_connect (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_CONNECT);

  quipu_frame_add_uint (f, QUIPU_FIELD_VERSION, 1);
  quipu_frame_add_uint (f, QUIPU_FIELD_VERSION, 2);
  quipu_frame_add_string (f, QUIPU_FIELD_FEATURE, "typing");
  quipu_frame_add_string (f, QUIPU_FIELD_FEATURE, "reactions");
  quipu_frame_set_string (f, QUIPU_FIELD_USERNAME, "alice");
  quipu_frame_set_string (f, QUIPU_FIELD_CLIENT, "quipu-test 0.1");
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, quipu_test_key_a, sizeof quipu_test_key_a);
  quipu_frame_set_bytes (f, QUIPU_FIELD_PROOF, quipu_test_proof, sizeof quipu_test_proof);
  quipu_frame_set_uint (f, QUIPU_FIELD_AFTER_SEQ, 41);
  return f;
}

QuipuFrame *
quipu_test_frame_welcome (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_WELCOME);

  quipu_frame_set_uint (f, QUIPU_FIELD_VERSION, 1);
  quipu_frame_add_string (f, QUIPU_FIELD_FEATURE, "typing");
  quipu_frame_set_string (f, QUIPU_FIELD_USERNAME, "alice");
  quipu_frame_set_string (f, QUIPU_FIELD_USER_ID, "mfrggzdfmztwq2lk");
  quipu_frame_add_string (f, QUIPU_FIELD_ROOM_ENTRY, "lobby");
  quipu_frame_add_string (f, QUIPU_FIELD_ROOM_ENTRY, "Café");
  return f;
}

QuipuFrame *
quipu_test_frame_message_room (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_set_string (f, QUIPU_FIELD_SENDER, "alice");
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, quipu_test_key_a, sizeof quipu_test_key_a);
  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, QUIPU_VARINT_MAX);
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 7);
  quipu_frame_set_string (f, QUIPU_FIELD_BODY, "héllo wörld ✓");
  quipu_frame_set_uint (f, QUIPU_FIELD_TIMESTAMP, G_GUINT64_CONSTANT (1764000000000));
  quipu_frame_set_bytes (f, QUIPU_FIELD_SIGNATURE, quipu_test_signature, sizeof quipu_test_signature);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, QUIPU_FLAG_HISTORY);
  return f;
}

QuipuFrame *
quipu_test_frame_message_direct (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "bob");
  quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "carol");
  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, 12345);
  quipu_frame_set_string (f, QUIPU_FIELD_BODY, "hi");
  quipu_frame_set_uint (f, QUIPU_FIELD_TIMESTAMP, 1);
  quipu_frame_set_bytes (f, QUIPU_FIELD_SIGNATURE, quipu_test_signature, sizeof quipu_test_signature);
  return f;
}

QuipuFrame *
quipu_test_frame_ack (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_ACK);

  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, 12345);
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 16384);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, QUIPU_FLAG_DUPLICATE | QUIPU_FLAG_INBOX);
  return f;
}

QuipuFrame *
quipu_test_frame_ping (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_PING);

  quipu_frame_set_uint (f, QUIPU_FIELD_TOKEN, 0xdeadbeef);
  return f;
}

QuipuFrame *
quipu_test_frame_pong (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_PONG);

  quipu_frame_set_uint (f, QUIPU_FIELD_TOKEN, 0xdeadbeef);
  return f;
}

QuipuFrame *
quipu_test_frame_presence (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_PRESENCE);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_add_user (f, "bob", quipu_test_key_b);
  quipu_frame_set_uint (f, QUIPU_FIELD_STATUS, QUIPU_PRESENCE_ONLINE);
  return f;
}

QuipuFrame *
quipu_test_frame_join (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_JOIN);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 99);
  quipu_frame_set_uint (f, QUIPU_FIELD_AFTER_SEQ, 50);
  quipu_frame_set_uint (f, QUIPU_FIELD_LIMIT, 200);
  quipu_frame_add_user (f, "alice", quipu_test_key_a);
  quipu_frame_add_user (f, "bob", NULL);
  return f;
}

QuipuFrame *
quipu_test_frame_leave (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_LEAVE);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  return f;
}

QuipuFrame *
quipu_test_frame_history (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_HISTORY);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_set_uint (f, QUIPU_FIELD_BEFORE_SEQ, 1000);
  quipu_frame_set_uint (f, QUIPU_FIELD_LIMIT, 1000);
  quipu_frame_set_uint (f, QUIPU_FIELD_COUNT, 3);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, QUIPU_FLAG_MORE);
  return f;
}

QuipuFrame *
quipu_test_frame_error (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_ERROR);

  quipu_frame_set_uint (f, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_NAME_TAKEN);
  quipu_frame_set_string (f, QUIPU_FIELD_TEXT, "the name “alice” is taken");
  return f;
}

QuipuFrame *
quipu_test_frame_disconnect (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_DISCONNECT);

  quipu_frame_set_uint (f, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN);
  quipu_frame_set_string (f, QUIPU_FIELD_TEXT, "");
  return f;
}

const QuipuTestFrame quipu_test_frames[] = {
  { "connect", quipu_test_frame_connect },
  { "welcome", quipu_test_frame_welcome },
  { "message-room", quipu_test_frame_message_room },
  { "message-direct", quipu_test_frame_message_direct },
  { "ack", quipu_test_frame_ack },
  { "ping", quipu_test_frame_ping },
  { "pong", quipu_test_frame_pong },
  { "presence", quipu_test_frame_presence },
  { "join", quipu_test_frame_join },
  { "leave", quipu_test_frame_leave },
  { "history", quipu_test_frame_history },
  { "error", quipu_test_frame_error },
  { "disconnect", quipu_test_frame_disconnect },
};

const gsize quipu_test_n_frames = G_N_ELEMENTS (quipu_test_frames);
