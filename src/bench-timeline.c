/* bench-timeline.c: the timeline with 100 000 messages, measured (issue 9)
 *
 * Not a test: run by hand (`ninja -C build src/quipu-timeline-bench`, see the
 * README) under a display, e.g. Xvfb. It fills a conversation through the
 * library's own model API — history pages of 50, newest first, exactly as
 * quipu_conversation_add_message and quipu_conversation_page_loaded get
 * them from the client, only without a server (an in-process server would
 * measure the network, and would take minutes for 100 000) — then shows the
 * app's real QuipuTimeline in a window, scrolls it from the top to the
 * bottom a step per frame and prints what the frame clock saw. */
#define G_LOG_DOMAIN "quipu-timeline-bench"

#include "config.h"

#include <adwaita.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quipu-conversation-private.h"
#include "quipu-frame.h"
#include "quipu-message-private.h"
#include "quipu-message-row.h"
#include "quipu-timeline.h"

#define PAGE 50
/* One message every 37 s: a day separator every ~2300 messages. */
#define SPACING_MS (37 * 1000)
/* Frames before the scroll starts, for the first layout to settle. */
#define WARMUP_FRAMES 30

typedef struct {
  GtkWidget     *window;
  QuipuTimeline *timeline;
  GtkAdjustment *vadjustment;
  double         step;
  guint          frames_at_bottom;
  guint          max_frames;  /* 0: all the way down */
  GArray        *intervals;   /* double, ms between frames (frame clock) */
  GArray        *work;        /* double, ms spent inside each frame */
  GArray        *layout;      /* double, ms of it up to the end of layout */
  GArray        *cpu;         /* double, ms of CPU the process used in it */
  gint64         last_frame;
  gint64         frame_start;
  gint64         cpu_start;
  gint64         layout_end;
  gint64         cpu_layout_end;
  guint          warmup;
  gboolean       scrolling;
  gboolean       done;
} Bench;

static guint n_messages = 100000;

/* Diagnostics (QUIPU_BENCH_COUNT=1), per frame: real (uncached) measures
 * of labels and how many labels they touched, rows created and bound, CSS
 * changes and the rows they were in, the list's measure and allocate. */
static void (*label_measure) (GtkWidget *, GtkOrientation, int, int *, int *, int *, int *);
static guint label_measures;
static GHashTable *labels_measured;
static GHashTable *label_widths;
static gint64 label_measure_us;
static gint64 wrap_measure_us;
static guint wrap_measures;
static guint wrap_measures_in_frame;
static guint rows_created;
static guint binds;
static guint css_changes;
static gint64 list_allocate_us;
static gint64 scroll_us;
static gint64 list_measure_us;
static void (*list_allocate) (GtkWidget *, int, int, int);
static void (*list_measure) (GtkWidget *, GtkOrientation, int, int *, int *, int *, int *);
static GHashTable *css_rows;
static void (*widget_css_changed) (GtkWidget *, GtkCssStyleChange *);
static gint64 bind_us;
static gint64 bind_start;
static void (*row_constructed) (GObject *);

static void
timed_list_allocate (GtkWidget *widget,
                     int        width,
                     int        height,
                     int        baseline)
{
  gint64 start = g_get_monotonic_time ();

  list_allocate (widget, width, height, baseline);
  list_allocate_us += g_get_monotonic_time () - start;
}

static void
counting_css_changed (GtkWidget         *widget,
                      GtkCssStyleChange *change)
{
  if (css_rows != NULL)
    {
      css_changes++;
      g_hash_table_add (css_rows, gtk_widget_get_ancestor (widget, QUIPU_TYPE_MESSAGE_ROW));
    }
  widget_css_changed (widget, change);
}

static gboolean
on_bind_hook (GSignalInvocationHint *hint,
              guint                  n_params,
              const GValue          *params,
              gpointer               user_data)
{
  bind_start = g_get_monotonic_time ();
  return TRUE;
}

