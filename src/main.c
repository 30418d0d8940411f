/* main.c: the entry point of the Quipu desktop app */
#define G_LOG_DOMAIN "quipu"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "quipu-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(QuipuApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = quipu_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
