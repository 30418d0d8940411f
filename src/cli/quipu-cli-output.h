#pragma once

#include "quipu-message.h"

G_BEGIN_DECLS

/* Text for people, or one JSON object per line for scripts and tests. */
void quipu_cli_print_message (QuipuMessage *msg, gboolean json);
/* JSON only: {"type":"ack", ...message fields}. */
void quipu_cli_print_ack     (QuipuMessage *msg, gboolean json);
/* JSON only: {"type":TYPE, KEY:VALUE}. */
void quipu_cli_print_event   (const char *type, const char *key, const char *value, gboolean json);

G_END_DECLS
