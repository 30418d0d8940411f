/* quipu-timeline.c: the message list of one conversation */
#define G_LOG_DOMAIN "quipu-timeline"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "quipu-conversation.h"
#include "quipu-message-row.h"
#include "quipu-timeline.h"

#define PAGE_SIZE 50
/* "At the bottom" tolerates this much, so rounding never unsticks. */
#define BOTTOM_SLACK 8.0
/* Texts measured ahead of the scroll, past the last row the list bound in
 * its direction, and how long one go between frames may take. */
#define AHEAD_ROWS 200
#define AHEAD_BUDGET_US 2000
#define NO_FRONTIER G_MAXUINT
/* A row bound this far behind the frontier: the scroll turned. */
#define TURN_ROWS 100

struct _QuipuTimeline
{
  GtkWidget          parent_instance;

  GtkWidget         *overlay;
  GtkScrolledWindow *scroller;
  GtkListView       *list_view;
  GtkRevealer       *jump_revealer;
  GtkRevealer       *loading_revealer;

  QuipuConversation *conversation;
  GtkNoSelection    *selection;
  GtkAdjustment     *vadjustment;
  QuipuMessage      *first_unread;
  GCancellable      *cancellable;
  /* QuipuMessage → its QuipuMessageRow while bound, to redo the one whose
   * neighbour above changed (a page prepended above it). */
  GHashTable        *bound;

  /* Measuring ahead: the first measure of a text (shaping it) is most of
   * what a row costs, and a fast scroll brings a dozen new ones into the
   * list's kept rows in one frame. Between frames, at low priority, a
   * spare row in no list measures the texts the list will bind next. */
  QuipuMessageRow   *measurer;
  guint              ahead_id;
  guint              frontier;     /* furthest position bound, scrolling on */
  guint              ahead_done;   /* positions past it looked at */
  int                direction;    /* 1 down, -1 up */

  guint              repin_id;
  guint              fill_id;
  gboolean           sticky;
  gboolean           own_scroll;
  gboolean           loading;
};

G_DEFINE_FINAL_TYPE (QuipuTimeline, quipu_timeline, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CONVERSATION,
  N_PROPS
};