static void
on_bind_after (void)
{
  binds++;
  bind_us += g_get_monotonic_time () - bind_start;
}

/* The first widget of `type` in `widget`'s tree, depth first. */
static GtkWidget *
find_descendant (GtkWidget *widget,
                 GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_descendant (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Widgets (each a CSS node) under @widget and itself: all, and those
 * shown. GTK walks the shown ones when a row moves among its siblings. */
static void
count_nodes (GtkWidget *widget,
             guint     *all,
             guint     *shown)
{
  (*all)++;
  if (gtk_widget_get_visible (widget))
    (*shown)++;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      guint child_shown = 0;

      count_nodes (child, all, &child_shown);
      if (gtk_widget_get_visible (widget))
        *shown += child_shown;
    }
}

static void
print_nodes_per_row (GtkWidget *list)
{
  guint rows = 0, all = 0, shown = 0;

  for (GtkWidget *row = gtk_widget_get_first_child (list); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    {
      if (find_descendant (row, QUIPU_TYPE_MESSAGE_ROW) == NULL)
        continue;
      rows++;
      count_nodes (row, &all, &shown);
    }
  if (rows > 0)
    printf ("CSS nodes per row   %.1f, shown %.1f (%u rows kept by the list)\n",
            (double) all / rows, (double) shown / rows, rows);
}

static void
counting_row_constructed (GObject *object)
{
  rows_created++;
  if (row_constructed != NULL)
    row_constructed (object);
}

/* Installed as both GtkLabel's and GtkListView's measure: counts the
 * labels' real (uncached) measures, times the list's. */
static void
diagnostic_measure (GtkWidget      *widget,
                    GtkOrientation  orientation,
                    int             for_size,
                    int            *minimum,
                    int            *natural,
                    int            *minimum_baseline,
                    int            *natural_baseline)
{
  gint64 start = g_get_monotonic_time ();
  gint64 took;

  if (GTK_IS_LIST_VIEW (widget))
    {
      list_measure (widget, orientation, for_size, minimum, natural, minimum_baseline, natural_baseline);
      list_measure_us += g_get_monotonic_time () - start;
      return;
    }

  label_measure (widget, orientation, for_size, minimum, natural, minimum_baseline, natural_baseline);
  took = g_get_monotonic_time () - start;
  label_measures++;
  label_measure_us += took;
  g_hash_table_add (labels_measured, widget);
  g_hash_table_add (label_widths, GINT_TO_POINTER (for_size * 2 + orientation));
  if (gtk_label_get_wrap (GTK_LABEL (widget)))
    {
      wrap_measures++;
      wrap_measures_in_frame++;
      wrap_measure_us += took;
    }
}

static const char * const senders[] = { "alice", "bob", "carol", "dave", "erin" };
static const char * const sender_ids[] = {
  "a1b2c3d4e5f60718", "b2c3d4e5f6071829", "c3d4e5f60718293a",
  "d4e5f60718293a4b", "e5f60718293a4b5c",
};
static const char words[] =
  "the quick brown fox jumps over the lazy dog while a QUIC stream carries "
  "our signed messages across the room and everyone reads them in order, "
  "see https://example.invalid/notes for the minutes of yesterday's meeting";

/* Heap in use (main arena and mmapped blocks), in bytes. */
static size_t
heap_in_use (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return info.uordblks + info.hblkhd;
}

/* A field of /proc/self/status in kB, or 0. */
static guint64
status_kb (const char *field)
{
  g_autofree char *text = NULL;
  const char *line;
  size_t len = strlen (field);

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return 0;
  for (line = text; line != NULL && *line != '\0'; line = strchr (line, '\n'))
    {
      if (*line == '\n')
        line++;
      if (strncmp (line, field, len) == 0 && line[len] == ':')
        return g_ascii_strtoull (line + len + 1, NULL, 10);
    }
  return 0;
}

/* Message @seq as the server would send it in a history page: sender, room,
 * a body of 20 to 200 characters, a timestamp. */
static QuipuMessage *
make_message (QuipuFrame *frame,
              guint64     seq)
{
  guint who = (seq / 3) % G_N_ELEMENTS (senders);   /* runs of three, grouped */
  gsize len = 20 + (seq * 7919) % 181;
  gsize start = (seq * 31) % (sizeof words - 1 - 200);
  g_autofree char *body = g_strndup (words + start, len);

  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, senders[who]);
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, "bench");
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY, body);
  frame->seq = seq;
  frame->timestamp = G_GUINT64_CONSTANT (1700000000000) + seq * SPACING_MS;
  frame->flags = QUIPU_FLAG_HISTORY;
  return quipu_message_new_from_frame (frame, sender_ids[who], "reader", FALSE);
}

