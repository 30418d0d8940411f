#define G_LOG_DOMAIN "quipu-make-corpus"

#include "config.h"

#include <errno.h>

#include "quipu-wire.h"

/* Writes the fuzzer's seed corpus: one valid frame of every type, a few
 * streams of several frames, and an extension frame. Usage:
 *   make-corpus DIR */

static guint8 key[QUIPU_KEY_SIZE];
static guint8 signature[QUIPU_SIGNATURE_SIZE];

static QuipuFrame *
make_connect (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_CONNECT);

  quipu_frame_add_uint (f, QUIPU_FIELD_VERSION, 1);
  quipu_frame_add_uint (f, QUIPU_FIELD_VERSION, 2);
  quipu_frame_add_string (f, QUIPU_FIELD_FEATURE, "typing");
  quipu_frame_set_string (f, QUIPU_FIELD_USERNAME, "alice");
  quipu_frame_set_string (f, QUIPU_FIELD_CLIENT, "quipu-cli 0.1.0");
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, key, sizeof key);
  quipu_frame_set_bytes (f, QUIPU_FIELD_PROOF, signature, sizeof signature);
  quipu_frame_set_uint (f, QUIPU_FIELD_AFTER_SEQ, 17);
  return f;
}

static QuipuFrame *
make_welcome (void)
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

static QuipuFrame *
make_room_message (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_set_string (f, QUIPU_FIELD_SENDER, "alice");
  quipu_frame_set_bytes (f, QUIPU_FIELD_KEY, key, sizeof key);
  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, G_GUINT64_CONSTANT (0x2a5f3c10e4d7b981));
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 42);
  quipu_frame_set_string (f, QUIPU_FIELD_BODY, "hello, wörld");
  quipu_frame_set_uint (f, QUIPU_FIELD_TIMESTAMP, G_GUINT64_CONSTANT (1764000000000));
  quipu_frame_set_bytes (f, QUIPU_FIELD_SIGNATURE, signature, sizeof signature);
  return f;
}

static QuipuFrame *
make_direct_message (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "bob");
  quipu_frame_add_string (f, QUIPU_FIELD_RECIPIENT, "carol");
  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, 7);
  quipu_frame_set_string (f, QUIPU_FIELD_BODY, "psst");
  quipu_frame_set_uint (f, QUIPU_FIELD_TIMESTAMP, G_GUINT64_CONSTANT (1764000000001));
  quipu_frame_set_bytes (f, QUIPU_FIELD_SIGNATURE, signature, sizeof signature);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, QUIPU_FLAG_INBOX);
  return f;
}

static QuipuFrame *
make_ack (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_ACK);

  quipu_frame_set_uint (f, QUIPU_FIELD_CLIENT_MSG_ID, 7);
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 3);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, QUIPU_FLAG_INBOX | QUIPU_FLAG_DUPLICATE);
  return f;
}

static QuipuFrame *
make_ping_type (QuipuFrameType type)
{
  QuipuFrame *f = quipu_frame_new (type);

  quipu_frame_set_uint (f, QUIPU_FIELD_TOKEN, 0x1234);
  return f;
}

static QuipuFrame *
make_ping (void)
{
  return make_ping_type (QUIPU_FRAME_PING);
}

static QuipuFrame *
make_pong (void)
{
  return make_ping_type (QUIPU_FRAME_PONG);
}

static QuipuFrame *
make_presence (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_PRESENCE);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_add_user (f, "bob", key);
  quipu_frame_set_uint (f, QUIPU_FIELD_STATUS, QUIPU_PRESENCE_ONLINE);
  return f;
}

static QuipuFrame *
make_join (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_JOIN);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_set_uint (f, QUIPU_FIELD_SEQ, 42);
  quipu_frame_set_uint (f, QUIPU_FIELD_AFTER_SEQ, 40);
  quipu_frame_set_uint (f, QUIPU_FIELD_LIMIT, 200);
  quipu_frame_add_user (f, "alice", key);
  quipu_frame_add_user (f, "bob", NULL);
  return f;
}

static QuipuFrame *
make_leave (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_LEAVE);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  return f;
}