enum {
  READ,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void maybe_load_older (QuipuTimeline *self);

static gboolean
is_at_bottom (QuipuTimeline *self)
{
  double value = gtk_adjustment_get_value (self->vadjustment);
  double page = gtk_adjustment_get_page_size (self->vadjustment);
  double upper = gtk_adjustment_get_upper (self->vadjustment);

  return value + page >= upper - BOTTOM_SLACK;
}

static void
mark_read (QuipuTimeline *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (self->conversation == NULL || !gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;
  if (!GTK_IS_WINDOW (root) || !gtk_window_is_active (GTK_WINDOW (root)))
    return;
  if (quipu_conversation_get_unread_count (self->conversation) > 0)
    quipu_conversation_mark_read (self->conversation);
  g_signal_emit (self, signals[READ], 0);
}

void
quipu_timeline_scroll_to_bottom (QuipuTimeline *self)
{
  guint n;

  g_return_if_fail (QUIPU_IS_TIMELINE (self));

  self->sticky = TRUE;
  gtk_revealer_set_reveal_child (self->jump_revealer, FALSE);
  if (self->selection == NULL)
    return;
  n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  if (n == 0)
    return;

  /* Our own scroll must not clear "sticky" on its way down. */
  self->own_scroll = TRUE;
  gtk_list_view_scroll_to (self->list_view, n - 1, GTK_LIST_SCROLL_NONE, NULL);
  gtk_adjustment_set_value (self->vadjustment,
                            gtk_adjustment_get_upper (self->vadjustment)
                            - gtk_adjustment_get_page_size (self->vadjustment));
  self->own_scroll = FALSE;
  mark_read (self);
}

static gboolean
on_repin_timeout (gpointer user_data)
{
  QuipuTimeline *self = user_data;

  self->repin_id = 0;
  if (self->sticky)
    quipu_timeline_scroll_to_bottom (self);
  return G_SOURCE_REMOVE;
}

/* Setting the value inside "changed" would stop upper from updating: re-pin
 * from a 0 ms timeout instead. */
static void
schedule_repin (QuipuTimeline *self)
{
  if (self->repin_id == 0)
    self->repin_id = g_timeout_add (0, on_repin_timeout, self);
}

static gboolean
on_fill_idle (gpointer user_data)
{
  QuipuTimeline *self = user_data;

  self->fill_id = 0;
  maybe_load_older (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_fill (QuipuTimeline *self)
{
  if (self->fill_id == 0)
    self->fill_id = g_timeout_add (100, on_fill_idle, self);
}

static void
on_older_loaded (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(QuipuTimeline) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!quipu_conversation_load_older_finish (QUIPU_CONVERSATION (object), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("No older page: %s", error->message);
    }

  if (QUIPU_CONVERSATION (object) != self->conversation)
    return;
  self->loading = FALSE;
  gtk_revealer_set_reveal_child (self->loading_revealer, FALSE);
  /* The whole history may fit one screen: ask again until it is full. */
  if (error == NULL)
    schedule_fill (self);
}

static void
maybe_load_older (QuipuTimeline *self)
{
  double value, page, upper;

  if (self->conversation == NULL || self->loading
      || !quipu_conversation_get_has_older (self->conversation))
    return;

  value = gtk_adjustment_get_value (self->vadjustment);
  page = gtk_adjustment_get_page_size (self->vadjustment);
  upper = gtk_adjustment_get_upper (self->vadjustment);
  if (page > 0 && value >= 2 * page && upper > page)
    return;

  self->loading = TRUE;
  gtk_revealer_set_reveal_child (self->loading_revealer, TRUE);
  quipu_conversation_load_older_async (self->conversation, PAGE_SIZE, self->cancellable,
                                       on_older_loaded, g_object_ref (self));
}

/* The text column's width in the rows shown (an unverified message's is
 * narrower, hence the widest of a few). */
static int
body_width (QuipuTimeline *self)
{
  GHashTableIter iter;
  gpointer row;
  int width = 0;
  guint looked = 0;

  g_hash_table_iter_init (&iter, self->bound);
  while (looked++ < 8 && g_hash_table_iter_next (&iter, NULL, &row))
    width = MAX (width, quipu_message_row_get_body_width (row));
  return width;
}

static gboolean
on_ahead_idle (gpointer user_data)
{
  QuipuTimeline *self = user_data;
  gint64 deadline = g_get_monotonic_time () + AHEAD_BUDGET_US;
  const char *self_name;
  GListModel *model;
  int width;
  guint n;

  width = body_width (self);
  if (self->selection == NULL || self->frontier == NO_FRONTIER || width <= 0)
    {
      self->ahead_id = 0;
      return G_SOURCE_REMOVE;
    }
  model = G_LIST_MODEL (self->selection);
  n = g_list_model_get_n_items (model);
  self_name = quipu_conversation_get_self_name (self->conversation);
  while (self->ahead_done < AHEAD_ROWS)
    {
      gint64 position = (gint64) self->frontier + self->direction * (gint64) (self->ahead_done + 1);
      g_autoptr(QuipuMessage) message = NULL;

      if (position < 0 || position >= n)
        break;
      message = g_list_model_get_item (model, position);
      self->ahead_done++;
      if (quipu_message_row_measure_ahead (self->measurer, message, self_name, width)
          && g_get_monotonic_time () >= deadline)
        return G_SOURCE_CONTINUE;
    }
  self->ahead_id = 0;
  return G_SOURCE_REMOVE;
}

static void
on_value_changed (QuipuTimeline *self)
{
  if (self->ahead_id == 0 && self->selection != NULL)
    self->ahead_id = g_idle_add_full (G_PRIORITY_LOW, on_ahead_idle, self, NULL);

  if (self->own_scroll)
    return;

  self->sticky = is_at_bottom (self);
  gtk_revealer_set_reveal_child (self->jump_revealer, !self->sticky);
  if (self->sticky)
    mark_read (self);
  maybe_load_older (self);
}

static void
on_adjustment_changed (QuipuTimeline *self)
{
  if (self->sticky)
    schedule_repin (self);
}

static void bind_message (QuipuTimeline *self, QuipuMessageRow *row, QuipuMessage *message, guint position);

static void
on_items_changed (QuipuTimeline *self,
                  guint          position,
                  guint          removed,
                  guint          added,
                  GListModel    *model)
{
  guint n = g_list_model_get_n_items (model);
  g_autoptr(QuipuMessage) newest = NULL;

  /* The row just below the change has a new neighbour above: its day
   * separator and sender header may have to go. */
  if (added > 0 && position + added < n)
    {
      g_autoptr(QuipuMessage) below = g_list_model_get_item (model, position + added);
      QuipuMessageRow *row = g_hash_table_lookup (self->bound, below);

      if (row != NULL)
        bind_message (self, row, below, position + added);
    }

  if (added == 0 || position + added != n)
    return;

  /* Appended: a live message, or our own just sent. */
  newest = g_list_model_get_item (model, n - 1);
  if (!quipu_message_is_own (newest) && !quipu_message_is_history (newest))
    {
      /* Translators: read by screen readers for a new message: sender, then text */
      g_autofree char *text = g_strdup_printf (_("%s: %s"), quipu_message_get_sender (newest),
                                               quipu_message_get_body (newest));

      gtk_accessible_announce (GTK_ACCESSIBLE (self->list_view), text,
                               GTK_ACCESSIBLE_ANNOUNCEMENT_PRIORITY_MEDIUM);
    }

  if (self->sticky || quipu_message_is_own (newest))
    {
      self->sticky = TRUE;
      schedule_repin (self);
    }
  else
    gtk_revealer_set_reveal_child (self->jump_revealer, TRUE);
}

static void
on_jump_clicked (QuipuTimeline *self)
{
  quipu_timeline_scroll_to_bottom (self);
}

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  gtk_list_item_set_child (item, quipu_message_row_new ());
}

static void
bind_message (QuipuTimeline   *self,
              QuipuMessageRow *row,
              QuipuMessage    *message,
              guint            position)
{
  g_autoptr(QuipuMessage) previous = NULL;

  if (position > 0)
    previous = g_list_model_get_item (G_LIST_MODEL (self->selection), position - 1);
  quipu_message_row_bind (row, message, previous, message == self->first_unread,
                          quipu_conversation_get_self_name (self->conversation));
  g_hash_table_replace (self->bound, message, row);

  /* The list binds rows at the end of its kept ones that the scroll goes
   * towards (the adjustment's value is no guide: the list itself moves it
   * back and forth as its estimates change). */
  if (self->frontier != NO_FRONTIER
      && ABS ((gint64) position - (gint64) self->frontier) > TURN_ROWS)
    self->direction = (gint64) position > (gint64) self->frontier ? 1 : -1;
  if (self->frontier == NO_FRONTIER
      || (self->direction > 0 ? position > self->frontier : position < self->frontier))
    {
      self->frontier = position;
      self->ahead_done = 0;
    }
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *item,
          QuipuTimeline            *self)
{
  bind_message (self, QUIPU_MESSAGE_ROW (gtk_list_item_get_child (item)),
                gtk_list_item_get_item (item), gtk_list_item_get_position (item));
}

static void
unbind_row (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            QuipuTimeline            *self)
{
  QuipuMessageRow *row = QUIPU_MESSAGE_ROW (gtk_list_item_get_child (item));
  QuipuMessage *message = gtk_list_item_get_item (item);

  if (self->bound != NULL && message != NULL && g_hash_table_lookup (self->bound, message) == row)
    g_hash_table_remove (self->bound, message);
  quipu_message_row_unbind (row);
}

QuipuConversation *
quipu_timeline_get_conversation (QuipuTimeline *self)
{
  g_return_val_if_fail (QUIPU_IS_TIMELINE (self), NULL);

  return self->conversation;
}

void
quipu_timeline_set_conversation (QuipuTimeline     *self,
                                 QuipuConversation *conversation)
{
  guint unread, n;

  g_return_if_fail (QUIPU_IS_TIMELINE (self));
  g_return_if_fail (conversation == NULL || QUIPU_IS_CONVERSATION (conversation));

  if (self->conversation == conversation)
    return;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->conversation != NULL)
    g_signal_handlers_disconnect_by_data (self->conversation, self);
  g_clear_object (&self->first_unread);
  g_clear_handle_id (&self->fill_id, g_source_remove);
  g_clear_handle_id (&self->ahead_id, g_source_remove);
  self->frontier = NO_FRONTIER;
  self->loading = FALSE;
  gtk_revealer_set_reveal_child (self->loading_revealer, FALSE);

  g_set_object (&self->conversation, conversation);
  g_clear_object (&self->selection);
  g_hash_table_remove_all (self->bound);

  if (conversation != NULL)
    {
      self->cancellable = g_cancellable_new ();
      n = g_list_model_get_n_items (G_LIST_MODEL (conversation));
      unread = quipu_conversation_get_unread_count (conversation);
      if (unread > 0 && unread <= n)
        self->first_unread = g_list_model_get_item (G_LIST_MODEL (conversation), n - unread);

      self->selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (conversation)));
      g_signal_connect_object (conversation, "items-changed", G_CALLBACK (on_items_changed),
                               self, G_CONNECT_SWAPPED | G_CONNECT_AFTER);
    }
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));

  self->sticky = TRUE;
  schedule_repin (self);
  schedule_fill (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONVERSATION]);
}

