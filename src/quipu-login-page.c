/* quipu-login-page.c: log in, decide about the server's certificate, or host a server */
#define G_LOG_DOMAIN "quipu-login-page"

#include "config.h"

#include <glib/gi18n.h>

#include "quipu-alert.h"
#include "quipu-application.h"
#include "quipu-identity-transfer.h"
#include "quipu-login-page.h"

struct _QuipuLoginPage
{
  AdwBin        parent_instance;

  AdwEntryRow  *server_row;
  AdwEntryRow  *username_row;
  GtkLabel     *error_label;
  GtkButton    *log_in_button;
  GtkButton    *host_button;
  GtkStack     *log_in_stack;
  AdwStatusPage *status_page;

  GCancellable *cancellable;
  gboolean      busy;
  /* Logged in to our own server: show the address to share afterwards. */
  gboolean      hosting;
};

G_DEFINE_FINAL_TYPE (QuipuLoginPage, quipu_login_page, ADW_TYPE_BIN)

enum {
  LOGGED_IN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static QuipuApplication *
get_app (void)
{
  return QUIPU_APPLICATION (g_application_get_default ());
}

static void
update_sensitivity (QuipuLoginPage *self)
{
  const char *server = gtk_editable_get_text (GTK_EDITABLE (self->server_row));
  const char *username = gtk_editable_get_text (GTK_EDITABLE (self->username_row));

  gtk_widget_set_sensitive (GTK_WIDGET (self->log_in_button),
                            !self->busy && *server != '\0' && *username != '\0');
  gtk_widget_set_sensitive (GTK_WIDGET (self->host_button), !self->busy && *username != '\0');
  /* The fields stay sensitive: taking focus away from a typing person
   * confuses the entry; a change simply applies to the next attempt. */
  gtk_stack_set_visible_child_name (self->log_in_stack, self->busy ? "spinner" : "label");
}

static void
set_busy (QuipuLoginPage *self,
          gboolean        busy)
{
  self->busy = busy;
  if (busy)
    gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  update_sensitivity (self);
}

static void
show_error (QuipuLoginPage *self,
            const char     *message)
{
  set_busy (self, FALSE);
  gtk_label_set_text (self->error_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
  gtk_accessible_announce (GTK_ACCESSIBLE (self), message,
                           GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_HIGH);
}

/* @body as markup, with the fingerprints in it in monospace: easier to
 * compare character by character with the copy a friend or operator gave. */
static char *
fingerprints_in_monospace (const char *body,
                           const char *first,
                           const char *second)
{
  GString *markup = g_string_new_take (g_markup_escape_text (body, -1));
  const char *fingerprints[] = { first, second };

  for (guint i = 0; i < G_N_ELEMENTS (fingerprints); i++)
    if (fingerprints[i] != NULL && *fingerprints[i] != '\0')
      {
        g_autofree char *plain = g_markup_escape_text (fingerprints[i], -1);
        g_autofree char *tt = g_strdup_printf ("<tt>%s</tt>", plain);

        g_string_replace (markup, plain, tt, 1);
      }
  return g_string_free (markup, FALSE);
}

static void
show_hosted_server (QuipuLoginPage *self)
{
  QuipuHostedServer *hosted = quipu_application_get_hosted_server (get_app ());
  g_autofree char *address = g_strdup_printf ("%s:%u", g_get_host_name (),
                                              quipu_hosted_server_get_port (hosted));
  g_autofree char *body = NULL;
  g_autofree char *markup = NULL;
  AdwDialog *dialog;

  body = g_strdup_printf (_("Your friends can log in at\n\n%s\n\nThe server’s certificate fingerprint, "
                            "for them to compare when Quipu asks:\n\n%s\n\n"
                            "It serves for as long as Quipu runs."),
                          address, quipu_hosted_server_get_fingerprint (hosted));
  markup = fingerprints_in_monospace (body, quipu_hosted_server_get_fingerprint (hosted), NULL);
  dialog = adw_alert_dialog_new (_("Your Server Is Running"), markup);
  adw_alert_dialog_set_body_use_markup (ADW_ALERT_DIALOG (dialog), TRUE);
  adw_alert_dialog_add_response (ADW_ALERT_DIALOG (dialog), "close", _("_Close"));
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

static void
finish_log_in (QuipuLoginPage *self)
{
  set_busy (self, FALSE);
  g_signal_emit (self, signals[LOGGED_IN], 0);
  if (self->hosting)
    show_hosted_server (self);
  self->hosting = FALSE;
}

static void on_logged_in (GObject *object, GAsyncResult *result, gpointer user_data);

typedef struct {
  QuipuLoginPage *self;
  QuipuClient    *attempt;
  char           *fingerprint;
} TrustQuestion;

static void
trust_question_free (gpointer  data,
                     GClosure *closure)
{
  TrustQuestion *question = data;

  g_object_unref (question->self);
  g_object_unref (question->attempt);
  g_free (question->fingerprint);
  g_free (question);
}

static void
on_trust_response (AdwAlertDialog *dialog,
                   const char     *response,
                   TrustQuestion  *question)
{
  QuipuLoginPage *self = question->self;
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (response, "trust"))
    {
      show_error (self, _("Not connected: the server’s certificate was not accepted"));
      return;
    }

  if (!quipu_client_trust_fingerprint (question->attempt, question->fingerprint, &error))
    {
      show_error (self, error->message);
      return;
    }
  quipu_application_connect_async (get_app (), question->attempt, self->cancellable,
                                   on_logged_in, g_object_ref (self));
}

/* The certificate the server presented, and the one trusted before (NULL on
 * first contact). */
static void
ask_about_certificate (QuipuLoginPage *self,
                       QuipuClient    *attempt,
                       const GError   *error)
{
  g_autofree char *server = NULL;
  g_autofree char *body = NULL;
  const char *presented = quipu_error_get_presented_fingerprint (error);
  const char *known = quipu_error_get_pinned_fingerprint (error);
  TrustQuestion *question;
  AdwDialog *dialog;

  g_object_get (attempt, "server", &server, NULL);
  if (presented == NULL)
    presented = quipu_client_get_server_fingerprint (attempt);

  if (error->code == QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED)
    {
      body = g_strdup_printf (_("The certificate of %s is not the one you trusted before. "
                                "Someone may be pretending to be this server, or its operator "
                                "replaced the certificate. Ask the operator before you accept.\n\n"
                                "Trusted before:\n%s\n\nPresented now:\n%s"),
                              server, known != NULL ? known : "?", presented);
      dialog = quipu_alert_new (_("Server Certificate Changed"), body, _("_Don’t Connect"),
                                "trust", _("_Trust the New Certificate"), ADW_RESPONSE_DESTRUCTIVE);
    }
  else
    {
      body = g_strdup_printf (_("This is your first connection to %s. Its certificate fingerprint is\n\n%s\n\n"
                                "Compare it with the one the server’s operator gave you."),
                              server, presented);
      dialog = quipu_alert_new (_("Trust This Server?"), body, _("_Cancel"),
                                "trust", _("_Trust and Connect"), ADW_RESPONSE_SUGGESTED);
    }
  {
    g_autofree char *markup = fingerprints_in_monospace (body, presented, known);

    adw_alert_dialog_set_body (ADW_ALERT_DIALOG (dialog), markup);
    adw_alert_dialog_set_body_use_markup (ADW_ALERT_DIALOG (dialog), TRUE);
  }
  /* Trust is given on purpose, never by pressing Enter. */
  adw_alert_dialog_set_default_response (ADW_ALERT_DIALOG (dialog), "cancel");

  question = g_new0 (TrustQuestion, 1);
  question->self = g_object_ref (self);
  question->attempt = g_object_ref (attempt);
  question->fingerprint = g_strdup (presented);
  g_signal_connect_data (dialog, "response", G_CALLBACK (on_trust_response), question,
                         trust_question_free, 0);
  adw_dialog_present (dialog, GTK_WIDGET (self));
}

/* A certificate that is not the one given with --server-fingerprint: the
 * person asked for exactly that one, so there is nothing to accept. */
static void
warn_untrusted (QuipuLoginPage *self,
                const GError   *error)
{
  g_autofree char *body = NULL;
  AdwDialog *dialog;

  body = g_strdup_printf (_("Quipu did not connect: the server’s certificate is not the one "
                            "you trusted before. Someone may be pretending to be this server, or "
                            "its operator replaced the certificate; ask the operator.\n\n%s"),
                          error->message);
  /* Both fingerprints are in the message, and as data for the dialog. */
  dialog = adw_alert_dialog_new (_("Server Certificate Changed"), body);
  adw_alert_dialog_add_response (ADW_ALERT_DIALOG (dialog), "close", _("_Don’t Connect"));
  adw_dialog_present (dialog, GTK_WIDGET (self));
  show_error (self, _("Not connected: the server’s certificate changed"));
}

static void
handle_result (QuipuLoginPage *self,
               gboolean        ok,
               QuipuClient    *attempt,
               GError         *error)
{
  if (ok)
    finish_log_in (self);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    set_busy (self, FALSE);
  else if (attempt != NULL
           && (g_error_matches (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER)
               || g_error_matches (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED)))
    ask_about_certificate (self, attempt, error);
  else if (g_error_matches (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED))
    warn_untrusted (self, error);
  else
    show_error (self, error->message);
}

static void
on_logged_in (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(QuipuLoginPage) self = user_data;
  g_autoptr(QuipuClient) attempt = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = quipu_application_log_in_finish (QUIPU_APPLICATION (object), result, &attempt, &error);
  handle_result (self, ok, attempt, error);
}

void
quipu_login_page_log_in (QuipuLoginPage *self,
                         const char     *server,
                         const char     *username,
                         const char     *fingerprint)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  g_return_if_fail (QUIPU_IS_LOGIN_PAGE (self));

  gtk_editable_set_text (GTK_EDITABLE (self->server_row), server);
  gtk_editable_set_text (GTK_EDITABLE (self->username_row), username);

  name = quipu_name_normalize (username, &error);
  if (name == NULL)
    {
      show_error (self, error->message);
      return;
    }

  set_busy (self, TRUE);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  quipu_application_log_in_async (get_app (), server, name, fingerprint,
                                  self->cancellable, on_logged_in, g_object_ref (self));
}

static void
on_log_in_clicked (QuipuLoginPage *self)
{
  g_autofree char *server = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->server_row)));
  g_autofree char *username = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->username_row)));

  quipu_login_page_log_in (self, g_strstrip (server), g_strstrip (username), NULL);
}

