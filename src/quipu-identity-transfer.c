/* quipu-identity-transfer.c: export and import an identity file */
#define G_LOG_DOMAIN "quipu-identity-transfer"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "quipu-identity-transfer.h"
#include "quipu-key-store.h"
#include "quipu-window.h"

#define EXPORT_SUFFIX ".quipu-identity"

/* What one dialog needs; owned by the dialog, so it lives exactly as long.
 * The file is a path typed in the dialog, which the file chooser fills in:
 * a person without a working file chooser (inside a Flatpak with no
 * FileChooser portal GTK gets no answer at all) can still type it. */
typedef struct {
  GtkWidget                 *parent;
  AdwDialog                 *dialog;
  GtkWidget                 *action;
  GtkLabel                  *error_label;
  GtkWidget                 *error_row;
  GCancellable              *cancellable;
  gboolean                   busy;
  gboolean                   saving;

  GtkEditable               *path;
  GtkEditable               *first;
  char                      *username;

  /* Export */
  QuipuIdentity             *identity;
  GtkEditable               *second;

  /* Import */
  GtkEditable               *name;
  char                      *name_from_file;
  QuipuIdentityImportedFunc  imported;
} Transfer;

static void
transfer_free (Transfer *transfer)
{
  g_cancellable_cancel (transfer->cancellable);
  g_clear_object (&transfer->cancellable);
  g_clear_object (&transfer->parent);
  g_clear_object (&transfer->identity);
  g_free (transfer->username);
  g_free (transfer->name_from_file);
  g_free (transfer);
}

static Transfer *
get_transfer (AdwDialog *dialog)
{
  return g_object_get_data (G_OBJECT (dialog), "quipu-transfer");
}

static void
report (Transfer   *transfer,
        const char *text)
{
  GtkWidget *below = gtk_widget_get_ancestor (transfer->parent, ADW_TYPE_PREFERENCES_DIALOG);
  GtkWidget *window = gtk_widget_get_ancestor (transfer->parent, QUIPU_TYPE_WINDOW);

  /* Where the person looks: over the dialog this one was opened from. */
  if (below != NULL)
    adw_preferences_dialog_add_toast (ADW_PREFERENCES_DIALOG (below), adw_toast_new (text));
  else if (window != NULL)
    quipu_window_add_toast (QUIPU_WINDOW (window), text);
  gtk_accessible_announce (GTK_ACCESSIBLE (transfer->parent), text,
                           GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_MEDIUM);
}

static gboolean
is_filled (GtkEditable *editable)
{
  return editable != NULL && *gtk_editable_get_text (editable) != '\0';
}

static void
update_action (Transfer *transfer)
{
  gboolean ready = is_filled (transfer->path) && is_filled (transfer->first);

  if (transfer->identity != NULL)
    ready = ready && is_filled (transfer->second);
  else
    ready = ready && is_filled (transfer->name);
  gtk_widget_set_sensitive (transfer->action, ready && !transfer->busy);
}

static void
set_busy (Transfer *transfer,
          gboolean  busy)
{
  transfer->busy = busy;
  update_action (transfer);
}

static void
clear_error (Transfer *transfer)
{
  gtk_widget_set_visible (GTK_WIDGET (transfer->error_label), FALSE);
  if (transfer->error_row != NULL)
    gtk_widget_remove_css_class (transfer->error_row, "error");
  transfer->error_row = NULL;
}

/* The reason stays in the dialog, next to the field to correct (@row, may
 * be NULL), which gets the focus with its text selected. */
static void
show_error (Transfer   *transfer,
            GtkWidget  *row,
            const char *text)
{
  clear_error (transfer);
  gtk_label_set_text (transfer->error_label, text);
  gtk_widget_set_visible (GTK_WIDGET (transfer->error_label), TRUE);
  gtk_accessible_announce (GTK_ACCESSIBLE (transfer->dialog), text,
                           GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_HIGH);
  if (row != NULL)
    {
      transfer->error_row = row;
      gtk_widget_add_css_class (row, "error");
      gtk_widget_grab_focus (row);
      gtk_editable_select_region (GTK_EDITABLE (row), 0, -1);
    }
  set_busy (transfer, FALSE);
}

static void
on_field_changed (GtkEditable *editable,
                  Transfer    *transfer)
{
  if (transfer->error_row == GTK_WIDGET (editable) || transfer->error_row == NULL)
    clear_error (transfer);
  update_action (transfer);
}

static void
on_dialog_closed (AdwDialog *dialog)
{
  /* A file chooser or a write still under way has nobody to report to. */
  g_cancellable_cancel (get_transfer (dialog)->cancellable);
}

