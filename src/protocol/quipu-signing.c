#define G_LOG_DOMAIN "quipu-signing"

#include "config.h"

#include "quipu-signing.h"

gboolean
quipu_identity_sign_login_proof (QuipuIdentity *self,
                                 const guint8  *exporter,
                                 gsize          exporter_len,
                                 const char    *username,
                                 guint8         proof[QUIPU_SIGNATURE_SIZE],
                                 GError       **error)
{
  g_autoptr(GBytes) input = quipu_login_proof_input (exporter, exporter_len, username,
                                                     quipu_identity_get_public_key (self));

  return quipu_identity_sign (self, g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                              proof, error);
}

gboolean
quipu_identity_sign_message (QuipuIdentity *self,
                             QuipuFrame    *frame,
                             GError       **error)
{
  g_autoptr(GBytes) input = quipu_message_signing_input (frame);
  guint8 signature[QUIPU_SIGNATURE_SIZE];

  if (!quipu_identity_sign (self, g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                            signature, error))
    return FALSE;
  quipu_frame_set_bytes (frame, QUIPU_FIELD_SIGNATURE, signature, sizeof signature);
  return TRUE;
}

gboolean
quipu_message_frame_verify (const QuipuFrame *frame,
                            const guint8      key[QUIPU_KEY_SIZE])
{
  g_autoptr(GBytes) input = quipu_message_signing_input (frame);

  return quipu_signature_verify (key, g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                                 frame->signature);
}