static void
on_entry_activated (QuipuLoginPage *self)
{
  if (gtk_widget_get_sensitive (GTK_WIDGET (self->log_in_button)))
    on_log_in_clicked (self);
}

static void
on_entry_changed (QuipuLoginPage *self)
{
  update_sensitivity (self);
}

/* Our own server: its fingerprint is known, no question to ask. */
static void
log_in_to_hosted (QuipuLoginPage    *self,
                  QuipuHostedServer *hosted)
{
  g_autofree char *server = NULL;
  g_autofree char *username = NULL;

  self->hosting = TRUE;
  server = g_strdup_printf ("localhost:%u", quipu_hosted_server_get_port (hosted));
  username = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->username_row)));
  quipu_login_page_log_in (self, server, g_strstrip (username),
                           quipu_hosted_server_get_fingerprint (hosted));
}

static void
on_hosted_started (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(QuipuLoginPage) self = user_data;
  QuipuHostedServer *hosted = QUIPU_HOSTED_SERVER (object);
  g_autoptr(GError) error = NULL;

  if (!quipu_hosted_server_start_finish (hosted, result, &error))
    {
      /* Translators: %s says why, e.g. "No such file or directory" */
      g_autofree char *message = g_strdup_printf (_("Could not start the server: %s"), error->message);

      show_error (self, message);
      return;
    }
  log_in_to_hosted (self, hosted);
}

