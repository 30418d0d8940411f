/* The codec keeps the one log domain it had as one file (tests expect it). */
#define G_LOG_DOMAIN "quipu-wire"

#include "config.h"

#include <string.h>

#include "quipu-names.h"
#include "quipu-signing-input.h"
#include "quipu-varint.h"

/* The signed byte strings: what a message signature and a login proof cover. */

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