static void
quipu_timeline_dispose (GObject *object)
{
  QuipuTimeline *self = QUIPU_TIMELINE (object);

  quipu_timeline_set_conversation (self, NULL);
  g_clear_pointer (&self->bound, g_hash_table_unref);
  g_clear_handle_id (&self->repin_id, g_source_remove);
  g_clear_handle_id (&self->fill_id, g_source_remove);
  g_clear_handle_id (&self->ahead_id, g_source_remove);
  g_clear_object (&self->measurer);
  gtk_widget_dispose_template (GTK_WIDGET (self), QUIPU_TYPE_TIMELINE);

  G_OBJECT_CLASS (quipu_timeline_parent_class)->dispose (object);
}

static void
quipu_timeline_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  QuipuTimeline *self = QUIPU_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION:
      g_value_set_object (value, self->conversation);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_timeline_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  QuipuTimeline *self = QUIPU_TIMELINE (object);

  switch (prop_id)
    {
    case PROP_CONVERSATION:
      quipu_timeline_set_conversation (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_timeline_class_init (QuipuTimelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = quipu_timeline_dispose;
  object_class->get_property = quipu_timeline_get_property;
  object_class->set_property = quipu_timeline_set_property;

  properties[PROP_CONVERSATION] =
    g_param_spec_object ("conversation", NULL, NULL, QUIPU_TYPE_CONVERSATION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[READ] = g_signal_new ("read", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/quipuchat/Quipu/quipu-timeline.ui");
  /* Bound so that dispose_template unparents it. */
  gtk_widget_class_bind_template_child (widget_class, QuipuTimeline, overlay);
  gtk_widget_class_bind_template_child (widget_class, QuipuTimeline, scroller);
  gtk_widget_class_bind_template_child (widget_class, QuipuTimeline, list_view);
  gtk_widget_class_bind_template_child (widget_class, QuipuTimeline, jump_revealer);
  gtk_widget_class_bind_template_child (widget_class, QuipuTimeline, loading_revealer);
  gtk_widget_class_bind_template_callback (widget_class, on_jump_clicked);
}

static void
quipu_timeline_init (QuipuTimeline *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
  self->bound = g_hash_table_new (NULL, NULL);
  self->measurer = g_object_ref_sink (QUIPU_MESSAGE_ROW (quipu_message_row_new ()));
  self->frontier = NO_FRONTIER;
  self->direction = 1;

  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row), self);
  gtk_list_view_set_factory (self->list_view, factory);

  self->vadjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_object (self->vadjustment, "value-changed", G_CALLBACK (on_value_changed),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "changed", G_CALLBACK (on_adjustment_changed),
                           self, G_CONNECT_SWAPPED);
  self->sticky = TRUE;
}
