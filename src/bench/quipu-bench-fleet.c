#define G_LOG_DOMAIN "quipu-bench-fleet"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "quipu-bench-fleet.h"
#include "quipu-bench-measure.h"
#include "quipu-client-bench.h"

/* Errors worth printing in full before they become a count. */
#define MAX_ERRORS_SHOWN 5

typedef struct {
  QuipuBenchFleet *fleet;
  QuipuClient     *client;
  int              room;        /* index in fleet->rooms, -1: none */
  guint            in_flight;   /* sender: unacknowledged messages */
} Session;

struct _QuipuBenchFleet {
  QuipuBenchFleetOptions options;
  char                  *fingerprint;
  char                  *trust_store_path;
  char                  *known_users_path;
  GPtrArray             *endpoints;    /* QuipuEndpoint *, shared by the sessions */
  GPtrArray             *sessions;     /* Session * */
  GPtrArray             *rooms;        /* char * */
  GArray                *room_members; /* guint per room */
  QuipuBenchCounters     counters;
  QuipuBenchHistogram   *latency;
  GRand                 *rand;         /* which deliveries are verified */

  guint                  next_login;   /* the next session to log in */
  guint                  logins_in_flight;

  gboolean               sending;
  guint                  n_senders;
  gsize                  size;
  double                 rate;
  guint                  window;
  gint64                 send_start_us;
  guint64                limit;        /* stop after this many sent; 0: none */
  guint64                issued;       /* at a rate: messages handed to senders */
  guint                  next_sender;
  guint                  rate_source;
};

static void
count_error (QuipuBenchFleet *self,
             const char      *what,
             const GError    *error)
{
  if (self->counters.errors++ < MAX_ERRORS_SHOWN)
    g_printerr ("quipu-bench: %s: %s\n", what, error != NULL ? error->message : "(no detail)");
}

/* Sending. */

static void
send_one (Session *session)
{
  QuipuBenchFleet *self = session->fleet;
  g_autofree char *body = quipu_bench_body_new (self->size);
  g_autoptr(GError) error = NULL;
  g_autoptr(QuipuMessage) msg = NULL;

  if (self->limit > 0 && self->counters.sent >= self->limit)
    return;
  msg = quipu_client_send_to_room (session->client, g_ptr_array_index (self->rooms, session->room),
                                   body, &error);
  if (msg == NULL)
    {
      count_error (self, "send", error);
      return;
    }
  session->in_flight++;
  self->counters.sent++;
}

static gboolean
rate_tick_cb (gpointer data)
{
  QuipuBenchFleet *self = data;
  double elapsed = (double) (g_get_monotonic_time () - self->send_start_us) / G_USEC_PER_SEC;
  guint64 due = (guint64) (elapsed * self->rate);
  guint idle_senders = 0;

  /* Round robin over the senders; one with a full window is skipped (the
   * shortfall shows as a lower rate than asked, never as a queue here). */
  while (self->issued < due && idle_senders < self->n_senders)
    {
      Session *session = g_ptr_array_index (self->sessions, self->next_sender);

      self->next_sender = (self->next_sender + 1) % self->n_senders;
      if (session->in_flight >= self->window)
        {
          idle_senders++;
          continue;
        }
      idle_senders = 0;
      send_one (session);
      self->issued++;
    }
  if (self->issued < due)
    self->issued = due;
  return G_SOURCE_CONTINUE;
}

static void
on_message_acked (QuipuClient  *client,
                  QuipuMessage *msg,
                  Session      *session)
{
  QuipuBenchFleet *self = session->fleet;

  session->in_flight--;
  self->counters.acked++;
  self->counters.expected += g_array_index (self->room_members, guint, session->room) - 1;
  if (self->sending && self->rate == 0)
    send_one (session);
}

static void
on_message_failed (QuipuClient  *client,
                   QuipuMessage *msg,
                   const GError *error,
                   Session      *session)
{
  session->in_flight--;
  count_error (session->fleet, "a message was refused", error);
}

