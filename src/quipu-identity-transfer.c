/* quipu-identity-transfer.c: export and import an identity file */
#define G_LOG_DOMAIN "quipu-identity-transfer"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "quipu-alert.h"
#include "quipu-identity-transfer.h"
#include "quipu-key-store.h"
#include "quipu-window.h"

typedef struct {
  GtkWidget     *parent;
  QuipuIdentity *identity;
  char          *username;
  char          *passphrase;
  GtkEditable   *first;
  GtkEditable   *second;
} Transfer;

static void
transfer_free (Transfer *transfer)
{
  g_clear_object (&transfer->parent);
  g_clear_object (&transfer->identity);
  g_free (transfer->username);
  if (transfer->passphrase != NULL)
    memset (transfer->passphrase, 0, strlen (transfer->passphrase));
  g_free (transfer->passphrase);
  g_free (transfer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Transfer, transfer_free)

static void
report (Transfer   *transfer,
        const char *text)
{
  GtkWidget *window = gtk_widget_get_ancestor (transfer->parent, QUIPU_TYPE_WINDOW);

  if (window != NULL)
    quipu_window_add_toast (QUIPU_WINDOW (window), text);
  gtk_accessible_announce (GTK_ACCESSIBLE (transfer->parent), text,
                           GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_MEDIUM);
}

static void
report_error (Transfer     *transfer,
              gboolean      exporting,
              const GError *error)
{
  g_autofree char *text = NULL;

  /* Translators: %s says why */
  text = exporting ? g_strdup_printf (_("Could not export: %s"), error->message)
                   : g_strdup_printf (_("Could not import: %s"), error->message);
  report (transfer, text);
}

static GtkWidget *
password_row (const char *title)
{
  GtkWidget *row = adw_password_entry_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  return row;
}

typedef void (*PassphraseDone) (Transfer *transfer);

static void
on_passphrase_response (AdwAlertDialog *dialog,
                        const char     *response,
                        Transfer       *transfer)
{
  PassphraseDone done = g_object_get_data (G_OBJECT (dialog), "quipu-done");
  const char *first = gtk_editable_get_text (transfer->first);

  if (!g_str_equal (response, "ok"))
    {
      transfer_free (transfer);
      return;
    }
  if (transfer->second != NULL && g_strcmp0 (first, gtk_editable_get_text (transfer->second)) != 0)
    {
      report (transfer, _("The passphrases differ; nothing was exported"));
      transfer_free (transfer);
      return;
    }
  transfer->passphrase = g_strdup (first);
  done (transfer);
}

/* One passphrase, or two that must match when making a new file. */
static void
ask_passphrase (Transfer       *transfer,
                const char     *heading,
                const char     *body,
                gboolean        confirm,
                PassphraseDone  done)
{
  AdwDialog *dialog = quipu_alert_new (heading, body, _("_Cancel"), "ok", _("_Continue"),
                                       ADW_RESPONSE_SUGGESTED);
  GtkWidget *list = gtk_list_box_new ();
  GtkWidget *row;

  gtk_widget_add_css_class (list, "boxed-list");
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  row = password_row (_("Passphrase"));
  transfer->first = GTK_EDITABLE (row);
  gtk_list_box_append (GTK_LIST_BOX (list), row);
  if (confirm)
    {
      row = password_row (_("Passphrase Again"));
      transfer->second = GTK_EDITABLE (row);
      gtk_list_box_append (GTK_LIST_BOX (list), row);
    }
  adw_alert_dialog_set_extra_child (ADW_ALERT_DIALOG (dialog), list);
  g_object_set_data (G_OBJECT (dialog), "quipu-done", done);
  g_signal_connect (dialog, "response", G_CALLBACK (on_passphrase_response), transfer);
  adw_dialog_present (dialog, transfer->parent);
}

/* Export */

static void
on_exported (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Transfer) transfer = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    {
      report_error (transfer, TRUE, error);
      return;
    }
  report (transfer, _("Identity exported"));
}