/* The typed path: absolute, "~/…", or relative to the home folder. */
static GFile *
get_file (Transfer *transfer)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (transfer->path)));

  if (g_str_has_prefix (text, "~/"))
    return g_file_new_build_filename (g_get_home_dir (), text + 2, NULL);
  return g_file_new_for_commandline_arg_and_cwd (text, g_get_home_dir ());
}

static void
on_file_chosen (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(AdwDialog) dialog = user_data;
  Transfer *transfer = get_transfer (dialog);
  g_autoptr(GFile) file = NULL;
  g_autofree char *name = NULL;

  if (transfer->saving)
    file = gtk_file_dialog_save_finish (GTK_FILE_DIALOG (object), result, NULL);
  else
    file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (object), result, NULL);
  if (file == NULL || g_cancellable_is_cancelled (transfer->cancellable))
    return;
  name = g_file_get_parse_name (file);
  gtk_editable_set_text (transfer->path, name);
  gtk_widget_grab_focus (transfer->action);
}

static void
on_choose_file (Transfer *transfer)
{
  g_autoptr(GtkFileDialog) chooser = gtk_file_dialog_new ();
  GtkWindow *window = GTK_WINDOW (gtk_widget_get_root (transfer->parent));

  if (is_filled (transfer->path))
    {
      g_autoptr(GFile) file = get_file (transfer);

      gtk_file_dialog_set_initial_file (chooser, file);
    }
  if (transfer->saving)
    {
      gtk_file_dialog_set_title (chooser, _("Export Identity"));
      gtk_file_dialog_set_accept_label (chooser, _("_Choose"));
      gtk_file_dialog_save (chooser, window, transfer->cancellable, on_file_chosen,
                            g_object_ref (transfer->dialog));
    }
  else
    {
      gtk_file_dialog_set_title (chooser, _("Choose an Exported Identity"));
      gtk_file_dialog_open (chooser, window, transfer->cancellable, on_file_chosen,
                            g_object_ref (transfer->dialog));
    }
}

static GtkWidget *
add_entry_row (Transfer             *transfer,
               AdwPreferencesGroup  *group,
               GtkWidget            *row,
               const char           *title)
{
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_entry_row_set_activates_default (ADW_ENTRY_ROW (row), TRUE);
  g_signal_connect (row, "changed", G_CALLBACK (on_field_changed), transfer);
  adw_preferences_group_add (group, row);
  return row;
}

static void
add_file_row (Transfer            *transfer,
              AdwPreferencesGroup *group,
              const char          *path)
{
  GtkWidget *row = add_entry_row (transfer, group, adw_entry_row_new (), _("File"));
  GtkWidget *choose = gtk_button_new_from_icon_name ("document-open-symbolic");

  gtk_widget_set_valign (choose, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (choose, "flat");
  gtk_widget_set_tooltip_text (choose, _("Choose File"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (choose), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Choose File"), -1);
  g_signal_connect_swapped (choose, "clicked", G_CALLBACK (on_choose_file), transfer);
  adw_entry_row_add_suffix (ADW_ENTRY_ROW (row), choose);
  if (path != NULL)
    gtk_editable_set_text (GTK_EDITABLE (row), path);
  transfer->path = GTK_EDITABLE (row);
}

/* A form in a dialog: Cancel, and the main action at the end of the header
 * bar; the rows go into the returned group, the error below them. */
static Transfer *
transfer_new (GtkWidget            *parent,
              const char           *title,
              const char           *description,
              const char           *action_label,
              GCallback             on_action,
              AdwPreferencesGroup **group_out)
{
  Transfer *transfer = g_new0 (Transfer, 1);
  GtkWidget *view, *header, *cancel, *clamp, *group, *error;

  transfer->parent = g_object_ref (parent);
  transfer->cancellable = g_cancellable_new ();
  transfer->dialog = adw_dialog_new ();
  adw_dialog_set_title (transfer->dialog, title);
  adw_dialog_set_content_width (transfer->dialog, 440);
  g_object_set_data_full (G_OBJECT (transfer->dialog), "quipu-transfer", transfer,
                          (GDestroyNotify) transfer_free);
  g_signal_connect (transfer->dialog, "closed", G_CALLBACK (on_dialog_closed), NULL);

  header = adw_header_bar_new ();
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (adw_dialog_close), transfer->dialog);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  transfer->action = gtk_button_new_with_mnemonic (action_label);
  gtk_widget_add_css_class (transfer->action, "suggested-action");
  gtk_widget_set_sensitive (transfer->action, FALSE);
  g_signal_connect_swapped (transfer->action, "clicked", on_action, transfer);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), transfer->action);
  adw_dialog_set_default_widget (transfer->dialog, transfer->action);

  group = adw_preferences_group_new ();
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group), description);
  error = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (error), TRUE);
  gtk_label_set_xalign (GTK_LABEL (error), 0);
  gtk_widget_add_css_class (error, "error");
  gtk_widget_set_margin_top (error, 12);
  gtk_widget_set_visible (error, FALSE);
  transfer->error_label = GTK_LABEL (error);

  /* Not an AdwPreferencesPage, nor any scroller: the dialog keeps the
   * height a scroller had when shown, and an error appearing below the
   * rows would be cut off. A handful of rows fit on any screen. */
  clamp = adw_clamp_new ();
  adw_clamp_set_child (ADW_CLAMP (clamp), group);
  gtk_widget_set_margin_top (clamp, 24);
  gtk_widget_set_margin_bottom (clamp, 24);
  gtk_widget_set_margin_start (clamp, 12);
  gtk_widget_set_margin_end (clamp, 12);
  view = adw_toolbar_view_new ();
  adw_toolbar_view_add_top_bar (ADW_TOOLBAR_VIEW (view), header);
  adw_toolbar_view_set_content (ADW_TOOLBAR_VIEW (view), clamp);
  adw_dialog_set_child (transfer->dialog, view);

  *group_out = ADW_PREFERENCES_GROUP (group);
  return transfer;
}