/* Scrolling back through the whole history: page after page, each one
 * older than the last, each shown as one change. */
static void
fill (QuipuConversation *conv)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_MESSAGE);

  for (guint64 top = n_messages; top > 0; top -= PAGE)
    {
      for (guint64 seq = top - PAGE + 1; seq <= top; seq++)
        {
          g_autoptr(QuipuMessage) msg = make_message (frame, seq);

          quipu_conversation_add_message (conv, msg);
        }
      quipu_conversation_page_loaded (conv, top > PAGE);
    }
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
percentile (GArray *sorted,
            double  p)
{
  guint index = (guint) (p * (sorted->len - 1) + 0.5);

  return g_array_index (sorted, double, index);
}

/* CPU time of the whole process (GL renderers draw in threads of their
 * own), µs: unlike the wall clock, not inflated when the machine is busy
 * with other work. */
static gint64
cpu_time (void)
{
  struct timespec now;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * G_GINT64_CONSTANT (1000000) + now.tv_nsec / 1000;
}

/* A frame's work starts before the tick callbacks (update), layout and
 * paint, and ends after painting. */
/* The diagnostics count what happens inside a frame, not the idle work
 * between frames (the timeline measures texts ahead there). */
static void
reset_counts (void)
{
  label_measures = 0;
  label_measure_us = 0;
  wrap_measures_in_frame = 0;
  rows_created = 0;
  binds = 0;
  bind_us = 0;
  css_changes = 0;
  list_measure_us = list_allocate_us = scroll_us = 0;
  if (css_rows != NULL)
    g_hash_table_remove_all (css_rows);
  if (labels_measured != NULL)
    {
      g_hash_table_remove_all (labels_measured);
      g_hash_table_remove_all (label_widths);
    }
}

static void
on_before_paint (GdkFrameClock *clock,
                 Bench         *bench)
{
  reset_counts ();
  bench->frame_start = g_get_monotonic_time ();
  bench->cpu_start = cpu_time ();
}

/* Connected after the window's own handler: the end of measuring and
 * allocating the rows (binding new ones happens in there too). What comes
 * after is the paint phase: snapshot and render. */
static void
on_layout (GdkFrameClock *clock,
           Bench         *bench)
{
  bench->layout_end = g_get_monotonic_time ();
  bench->cpu_layout_end = cpu_time ();
}

/* Two figures per frame: the interval since the previous one as the frame
 * clock saw it (what a person sees; paced by the display's refresh), and
 * the time the frame itself took (what the timeline and GTK cost, free of
 * the pacing). */