static void
on_export_file_chosen (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(Transfer) transfer = user_data;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GBytes) pem = NULL;
  g_autoptr(GError) error = NULL;

  file = gtk_file_dialog_save_finish (GTK_FILE_DIALOG (object), result, NULL);
  if (file == NULL)
    return;

  /* ~0.1 s of key derivation, once, on the person's explicit request. */
  pem = quipu_key_store_export_to_bytes (transfer->identity, transfer->passphrase, &error);
  if (pem == NULL)
    {
      report_error (transfer, TRUE, error);
      return;
    }
  g_file_replace_contents_bytes_async (file, pem, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL,
                                       on_exported, g_steal_pointer (&transfer));
}

static void
choose_export_file (Transfer *transfer)
{
  g_autoptr(GtkFileDialog) chooser = gtk_file_dialog_new ();
  g_autofree char *name = g_strdup_printf ("%s.quipu-identity", transfer->username);

  gtk_file_dialog_set_title (chooser, _("Export Identity"));
  gtk_file_dialog_set_initial_name (chooser, name);
  gtk_file_dialog_save (chooser, GTK_WINDOW (gtk_widget_get_root (transfer->parent)), NULL,
                        on_export_file_chosen, transfer);
}

void
quipu_identity_transfer_export (GtkWidget     *parent,
                                QuipuIdentity *identity,
                                const char    *username)
{
  Transfer *transfer;

  g_return_if_fail (GTK_IS_WIDGET (parent));
  g_return_if_fail (QUIPU_IS_IDENTITY (identity));

  transfer = g_new0 (Transfer, 1);
  transfer->parent = g_object_ref (parent);
  transfer->identity = g_object_ref (identity);
  transfer->username = g_strdup (username);
  ask_passphrase (transfer, _("Export Identity"),
                  _("The file lets anyone who knows the passphrase write as you: choose a good one "
                    "and keep the file safe."),
                  TRUE, choose_export_file);
}

/* Import */

static void
on_imported (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Transfer) transfer = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!quipu_key_store_store_finish (result, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        /* Translators: %s is a user name */
        text = g_strdup_printf (_("Not imported: this computer already has another identity for %s"),
                                transfer->username);
      else
        {
          report_error (transfer, FALSE, error);
          return;
        }
      report (transfer, text);
      return;
    }
  /* Translators: %s is a user name */
  text = g_strdup_printf (_("Identity imported: log in as %s"), transfer->username);
  report (transfer, text);
}

static void
on_import_loaded (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(Transfer) transfer = user_data;
  g_autoptr(GBytes) pem = NULL;
  g_autoptr(GError) error = NULL;
  QuipuIdentity *identity;
  const char *username;

  pem = g_file_load_bytes_finish (G_FILE (object), result, NULL, &error);
  if (pem != NULL)
    transfer->identity = quipu_key_store_import_from_bytes (pem, transfer->passphrase, &error);
  if (transfer->identity == NULL)
    {
      report_error (transfer, FALSE, error);
      return;
    }
  identity = transfer->identity;
  username = transfer->username;
  quipu_key_store_store_async (identity, username, NULL, NULL, on_imported, g_steal_pointer (&transfer));
}

static void
load_import_file (Transfer *transfer)
{
  GFile *file = g_object_get_data (G_OBJECT (transfer->parent), "quipu-import-file");

  g_file_load_bytes_async (file, NULL, on_import_loaded, transfer);
}

static void
on_import_file_chosen (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Transfer *transfer = user_data;
  g_autoptr(GFile) file = NULL;

  file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (object), result, NULL);
  if (file == NULL)
    {
      transfer_free (transfer);
      return;
    }
  g_object_set_data_full (G_OBJECT (transfer->parent), "quipu-import-file",
                          g_steal_pointer (&file), g_object_unref);
  ask_passphrase (transfer, _("Import Identity"),
                  _("The passphrase chosen when the identity was exported"),
                  FALSE, load_import_file);
}

void
quipu_identity_transfer_import (GtkWidget  *parent,
                                const char *username)
{
  g_autoptr(GtkFileDialog) chooser = gtk_file_dialog_new ();
  Transfer *transfer;

  g_return_if_fail (GTK_IS_WIDGET (parent));
  g_return_if_fail (username != NULL);

  transfer = g_new0 (Transfer, 1);
  transfer->parent = g_object_ref (parent);
  transfer->username = g_strdup (username);
  gtk_file_dialog_set_title (chooser, _("Import Identity"));
  gtk_file_dialog_open (chooser, GTK_WINDOW (gtk_widget_get_root (parent)), NULL,
                        on_import_file_chosen, transfer);
}
