#define G_LOG_DOMAIN "quipu-cli"

#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "quipu.h"
#include "quipu-cli-output.h"

static void
json_string (GString *out, const char *key, const char *value)
{
  g_string_append_printf (out, "\"%s\":", key);
  if (value == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = value; *p; p++)
    {
      guchar c = *p;

      switch (c)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, c);
        }
    }
  g_string_append_c (out, '"');
}

static void
emit (GString *line)
{
  g_string_append_c (line, '\n');
  fwrite (line->str, 1, line->len, stdout);
  fflush (stdout);
}

static const char *
verification_name (QuipuVerification verification)
{
  switch (verification)
    {
    case QUIPU_VERIFICATION_VALID:       return "valid";
    case QUIPU_VERIFICATION_INVALID:     return "invalid";
    case QUIPU_VERIFICATION_KEY_CHANGED: return "key-changed";
    case QUIPU_VERIFICATION_SKIPPED:     return "skipped";
    default:                             return "unknown";
    }
}

static void
json_message_fields (GString *line, QuipuMessage *msg)
{
  const char * const *recipients = quipu_message_get_recipients (msg);

  json_string (line, "conversation", quipu_message_get_conversation (msg));
  g_string_append_c (line, ',');
  json_string (line, "room", quipu_message_get_room (msg));
  g_string_append (line, ",\"recipients\":");
  if (recipients == NULL)
    g_string_append (line, "null");
  else
    {
      g_string_append_c (line, '[');
      for (guint i = 0; recipients[i] != NULL; i++)
        {
          g_autoptr(GString) tmp = g_string_new (NULL);

          json_string (tmp, "x", recipients[i]);
          g_string_append_printf (line, "%s%s", i ? "," : "", tmp->str + 4);
        }
      g_string_append_c (line, ']');
    }
  g_string_append_printf (line, ",\"seq\":%" G_GUINT64_FORMAT ",\"client_msg_id\":%" G_GUINT64_FORMAT
                          ",\"timestamp\":%" G_GINT64_FORMAT ",",
                          quipu_message_get_seq (msg), quipu_message_get_client_msg_id (msg),
                          quipu_message_get_timestamp (msg));
  json_string (line, "sender", quipu_message_get_sender (msg));
  g_string_append_c (line, ',');
  json_string (line, "sender_id", quipu_message_get_sender_id (msg));
  g_string_append_c (line, ',');
  json_string (line, "body", quipu_message_get_body (msg));
}

void
quipu_cli_print_message (QuipuMessage *msg, gboolean json)
{
  g_autoptr(GString) line = g_string_new (NULL);
  QuipuVerification verification = quipu_message_get_verification (msg);

  if (json)
    {
      g_string_append (line, "{\"type\":\"message\",");
      json_message_fields (line, msg);
      g_string_append_printf (line, ",\"history\":%s,\"own\":%s,",
                              quipu_message_is_history (msg) ? "true" : "false",
                              quipu_message_is_own (msg) ? "true" : "false");
      json_string (line, "verification", verification_name (verification));
      g_string_append_c (line, '}');
      emit (line);
      return;
    }

  {
    g_autofree char *short_id = quipu_user_id_short (quipu_message_get_sender_id (msg));
    g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (quipu_message_get_timestamp (msg) / 1000);
    g_autofree char *clock = time ? g_date_time_format (time, "%H:%M") : g_strdup ("--:--");
    const char * const *recipients = quipu_message_get_recipients (msg);

    g_string_append_printf (line, "%s ", clock);
    if (quipu_message_get_room (msg) != NULL)
      g_string_append_printf (line, "#%s ", quipu_message_get_room (msg));
    else
      {
        g_autofree char *to = g_strjoinv (",", (char **) recipients);

        g_string_append_printf (line, "@%s ", to);
      }
    g_string_append_printf (line, "<%s %s> %s", quipu_message_get_sender (msg), short_id,
                            quipu_message_get_body (msg));
    if (verification == QUIPU_VERIFICATION_INVALID)
      g_string_append_printf (line, "   [%s]", _("FORGED: the signature does not match this sender's key"));
    else if (verification == QUIPU_VERIFICATION_KEY_CHANGED)
      g_string_append_printf (line, "   [%s]", _("WARNING: this sender's key changed; not the person seen before"));
    emit (line);
  }
}

void
quipu_cli_print_ack (QuipuMessage *msg, gboolean json)
{
  g_autoptr(GString) line = g_string_new ("{\"type\":\"ack\",");

  if (!json)
    return;
  json_message_fields (line, msg);
  g_string_append_c (line, '}');
  emit (line);
}

void
quipu_cli_print_event (const char *type, const char *key, const char *value, gboolean json)
{
  g_autoptr(GString) line = g_string_new (NULL);

  if (!json)
    return;
  g_string_append_printf (line, "{\"type\":\"%s\"", type);
  if (key != NULL)
    {
      g_string_append_c (line, ',');
      json_string (line, key, value);
    }
  g_string_append_c (line, '}');
  emit (line);
}