static void
on_host_clicked (QuipuLoginPage *self)
{
  QuipuHostedServer *hosted = quipu_application_get_hosted_server (get_app ());

  set_busy (self, TRUE);
  if (quipu_hosted_server_get_running (hosted))
    {
      log_in_to_hosted (self, hosted);
      return;
    }
  quipu_hosted_server_start_async (hosted, NULL, on_hosted_started, g_object_ref (self));
}

/* The server is usually remembered: start in the name, or on Log In. */
static void
quipu_login_page_map (GtkWidget *widget)
{
  QuipuLoginPage *self = QUIPU_LOGIN_PAGE (widget);

  GTK_WIDGET_CLASS (quipu_login_page_parent_class)->map (widget);

  if (*gtk_editable_get_text (GTK_EDITABLE (self->username_row)) == '\0')
    gtk_widget_grab_focus (GTK_WIDGET (self->username_row));
  else if (gtk_widget_get_sensitive (GTK_WIDGET (self->log_in_button)))
    gtk_widget_grab_focus (GTK_WIDGET (self->log_in_button));
}

static void
on_identity_imported (GtkWidget  *widget,
                      const char *username)
{
  QuipuLoginPage *self = QUIPU_LOGIN_PAGE (widget);

  gtk_editable_set_text (GTK_EDITABLE (self->username_row), username);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  if (gtk_widget_get_sensitive (GTK_WIDGET (self->log_in_button)))
    gtk_widget_grab_focus (GTK_WIDGET (self->log_in_button));
}