/* Adds the error label below the rows the caller added, and shows it all. */
static void
transfer_present (Transfer            *transfer,
                  AdwPreferencesGroup *group,
                  GtkEditable         *focus)
{
  adw_preferences_group_add (group, GTK_WIDGET (transfer->error_label));
  update_action (transfer);
  adw_dialog_set_focus (transfer->dialog, GTK_WIDGET (focus));
  adw_dialog_present (transfer->dialog, transfer->parent);
}

/* Export */

static void
on_exported (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(AdwDialog) dialog = user_data;
  Transfer *transfer = get_transfer (dialog);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *text = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* Translators: %s says why */
      text = g_strdup_printf (_("Could not write the file: %s"), error->message);
      show_error (transfer, GTK_WIDGET (transfer->path), text);
      return;
    }
  name = g_file_get_basename (G_FILE (object));
  /* Translators: %s is a file name */
  text = g_strdup_printf (_("Identity exported to %s"), name);
  report (transfer, text);
  adw_dialog_close (dialog);
}

static void
on_export_clicked (Transfer *transfer)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GBytes) pem = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (gtk_editable_get_text (transfer->first), gtk_editable_get_text (transfer->second)))
    {
      show_error (transfer, GTK_WIDGET (transfer->second),
                  _("The passphrases differ: type the same one twice"));
      return;
    }

  /* ~0.1 s of key derivation, once, on the person's explicit request. */
  pem = quipu_key_store_export_to_bytes (transfer->identity, gtk_editable_get_text (transfer->first),
                                         &error);
  if (pem == NULL)
    {
      show_error (transfer, NULL, error->message);
      return;
    }
  set_busy (transfer, TRUE);
  file = get_file (transfer);
  g_file_replace_contents_bytes_async (file, pem, NULL, FALSE, G_FILE_CREATE_PRIVATE,
                                       transfer->cancellable, on_exported,
                                       g_object_ref (transfer->dialog));
}

void
quipu_identity_transfer_export (GtkWidget     *parent,
                                QuipuIdentity *identity,
                                const char    *username)
{
  AdwPreferencesGroup *group;
  Transfer *transfer;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  const char *folder;

  g_return_if_fail (GTK_IS_WIDGET (parent));
  g_return_if_fail (QUIPU_IS_IDENTITY (identity));
  g_return_if_fail (username != NULL);

  transfer = transfer_new (parent, _("Export Identity"),
                           _("The file lets anyone who knows its passphrase write as you: choose a good "
                             "passphrase and keep the file safe."),
                           _("_Export"), G_CALLBACK (on_export_clicked), &group);
  transfer->saving = TRUE;
  transfer->identity = g_object_ref (identity);
  transfer->username = g_strdup (username);
  transfer->first = GTK_EDITABLE (add_entry_row (transfer, group, adw_password_entry_row_new (),
                                                 _("Passphrase")));
  transfer->second = GTK_EDITABLE (add_entry_row (transfer, group, adw_password_entry_row_new (),
                                                  _("Confirm Passphrase")));
  folder = g_get_user_special_dir (G_USER_DIRECTORY_DOCUMENTS);
  name = g_strconcat (username, EXPORT_SUFFIX, NULL);
  path = g_build_filename (folder != NULL ? folder : g_get_home_dir (), name, NULL);
  add_file_row (transfer, group, path);
  transfer_present (transfer, group, transfer->first);
}

/* Import */