void
quipu_bench_fleet_start_sending (QuipuBenchFleet *self,
                                 guint            n_senders,
                                 gsize            size,
                                 double           rate,
                                 guint            window,
                                 guint64          limit)
{
  g_return_if_fail (n_senders > 0 && n_senders <= self->sessions->len);
  g_return_if_fail (self->rooms->len > 0 && window > 0);

  self->sending = TRUE;
  self->n_senders = n_senders;
  self->size = size;
  self->rate = rate;
  self->window = window;
  self->limit = limit;
  self->send_start_us = g_get_monotonic_time ();
  if (rate > 0)
    {
      /* GLib rounds a 1 ms timeout to the loop's wakeups; the tick sends
       * whatever is due since the start, so the rate holds anyway. */
      self->rate_source = g_timeout_add (1, rate_tick_cb, self);
      return;
    }
  for (guint i = 0; i < n_senders; i++)
    for (guint j = 0; j < window; j++)
      send_one (g_ptr_array_index (self->sessions, i));
}

void
quipu_bench_fleet_stop_sending (QuipuBenchFleet *self)
{
  self->sending = FALSE;
  g_clear_handle_id (&self->rate_source, g_source_remove);
}

/* Receiving. */

/* Ed25519 verification costs more than everything else a delivery costs
 * the load client (~175 µs): a random sample of deliveries is checked,
 * each session drawing for its next message whether it checks it. */
static void
choose_verification (QuipuBenchFleet *self,
                     Session         *session)
{
  gboolean verify = self->options.verify_sample > 0 &&
                    g_rand_double (self->rand) < self->options.verify_sample;

  quipu_client_set_verify_signatures (session->client, verify);
}

static void
on_message_received (QuipuClient  *client,
                     QuipuMessage *msg,
                     Session      *session)
{
  QuipuBenchFleet *self = session->fleet;
  const char *body = quipu_message_get_body (msg);
  gint64 sent_us, now = g_get_monotonic_time ();

  if (quipu_message_is_history (msg))
    {
      self->counters.history_received++;
      return;
    }
  if (quipu_message_is_own (msg))
    return;

  if (!quipu_bench_body_get_time (body, strlen (body), &sent_us))
    {
      count_error (self, "a message without a send time", NULL);
      return;
    }
  quipu_bench_histogram_add (self->latency, now - sent_us);
  self->counters.delivered++;
  self->counters.last_delivery_us = now;
  switch (quipu_message_get_verification (msg))
    {
    case QUIPU_VERIFICATION_SKIPPED:
      break;
    case QUIPU_VERIFICATION_VALID:
      self->counters.verified++;
      break;
    default:
      self->counters.bad_signatures++;
      count_error (self, "a signature did not verify", NULL);
      break;
    }
  choose_verification (self, session);
}

static void
on_state (QuipuClient *client,
          GParamSpec  *pspec,
          Session     *session)
{
  if (quipu_client_get_state (client) == QUIPU_STATE_ERROR)
    {
      g_autofree char *what = g_strdup_printf ("session %s", quipu_client_get_username (client));

      count_error (session->fleet, what, quipu_client_get_error (client));
    }
}

/* Logging in. */

static void login_next (QuipuBenchFleet *self);

static void
login_done (Session *session, gboolean ok, const GError *error, const char *what)
{
  QuipuBenchFleet *self = session->fleet;

  self->logins_in_flight--;
  if (ok)
    self->counters.ready++;
  else
    {
      self->counters.login_failures++;
      count_error (self, what, error);
    }
  login_next (self);
}

static void
join_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = quipu_client_join_finish (QUIPU_CLIENT (source), result, &error);

  login_done (data, ok, error, "join");
}

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Session *session = data;
  QuipuBenchFleet *self = session->fleet;
  g_autoptr(GError) error = NULL;

  if (!quipu_client_connect_finish (QUIPU_CLIENT (source), result, &error))
    {
      login_done (session, FALSE, error, "login");
      return;
    }
  self->counters.logged_in++;
  /* The first session trusted the server on first use: the others are
   * pinned to what it saw and never touch the known-servers file. */
  if (self->fingerprint == NULL)
    self->fingerprint = g_strdup (quipu_client_get_server_fingerprint (session->client));
  if (session->room < 0)
    {
      login_done (session, TRUE, NULL, NULL);
      return;
    }
  quipu_client_join_async (session->client, g_ptr_array_index (self->rooms, session->room),
                           NULL, join_cb, session);
  login_next (self);
}