/* The import dialog asks for the name itself: it starts with what is typed. */
static void
import_identity_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  QuipuLoginPage *self = QUIPU_LOGIN_PAGE (widget);

  quipu_identity_transfer_import (widget, gtk_editable_get_text (GTK_EDITABLE (self->username_row)),
                                  on_identity_imported);
}

static void
quipu_login_page_dispose (GObject *object)
{
  QuipuLoginPage *self = QUIPU_LOGIN_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), QUIPU_TYPE_LOGIN_PAGE);

  G_OBJECT_CLASS (quipu_login_page_parent_class)->dispose (object);
}

static void
quipu_login_page_class_init (QuipuLoginPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = quipu_login_page_dispose;
  widget_class->map = quipu_login_page_map;

  signals[LOGGED_IN] = g_signal_new ("logged-in", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                     0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/quipuchat/Quipu/quipu-login-page.ui");
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, server_row);
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, username_row);
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, log_in_button);
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, host_button);
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, log_in_stack);
  gtk_widget_class_bind_template_child (widget_class, QuipuLoginPage, status_page);
  gtk_widget_class_bind_template_callback (widget_class, on_log_in_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_host_clicked);
  gtk_widget_class_install_action (widget_class, "login.import-identity", NULL, import_identity_action);
}

static void
quipu_login_page_init (QuipuLoginPage *self)
{
  GSettings *settings = quipu_application_get_settings (get_app ());
  g_autofree char *server = g_settings_get_string (settings, "server");
  g_autofree char *username = g_settings_get_string (settings, "username");

  gtk_widget_init_template (GTK_WIDGET (self));

  /* From the GResource, so the .Devel profile shows it too. */
  adw_status_page_set_icon_name (self->status_page, "io.github.quipuchat.Quipu");
  gtk_editable_set_text (GTK_EDITABLE (self->server_row), server);
  gtk_editable_set_text (GTK_EDITABLE (self->username_row), username);
  update_sensitivity (self);
}