static void
on_after_paint (GdkFrameClock *clock,
                Bench         *bench)
{
  gint64 frame_time = gdk_frame_clock_get_frame_time (clock);

  if (bench->scrolling && bench->last_frame != 0 && bench->frame_start != 0)
    {
      double interval = (frame_time - bench->last_frame) / 1000.0;
      double work = (g_get_monotonic_time () - bench->frame_start) / 1000.0;
      double layout = (bench->layout_end - bench->frame_start) / 1000.0;
      double cpu = (cpu_time () - bench->cpu_start) / 1000.0;

      g_array_append_val (bench->cpu, cpu);

      g_array_append_val (bench->intervals, interval);
      g_array_append_val (bench->work, work);
      g_array_append_val (bench->layout, layout);
      if (labels_measured != NULL)
        printf ("frame %u: work %.1f ms, layout %.1f ms, CPU %.1f ms of it to layout %.1f ms, label measures %u (%.1f ms, wrapping %u), labels %u, "
                "sizes %u, rows created %u, binds %u (%.1f ms), css changes %u in %u rows, list measure %.1f allocate %.1f ms, scroll (binds) %.1f ms, value %.0f upper %.0f\n",
                bench->work->len, work, layout, cpu,
                (bench->cpu_layout_end - bench->cpu_start) / 1000.0, label_measures, label_measure_us / 1000.0, wrap_measures_in_frame,
                g_hash_table_size (labels_measured), g_hash_table_size (label_widths), rows_created,
                binds, bind_us / 1000.0, css_changes, g_hash_table_size (css_rows),
                list_measure_us / 1000.0, list_allocate_us / 1000.0, scroll_us / 1000.0, gtk_adjustment_get_value (bench->vadjustment),
                gtk_adjustment_get_upper (bench->vadjustment));
    }
  bench->last_frame = frame_time;
}

static void
print_times (const char *what,
             GArray     *times)
{
  g_autoptr(GArray) sorted = g_array_copy (times);

  if (sorted->len == 0)
    return;
  g_array_sort (sorted, compare_double);
  printf ("%-19s p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what,
          percentile (sorted, 0.50), percentile (sorted, 0.99),
          g_array_index (sorted, double, sorted->len - 1));
}

/* QUIPU_BENCH_SHOT=FILE.png: what the timeline shows at the end, to look
 * at the rows (the bench's own renderer draws it). */
static void
save_shot (GtkWidget  *widget,
           const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;

  gdk_paintable_snapshot (paintable, snapshot, gtk_widget_get_width (widget),
                          gtk_widget_get_height (widget));
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, NULL);
  gdk_texture_save_to_png (texture, path);
}

/* A row that mentions its reader ("carol" here), alone in a window. */
static void
shot_mention (const char *path)
{
  g_autoptr(QuipuFrame) frame = quipu_frame_new (QUIPU_FRAME_MESSAGE);
  g_autoptr(QuipuMessage) message = NULL;
  GtkWidget *window = gtk_window_new ();
  GtkWidget *row = quipu_message_row_new ();

  quipu_frame_set_string (frame, QUIPU_FIELD_SENDER, "alice");
  quipu_frame_set_string (frame, QUIPU_FIELD_ROOM, "bench");
  quipu_frame_set_string (frame, QUIPU_FIELD_BODY,
                          "@Carol, <b>not bold</b> see https://example.invalid/carol and ask carol-bot, "
                          "or CAROL herself");
  frame->seq = 1;
  frame->timestamp = G_GUINT64_CONSTANT (1700000000000);
  message = quipu_message_new_from_frame (frame, sender_ids[0], "carol", FALSE);
  quipu_message_row_bind (QUIPU_MESSAGE_ROW (row), message, NULL, FALSE, "carol");
  gtk_window_set_default_size (GTK_WINDOW (window), 800, 120);
  gtk_window_set_child (GTK_WINDOW (window), row);
  gtk_window_present (GTK_WINDOW (window));
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  while (!gtk_widget_get_mapped (window) || gtk_widget_get_height (row) == 0)
    g_main_context_iteration (NULL, TRUE);
  save_shot (row, path);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* One step down per frame; stops a few frames after the bottom. */
static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       user_data)
{
  Bench *bench = user_data;
  double value = gtk_adjustment_get_value (bench->vadjustment);
  double upper = gtk_adjustment_get_upper (bench->vadjustment);
  double page = gtk_adjustment_get_page_size (bench->vadjustment);

  if (bench->warmup > 0)
    {
      /* The view opens at the bottom: go to the top first. */
      if (--bench->warmup == WARMUP_FRAMES / 2)
        gtk_adjustment_set_value (bench->vadjustment, 0);
      return G_SOURCE_CONTINUE;
    }
  if (!bench->scrolling)
    {
      bench->scrolling = TRUE;
      bench->last_frame = 0;
    }
  if (value + page >= upper - 1
      || (bench->max_frames > 0 && bench->intervals->len >= bench->max_frames))
    {
      if (++bench->frames_at_bottom < 5)
        return G_SOURCE_CONTINUE;
      bench->done = TRUE;
      return G_SOURCE_REMOVE;
    }
  {
    gint64 start = g_get_monotonic_time ();

    gtk_adjustment_set_value (bench->vadjustment, MIN (value + bench->step, upper - page));
    scroll_us = g_get_monotonic_time () - start;
  }
  return G_SOURCE_CONTINUE;
}