static void
on_imported (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(AdwDialog) dialog = user_data;
  Transfer *transfer = get_transfer (dialog);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!quipu_key_store_store_finish (result, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        /* Translators: %s is a user name */
        text = g_strdup_printf (_("This computer already has a different identity for %s: nothing "
                                  "was imported"), transfer->username);
      else
        /* Translators: %s says why */
        text = g_strdup_printf (_("Could not store the identity: %s"), error->message);
      show_error (transfer, GTK_WIDGET (transfer->name), text);
      return;
    }
  if (transfer->imported != NULL)
    transfer->imported (transfer->parent, transfer->username);
  /* Translators: %s is a user name */
  text = g_strdup_printf (_("Identity imported: log in as %s"), transfer->username);
  report (transfer, text);
  adw_dialog_close (dialog);
}

static void
on_import_loaded (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(AdwDialog) dialog = user_data;
  Transfer *transfer = get_transfer (dialog);
  g_autoptr(QuipuIdentity) identity = NULL;
  g_autoptr(GBytes) pem = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  pem = g_file_load_bytes_finish (G_FILE (object), result, NULL, &error);
  if (pem == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* Translators: %s says why */
      text = g_strdup_printf (_("Could not read the file: %s"), error->message);
      show_error (transfer, GTK_WIDGET (transfer->path), text);
      return;
    }

  /* ~0.1 s of key derivation, once, on the person's explicit request. */
  identity = quipu_key_store_import_from_bytes (pem, gtk_editable_get_text (transfer->first), &error);
  if (g_error_matches (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_WRONG_PASSPHRASE))
    show_error (transfer, GTK_WIDGET (transfer->first),
                _("Wrong passphrase: it does not open this file. Nothing was imported."));
  else if (g_error_matches (error, QUIPU_KEY_STORE_ERROR, QUIPU_KEY_STORE_ERROR_NOT_AN_EXPORT))
    show_error (transfer, GTK_WIDGET (transfer->path), _("This file is not an exported Quipu identity"));
  else if (identity == NULL)
    show_error (transfer, NULL, error->message);
  else
    quipu_key_store_store_async (identity, transfer->username, NULL, transfer->cancellable,
                                 on_imported, g_steal_pointer (&dialog));
}

static void
on_import_clicked (Transfer *transfer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *name = NULL;

  name = quipu_name_normalize (gtk_editable_get_text (transfer->name), &error);
  if (name == NULL)
    {
      show_error (transfer, GTK_WIDGET (transfer->name), error->message);
      return;
    }
  g_free (transfer->username);
  transfer->username = g_steal_pointer (&name);
  set_busy (transfer, TRUE);
  file = get_file (transfer);
  g_file_load_bytes_async (file, transfer->cancellable, on_import_loaded, g_object_ref (transfer->dialog));
}

/* Exports are named after the person ("alice.quipu-identity"): the name
 * follows the file until the person types another. */
static void
on_import_path_changed (Transfer *transfer)
{
  g_autofree char *basename = g_path_get_basename (gtk_editable_get_text (transfer->path));
  const char *typed = gtk_editable_get_text (transfer->name);

  if (!g_str_has_suffix (basename, EXPORT_SUFFIX) || strlen (basename) == strlen (EXPORT_SUFFIX))
    return;
  if (*typed != '\0' && g_strcmp0 (typed, transfer->name_from_file) != 0)
    return;
  basename[strlen (basename) - strlen (EXPORT_SUFFIX)] = '\0';
  g_free (transfer->name_from_file);
  transfer->name_from_file = g_strdup (basename);
  gtk_editable_set_text (transfer->name, basename);
}

void
quipu_identity_transfer_import (GtkWidget                 *parent,
                                const char                *username,
                                QuipuIdentityImportedFunc  imported)
{
  AdwPreferencesGroup *group;
  Transfer *transfer;

  g_return_if_fail (GTK_IS_WIDGET (parent));

  transfer = transfer_new (parent, _("Import Identity"),
                           _("An identity exported from Quipu or quipu-cli on another computer, and "
                             "the passphrase chosen then."),
                           _("_Import"), G_CALLBACK (on_import_clicked), &group);
  transfer->imported = imported;
  add_file_row (transfer, group, NULL);
  transfer->name = GTK_EDITABLE (add_entry_row (transfer, group, adw_entry_row_new (), _("Name")));
  if (username != NULL)
    gtk_editable_set_text (transfer->name, username);
  transfer->first = GTK_EDITABLE (add_entry_row (transfer, group, adw_password_entry_row_new (),
                                                 _("Passphrase")));
  g_signal_connect_swapped (transfer->path, "changed", G_CALLBACK (on_import_path_changed), transfer);
  transfer_present (transfer, group, transfer->path);
}
