#define G_LOG_DOMAIN "quipu-make-corpus"

#include "config.h"

#include <errno.h>

#include "quipu-test-frames.h"
#include "quipu-wire.h"

/* Writes the fuzzer's seed corpus: one valid frame of every type, a few
 * streams of several frames, and an extension frame. Usage:
 *   make-corpus DIR */

typedef struct {
  const char *file;
  gboolean    extension;   /* start with an unknown extension frame */
  QuipuTestFrameMaker makers[6];   /* NULL-terminated */
} Seed;

static const Seed seeds[] = {
  { "connect", FALSE, { quipu_test_frame_connect } },
  { "welcome", FALSE, { quipu_test_frame_welcome } },
  { "message-room", FALSE, { quipu_test_frame_message_room } },
  { "message-direct", FALSE, { quipu_test_frame_message_direct } },
  { "ack", FALSE, { quipu_test_frame_ack } },
  { "ping", FALSE, { quipu_test_frame_ping } },
  { "pong", FALSE, { quipu_test_frame_pong } },
  { "presence", FALSE, { quipu_test_frame_presence } },
  { "join", FALSE, { quipu_test_frame_join } },
  { "leave", FALSE, { quipu_test_frame_leave } },
  { "history", FALSE, { quipu_test_frame_history } },
  { "error", FALSE, { quipu_test_frame_error } },
  { "disconnect", FALSE, { quipu_test_frame_disconnect } },
  { "stream-login", FALSE, { quipu_test_frame_connect, quipu_test_frame_welcome } },
  { "stream-chat", FALSE, { quipu_test_frame_join, quipu_test_frame_message_room, quipu_test_frame_ack, quipu_test_frame_presence, quipu_test_frame_ping } },
  { "stream-inbox", FALSE, { quipu_test_frame_message_direct, quipu_test_frame_history, quipu_test_frame_leave, quipu_test_frame_disconnect } },
  { "extension", TRUE, { quipu_test_frame_ping } },
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

  quipu_test_frames_init ();

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