/* The app's row on its own, in a window of the same width: binding a
 * message (for a reader whose mentions are looked for, as in the app) and
 * measuring its height for that width, as the list does for a row that
 * scrolls into view. Prints the mean and the worst. */
static void
bench_row (QuipuConversation *conv)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *row = quipu_message_row_new ();
  GListModel *model = G_LIST_MODEL (conv);
  guint n = MIN (2000, g_list_model_get_n_items (model));
  double total = 0, worst = 0, bind_total = 0;

  gtk_window_set_default_size (GTK_WINDOW (window), 800, 640);
  gtk_window_set_child (GTK_WINDOW (window), row);
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (window))
    g_main_context_iteration (NULL, TRUE);

  label_measures = 0;
  label_measure_us = 0;
  for (guint i = 1; i < n; i++)
    {
      g_autoptr(QuipuMessage) message = g_list_model_get_item (model, i);
      g_autoptr(QuipuMessage) previous = g_list_model_get_item (model, i - 1);
      gint64 start = g_get_monotonic_time ();
      double ms;
      int height;

      quipu_message_row_unbind (QUIPU_MESSAGE_ROW (row));
      quipu_message_row_bind (QUIPU_MESSAGE_ROW (row), message, previous, FALSE, "reader");
      bind_total += (g_get_monotonic_time () - start) / 1000.0;
      gtk_widget_measure (row, GTK_ORIENTATION_VERTICAL, 800, &height, NULL, NULL, NULL);
      ms = (g_get_monotonic_time () - start) / 1000.0;
      total += ms;
      worst = MAX (worst, ms);
    }
  if (labels_measured != NULL)
    printf ("label measures      %.1f per row (%.3f ms), of them wrapping %.1f (%.3f ms)\n",
            (double) label_measures / (n - 1), label_measure_us / 1000.0 / (n - 1),
            (double) wrap_measures / (n - 1), wrap_measure_us / 1000.0 / (n - 1));
  printf ("row bind+measure    mean %.3f ms, max %.2f ms (%u rows, outside the list), "
          "bind alone mean %.3f ms\n", total / (n - 1), worst, n - 1, bind_total / (n - 1));
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(QuipuConversation) conv = NULL;
  Bench bench = { 0 };
  size_t heap_before, heap_after;
  guint64 rss_before, rss_after;
  gint64 start, filled;
  /* Usage: quipu-timeline-bench [STEP_PIXELS [MAX_FRAMES [MESSAGES]]];
   * 0 for the default of each. MESSAGES is rounded down to whole pages. */
  double step_px = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 0;
  double pixels;

  if (argc > 3 && g_ascii_strtoull (argv[3], NULL, 10) >= PAGE)
    n_messages = (guint) g_ascii_strtoull (argv[3], NULL, 10) / PAGE * PAGE;
  /* Figures as they come, also into a pipe. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (g_getenv ("QUIPU_BENCH_COUNT") != NULL)
    {
      /* Before any widget class copies the pointer. */
      GtkWidgetClass *klass = g_type_class_ref (GTK_TYPE_WIDGET);

      widget_css_changed = klass->css_changed;
      klass->css_changed = counting_css_changed;
      css_rows = g_hash_table_new (NULL, NULL);
    }
  adw_init ();
  if (g_getenv ("QUIPU_BENCH_COUNT") != NULL)
    {
      GtkWidgetClass *klass = g_type_class_ref (GTK_TYPE_LABEL);

      label_measure = klass->measure;
      klass->measure = diagnostic_measure;
      labels_measured = g_hash_table_new (NULL, NULL);
      label_widths = g_hash_table_new (NULL, NULL);
      klass = g_type_class_ref (GTK_TYPE_LIST_VIEW);
      list_allocate = klass->size_allocate;
      klass->size_allocate = timed_list_allocate;
      list_measure = klass->measure;
      klass->measure = diagnostic_measure;
      row_constructed = G_OBJECT_CLASS (g_type_class_ref (QUIPU_TYPE_MESSAGE_ROW))->constructed;
      G_OBJECT_CLASS (g_type_class_ref (QUIPU_TYPE_MESSAGE_ROW))->constructed = counting_row_constructed;
    }
  /* The app's own style sheet, as its AdwApplication loads it. */
  {
    g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();

    gtk_css_provider_load_from_resource (css, "/io/github/quipuchat/Quipu/style.css");
    gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                                GTK_STYLE_PROVIDER (css),
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  }

  /* The model alone: what 100 000 messages cost and how long they take. */
  malloc_trim (0);
  heap_before = heap_in_use ();
  rss_before = status_kb ("VmRSS");
  start = g_get_monotonic_time ();
  conv = quipu_conversation_new_room (NULL, "bench");
  fill (conv);
  filled = g_get_monotonic_time ();
  if (g_getenv ("QUIPU_BENCH_SHOT") != NULL)
    {
      /* The last rows in every state a row can show. */
      GListModel *model = G_LIST_MODEL (conv);
      guint n = g_list_model_get_n_items (model);
      g_autoptr(QuipuMessage) forged = g_list_model_get_item (model, n - 5);
      g_autoptr(QuipuMessage) changed = g_list_model_get_item (model, n - 3);
      g_autoptr(QuipuMessage) pending = g_list_model_get_item (model, n - 1);

      quipu_message_set_verification (forged, QUIPU_VERIFICATION_INVALID);
      quipu_message_set_verification (changed, QUIPU_VERIFICATION_KEY_CHANGED);
      quipu_message_set_status (pending, QUIPU_MESSAGE_PENDING);
    }
  heap_after = heap_in_use ();
  rss_after = status_kb ("VmRSS");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (conv)), ==, n_messages);

  printf ("messages            %u\n", n_messages);
  printf ("fill time           %.1f ms (%.2f µs per message)\n", (filled - start) / 1000.0,
          (double) (filled - start) / n_messages);
  printf ("model heap          %.0f bytes per message (mallinfo2)\n",
          (double) (heap_after - heap_before) / n_messages);
  printf ("model RSS           %.0f bytes per message (VmRSS delta)\n",
          (rss_after - rss_before) * 1024.0 / n_messages);

  bench_row (conv);

  /* The app's real timeline, about as large as its pane in the app's
   * default 960×680 window. */
  bench.intervals = g_array_new (FALSE, FALSE, sizeof (double));
  bench.work = g_array_new (FALSE, FALSE, sizeof (double));
  bench.layout = g_array_new (FALSE, FALSE, sizeof (double));
  bench.cpu = g_array_new (FALSE, FALSE, sizeof (double));
  bench.warmup = WARMUP_FRAMES;
  bench.max_frames = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : 0;
  bench.window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (bench.window), 800, 640);
  bench.timeline = g_object_new (QUIPU_TYPE_TIMELINE, "conversation", conv, NULL);
  gtk_window_set_child (GTK_WINDOW (bench.window), GTK_WIDGET (bench.timeline));
  gtk_window_present (GTK_WINDOW (bench.window));
  bench.vadjustment = gtk_scrolled_window_get_vadjustment (
    GTK_SCROLLED_WINDOW (find_descendant (GTK_WIDGET (bench.timeline), GTK_TYPE_SCROLLED_WINDOW)));
  g_assert_nonnull (bench.vadjustment);
  if (labels_measured != NULL)
    {
      GtkListItemFactory *factory =
        gtk_list_view_get_factory (GTK_LIST_VIEW (find_descendant (GTK_WIDGET (bench.timeline),
                                                                    GTK_TYPE_LIST_VIEW)));

      g_signal_add_emission_hook (g_signal_lookup ("bind", GTK_TYPE_SIGNAL_LIST_ITEM_FACTORY), 0,
                                  on_bind_hook, NULL, NULL);
      g_signal_connect_after (factory, "bind", G_CALLBACK (on_bind_after), NULL);
    }

  /* The first frames realize the window and lay out the visible rows. */
  while (!gtk_widget_get_mapped (bench.window))
    g_main_context_iteration (NULL, TRUE);
  g_signal_connect (gtk_widget_get_frame_clock (bench.window), "before-paint",
                    G_CALLBACK (on_before_paint), &bench);
  g_signal_connect (gtk_widget_get_frame_clock (bench.window), "layout",
                    G_CALLBACK (on_layout), &bench);
  g_signal_connect (gtk_widget_get_frame_clock (bench.window), "after-paint",
                    G_CALLBACK (on_after_paint), &bench);
  gtk_widget_add_tick_callback (bench.window, on_tick, &bench, NULL);
  /* GtkListView estimates the height of rows it has not laid out, so
   * upper is an estimate that settles while scrolling: a step is a fixed
   * number of pixels, by default a screenful per frame — the hardest
   * scroll, every visible row bound anew in every frame. */
  while (bench.warmup > 0)
    g_main_context_iteration (NULL, TRUE);
  bench.step = step_px > 0 ? step_px : gtk_adjustment_get_page_size (bench.vadjustment);
  pixels = gtk_adjustment_get_upper (bench.vadjustment);
  while (!bench.done)
    g_main_context_iteration (NULL, TRUE);

  print_nodes_per_row (find_descendant (GTK_WIDGET (bench.timeline), GTK_TYPE_LIST_VIEW));
  printf ("renderer            %s\n", G_OBJECT_TYPE_NAME (gtk_native_get_renderer (GTK_NATIVE (bench.window))));
  printf ("scroll              %.0f px per frame, %.0f px (upper at start), %u frames\n",
          bench.step, pixels, bench.intervals->len);
  print_times ("frame interval", bench.intervals);
  print_times ("frame work", bench.work);
  print_times ("  of it to layout", bench.layout);
  print_times ("frame CPU", bench.cpu);
  printf ("app RSS             VmRSS %" G_GUINT64_FORMAT " kB, VmHWM %" G_GUINT64_FORMAT " kB\n",
          status_kb ("VmRSS"), status_kb ("VmHWM"));

  if (g_getenv ("QUIPU_BENCH_SHOT") != NULL)
    {
      g_autofree char *row_shot = g_strconcat (g_getenv ("QUIPU_BENCH_SHOT"), "-mention.png", NULL);

      save_shot (GTK_WIDGET (bench.timeline), g_getenv ("QUIPU_BENCH_SHOT"));
      shot_mention (row_shot);
    }
  gtk_window_destroy (GTK_WINDOW (bench.window));
  g_array_unref (bench.intervals);
  g_array_unref (bench.work);
  g_array_unref (bench.layout);
  g_array_unref (bench.cpu);
  return EXIT_SUCCESS;
}