static void
login_next (QuipuBenchFleet *self)
{
  while (self->next_login < self->sessions->len && self->logins_in_flight < self->options.concurrency)
    {
      Session *session = g_ptr_array_index (self->sessions, self->next_login);

      /* Until the first session has learnt the fingerprint, it goes alone. */
      if (self->fingerprint == NULL && self->logins_in_flight > 0)
        return;
      self->next_login++;
      self->logins_in_flight++;
      if (self->fingerprint != NULL)
        quipu_client_set_pinned_fingerprint (session->client, self->fingerprint);
      quipu_client_connect_async (session->client, NULL, connect_cb, session);
    }
}

static gboolean
all_logged_in (QuipuBenchFleet *self, gpointer data)
{
  return self->next_login == self->sessions->len && self->logins_in_flight == 0;
}

gboolean
quipu_bench_fleet_login_all (QuipuBenchFleet *self,
                             double           timeout_s,
                             GError         **error)
{
  guint failures = self->counters.login_failures;

  login_next (self);
  if (!quipu_bench_fleet_run_until (self, all_logged_in, NULL,
                                    g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC), "login"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%u of %u sessions ready after %.0f s",
                   self->counters.ready, self->sessions->len, timeout_s);
      return FALSE;
    }
  if (self->counters.login_failures > failures)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%u sessions failed to log in or join",
                   self->counters.login_failures - failures);
      return FALSE;
    }
  return TRUE;
}

/* The fleet. */

QuipuBenchFleet *
quipu_bench_fleet_new (const QuipuBenchFleetOptions *options,
                       GError                      **error)
{
  g_autoptr(QuipuBenchFleet) self = g_new0 (QuipuBenchFleet, 1);

  self->options = *options;
  self->options.concurrency = MAX (options->concurrency, 1);
  self->fingerprint = g_strdup (options->fingerprint);
  self->trust_store_path = g_build_filename (options->scratch_dir, "known-servers", NULL);
  self->known_users_path = g_build_filename (options->scratch_dir, "known-users", NULL);
  self->endpoints = g_ptr_array_new_with_free_func ((GDestroyNotify) quipu_endpoint_free);
  self->sessions = g_ptr_array_new ();
  self->rooms = g_ptr_array_new_with_free_func (g_free);
  self->room_members = g_array_new (FALSE, TRUE, sizeof (guint));
  self->latency = quipu_bench_histogram_new ();
  self->rand = g_rand_new ();
  for (guint i = 0; i < MAX (options->n_endpoints, 1); i++)
    {
      QuipuEndpoint *endpoint = quipu_endpoint_new_client (error);

      if (endpoint == NULL)
        return NULL;
      g_ptr_array_add (self->endpoints, endpoint);
    }
  return g_steal_pointer (&self);
}

static int
room_index (QuipuBenchFleet *self, const char *room)
{
  guint zero = 0;

  for (guint i = 0; i < self->rooms->len; i++)
    if (g_str_equal (g_ptr_array_index (self->rooms, i), room))
      return i;
  g_ptr_array_add (self->rooms, g_strdup (room));
  g_array_append_val (self->room_members, zero);
  return self->rooms->len - 1;
}