static QuipuFrame *
make_history (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_HISTORY);

  quipu_frame_set_string (f, QUIPU_FIELD_ROOM, "lobby");
  quipu_frame_set_uint (f, QUIPU_FIELD_BEFORE_SEQ, 100);
  quipu_frame_set_uint (f, QUIPU_FIELD_LIMIT, 50);
  quipu_frame_set_uint (f, QUIPU_FIELD_COUNT, 50);
  quipu_frame_set_uint (f, QUIPU_FIELD_FLAGS, QUIPU_FLAG_MORE);
  return f;
}

static QuipuFrame *
make_error (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_ERROR);

  quipu_frame_set_uint (f, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_NAME_TAKEN);
  quipu_frame_set_string (f, QUIPU_FIELD_TEXT, "name taken");
  return f;
}

static QuipuFrame *
make_disconnect (void)
{
  QuipuFrame *f = quipu_frame_new (QUIPU_FRAME_DISCONNECT);

  quipu_frame_set_uint (f, QUIPU_FIELD_CODE, QUIPU_PROTOCOL_ERROR_SHUTTING_DOWN);
  return f;
}

typedef QuipuFrame *(*FrameMaker) (void);

typedef struct {
  const char *file;
  gboolean    extension;   /* start with an unknown extension frame */
  FrameMaker  makers[6];   /* NULL-terminated */
} Seed;

static const Seed seeds[] = {
  { "connect", FALSE, { make_connect } },
  { "welcome", FALSE, { make_welcome } },
  { "message-room", FALSE, { make_room_message } },
  { "message-direct", FALSE, { make_direct_message } },
  { "ack", FALSE, { make_ack } },
  { "ping", FALSE, { make_ping } },
  { "pong", FALSE, { make_pong } },
  { "presence", FALSE, { make_presence } },
  { "join", FALSE, { make_join } },
  { "leave", FALSE, { make_leave } },
  { "history", FALSE, { make_history } },
  { "error", FALSE, { make_error } },
  { "disconnect", FALSE, { make_disconnect } },
  { "stream-login", FALSE, { make_connect, make_welcome } },
  { "stream-chat", FALSE, { make_join, make_room_message, make_ack, make_presence, make_ping } },
  { "stream-inbox", FALSE, { make_direct_message, make_history, make_leave, make_disconnect } },
  { "extension", TRUE, { make_ping } },
};

static void
append_extension_frame (GByteArray *out)
{
  static const char payload[] = "\x01\x03" "new";

  quipu_varint_append (out, 0x21);
  quipu_varint_append (out, sizeof payload - 1);
  g_byte_array_append (out, (const guint8 *) payload, sizeof payload - 1);
}

static gboolean
write_seed (const char  *dir,
            const Seed  *seed,
            GError     **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autofree char *path = g_build_filename (dir, seed->file, NULL);

  if (seed->extension)
    append_extension_frame (out);
  for (gsize i = 0; i < G_N_ELEMENTS (seed->makers) && seed->makers[i] != NULL; i++)
    {
      g_autoptr(QuipuFrame) frame = seed->makers[i] ();

      if (!quipu_frame_encode_to (frame, out, error))
        return FALSE;
    }
  return g_file_set_contents (path, (const char *) out->data, out->len, error);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;

  if (argc != 2)
    {
      g_printerr ("usage: %s DIR\n", argv[0]);
      return 2;
    }

  for (gsize i = 0; i < sizeof key; i++)
    key[i] = (guint8) (0x11 + i * 7);
  for (gsize i = 0; i < sizeof signature; i++)
    signature[i] = (guint8) (0x44 + i * 13);

  if (g_mkdir_with_parents (argv[1], 0755) != 0)
    {
      g_printerr ("%s: cannot create %s: %s\n", argv[0], argv[1], g_strerror (errno));
      return 1;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (seeds); i++)
    {
      if (!write_seed (argv[1], &seeds[i], &error))
        {
          g_printerr ("%s: %s: %s\n", argv[0], seeds[i].file, error->message);
          return 1;
        }
    }
  return 0;
}
