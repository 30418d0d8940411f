#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define QUIPU_TYPE_LOGIN_PAGE (quipu_login_page_get_type ())
G_DECLARE_FINAL_TYPE (QuipuLoginPage, quipu_login_page, QUIPU, LOGIN_PAGE, AdwBin)

/* Server and name, remembered; the trust questions; "start a server here".
 * Emits "logged-in" once the application has a connected session. */

void quipu_login_page_log_in (QuipuLoginPage *self,
                              const char     *server,
                              const char     *username,
                              const char     *fingerprint);

G_END_DECLS