void
quipu_bench_fleet_add (QuipuBenchFleet    *self,
                       guint               n,
                       const char * const *rooms)
{
  guint n_rooms = rooms != NULL ? g_strv_length ((GStrv) rooms) : 0;

  for (guint i = 0; i < n; i++)
    {
      Session *session = g_new0 (Session, 1);
      guint index = self->sessions->len;
      g_autofree char *name = g_strdup_printf ("%s%u", self->options.user_prefix, index);
      g_autoptr(QuipuIdentity) identity = quipu_identity_new_random (NULL);

      g_assert (identity != NULL);
      session->fleet = self;
      session->room = n_rooms > 0 ? room_index (self, rooms[index % n_rooms]) : -1;
      if (session->room >= 0)
        g_array_index (self->room_members, guint, session->room)++;

      session->client = quipu_client_new (identity, name);
      quipu_client_set_shared_endpoint (session->client,
                                        g_ptr_array_index (self->endpoints, index % self->endpoints->len));
      quipu_client_stop_keeping_received (session->client);
      quipu_client_set_server (session->client, self->options.server);
      quipu_client_set_auto_reconnect (session->client, FALSE);
      quipu_client_set_history_limit (session->client, 0);
      choose_verification (self, session);
      quipu_client_set_trust_store_path (session->client, self->trust_store_path);
      quipu_client_set_known_users_path (session->client, self->known_users_path);
      quipu_client_set_client_name (session->client, "quipu-bench/" PACKAGE_VERSION);
      g_signal_connect (session->client, "message-received", G_CALLBACK (on_message_received), session);
      g_signal_connect (session->client, "message-acked", G_CALLBACK (on_message_acked), session);
      g_signal_connect (session->client, "message-failed", G_CALLBACK (on_message_failed), session);
      g_signal_connect (session->client, "notify::state", G_CALLBACK (on_state), session);
      g_ptr_array_add (self->sessions, session);
    }
}

guint
quipu_bench_fleet_size (QuipuBenchFleet *self)
{
  return self->sessions->len;
}

QuipuClient *
quipu_bench_fleet_get_client (QuipuBenchFleet *self,
                              guint            index)
{
  return ((Session *) g_ptr_array_index (self->sessions, index))->client;
}

const QuipuBenchCounters *
quipu_bench_fleet_counters (QuipuBenchFleet *self)
{
  return &self->counters;
}

QuipuBenchHistogram *
quipu_bench_fleet_latency (QuipuBenchFleet *self)
{
  return self->latency;
}

static gboolean
progress_cb (gpointer data)
{
  QuipuBenchFleet *self = data;

  g_printerr ("quipu-bench: ready %u/%u, sent %" G_GUINT64_FORMAT ", acked %" G_GUINT64_FORMAT
              ", delivered %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ", errors %u\n",
              self->counters.ready, self->sessions->len, self->counters.sent, self->counters.acked,
              self->counters.delivered, self->counters.expected, self->counters.errors);
  return G_SOURCE_CONTINUE;
}

gboolean
quipu_bench_fleet_run_until (QuipuBenchFleet *self,
                             gboolean       (*done) (QuipuBenchFleet *self,
                                                     gpointer         data),
                             gpointer          data,
                             gint64            deadline_us,
                             const char       *phase)
{
  guint progress = g_timeout_add_seconds (1, progress_cb, self);
  gboolean reached;

  g_printerr ("quipu-bench: %s\n", phase);
  while (!(reached = done (self, data)) && g_get_monotonic_time () < deadline_us)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (progress);
  return reached;
}

static gboolean
endpoint_closed (gpointer data)
{
  (*(guint *) data)--;
  return G_SOURCE_REMOVE;
}

void
quipu_bench_fleet_free (QuipuBenchFleet *self)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint open = self->endpoints->len;

  quipu_bench_fleet_stop_sending (self);
  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *session = g_ptr_array_index (self->sessions, i);

      g_signal_handlers_disconnect_by_data (session->client, session);
      g_object_unref (session->client);
      g_free (session);
    }
  g_ptr_array_unref (self->sessions);
  /* The sessions said goodbye; the endpoints send it before they go, so
   * the server sees clean closes rather than idle timeouts. */
  for (guint i = 0; i < self->endpoints->len; i++)
    quipu_endpoint_shutdown (g_ptr_array_index (self->endpoints, i), 0, "bye", 500, endpoint_closed, &open);
  while (open > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (open > 0)
    g_printerr ("quipu-bench: %u endpoints did not finish closing\n", open);
  g_ptr_array_unref (self->endpoints);
  g_ptr_array_unref (self->rooms);
  g_array_unref (self->room_members);
  quipu_bench_histogram_free (self->latency);
  g_rand_free (self->rand);
  g_free (self->fingerprint);
  g_free (self->trust_store_path);
  g_free (self->known_users_path);
  g_free (self);
}
