#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* An AdwAlertDialog asking one question: a way out (@cancel_label, also
 * what Escape does) and one answer @response. The default, for Enter, is
 * the answer unless it is destructive. */
AdwDialog *quipu_alert_new (const char            *heading,
                            const char            *body,
                            const char            *cancel_label,
                            const char            *response,
                            const char            *response_label,
                            AdwResponseAppearance  appearance);

G_END_DECLS
