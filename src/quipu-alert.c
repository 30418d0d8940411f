/* quipu-alert.c: the app's yes-or-cancel questions */
#define G_LOG_DOMAIN "quipu-alert"

#include "config.h"

#include "quipu-alert.h"

AdwDialog *
quipu_alert_new (const char            *heading,
                 const char            *body,
                 const char            *cancel_label,
                 const char            *response,
                 const char            *response_label,
                 AdwResponseAppearance  appearance)
{
  AdwAlertDialog *dialog = ADW_ALERT_DIALOG (adw_alert_dialog_new (heading, body));

  adw_alert_dialog_add_responses (dialog, "cancel", cancel_label, response, response_label, NULL);
  adw_alert_dialog_set_response_appearance (dialog, response, appearance);
  /* Enter must never accept something destructive by accident. */
  adw_alert_dialog_set_default_response (dialog, appearance == ADW_RESPONSE_DESTRUCTIVE ? "cancel" : response);
  adw_alert_dialog_set_close_response (dialog, "cancel");
  return ADW_DIALOG (dialog);
}
