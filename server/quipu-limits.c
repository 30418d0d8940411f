#define G_LOG_DOMAIN "quipu-server"

#include "config.h"

#include <string.h>

#include "quipu-limits.h"

/* What one client address holds. */
typedef struct {
  guint       connections;
  QuipuBucket registrations;
} AddressState;

struct _QuipuLimits
{
  QuipuLimitsConfig  config;
  QuipuServerStats   stats;
  GHashTable        *addresses;   /* char * -> AddressState * */
  GHashTable        *users;       /* gint64 * uid -> UserState * */
  guint              users_swept; /* the table's size after the last sweep */
  QuipuBudget       *budget;
};

typedef struct {
  gint64           uid;
  QuipuUserBuckets buckets;
} UserState;

/* Rates are swept when the table has doubled since the last sweep, and at
 * least this big: amortised O(1) a login, and the table stays within twice
 * the users who spent some of their rates lately. */
#define USERS_SWEEP_MIN 1024

/* Adds what `per_second` gave since the last look, up to `burst`. */
static void
refill (QuipuBucket *bucket,
        gdouble      per_second,
        guint        burst)
{
  gint64 now = g_get_monotonic_time ();

  if (bucket->last_us == 0)
    bucket->tokens = burst;
  else
    bucket->tokens = MIN ((gdouble) burst, bucket->tokens + (now - bucket->last_us) * per_second / G_USEC_PER_SEC);
  bucket->last_us = now;
}

static gboolean
take (QuipuBucket *bucket,
      gdouble      per_second,
      guint        burst)
{
  refill (bucket, per_second, MAX (burst, 1));
  if (bucket->tokens < 1.0)
    return FALSE;
  bucket->tokens -= 1.0;
  return TRUE;
}

gboolean
quipu_bucket_take (QuipuBucket *bucket,
                   guint        rate,
                   guint        burst)
{
  return rate == 0 || take (bucket, rate, burst);
}

QuipuLimits *
quipu_limits_new (const QuipuLimitsConfig *config)
{
  QuipuLimits *limits = g_new0 (QuipuLimits, 1);

  limits->config = *config;
  limits->addresses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  limits->users = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  limits->budget = quipu_budget_new ();
  return limits;
}

void
quipu_limits_free (QuipuLimits *limits)
{
  g_hash_table_unref (limits->addresses);
  g_hash_table_unref (limits->users);
  quipu_budget_free (limits->budget);
  g_free (limits);
}

void
quipu_limits_configure (QuipuLimits             *limits,
                        const QuipuLimitsConfig *config)
{
  limits->config = *config;
}

const QuipuLimitsConfig *
quipu_limits_get_config (QuipuLimits *limits)
{
  return &limits->config;
}

QuipuServerStats *
quipu_limits_get_stats (QuipuLimits *limits)
{
  return &limits->stats;
}

char *
quipu_limits_address_of (const char *peer)
{
  const char *colon = strrchr (peer, ':');

  if (peer[0] == '[' && colon != NULL && colon > peer && colon[-1] == ']')
    return g_strndup (peer + 1, colon - peer - 2);
  if (colon != NULL && strchr (peer, ':') == colon)
    return g_strndup (peer, colon - peer);
  return g_strdup (peer);
}

static AddressState *
address_state (QuipuLimits *limits,
               const char  *address)
{
  AddressState *state = g_hash_table_lookup (limits->addresses, address);

  if (state == NULL)
    {
      state = g_new0 (AddressState, 1);
      g_hash_table_insert (limits->addresses, g_strdup (address), state);
    }
  return state;
}

/* An address that holds no connection and whose registrations have
 * refilled carries no memory of the past: dropped, so the table does not
 * grow with every address ever seen. */
static gboolean
is_idle (QuipuLimits  *limits,
         AddressState *state)
{
  guint per_hour = limits->config.registrations_per_hour;

  if (state->connections > 0)
    return FALSE;
  refill (&state->registrations, per_hour / 3600.0, per_hour);
  return state->registrations.tokens >= per_hour;
}

static gboolean
sweep_one (gpointer key,
           gpointer value,
           gpointer data)
{
  return is_idle (data, value);
}

static gboolean
bucket_is_full (QuipuBucket *bucket,
                guint        rate,
                guint        burst)
{
  if (rate == 0 || bucket->last_us == 0)
    return TRUE;
  refill (bucket, rate, MAX (burst, 1));
  return bucket->tokens >= MAX (burst, 1);
}

/* Full rates are the same as none: a user who comes back gets full ones. */
static gboolean
sweep_user (gpointer key,
            gpointer value,
            gpointer data)
{
  const QuipuLimitsConfig *c = &((QuipuLimits *) data)->config;
  UserState *user = value;

  return bucket_is_full (&user->buckets.messages, c->message_rate, c->message_burst) &&
         bucket_is_full (&user->buckets.joins, c->join_rate, c->join_burst) &&
         bucket_is_full (&user->buckets.errors, c->error_rate, c->error_burst);
}

static void
sweep_users (QuipuLimits *limits)
{
  g_hash_table_foreach_remove (limits->users, sweep_user, limits);
  limits->users_swept = g_hash_table_size (limits->users);
}

void
quipu_limits_sweep (QuipuLimits *limits)
{
  g_hash_table_foreach_remove (limits->addresses, sweep_one, limits);
  sweep_users (limits);
}

QuipuUserBuckets *
quipu_limits_user_buckets (QuipuLimits *limits,
                           gint64       uid)
{
  UserState *user;

  if (uid == 0)
    return NULL;   /* not logged in: nobody to charge */
  user = g_hash_table_lookup (limits->users, &uid);
  if (user != NULL)
    return &user->buckets;
  if (g_hash_table_size (limits->users) >= MAX (USERS_SWEEP_MIN, 2 * limits->users_swept))
    sweep_users (limits);
  user = g_new0 (UserState, 1);
  user->uid = uid;
  g_hash_table_insert (limits->users, &user->uid, user);
  return &user->buckets;
}

QuipuBudget *
quipu_limits_get_budget (QuipuLimits *limits)
{
  return limits->budget;
}

gboolean
quipu_limits_open_connection (QuipuLimits *limits,
                              const char  *address)
{
  AddressState *state = address_state (limits, address);

  if (limits->config.max_connections_per_address > 0 &&
      state->connections >= limits->config.max_connections_per_address)
    {
      limits->stats.refused_busy++;
      return FALSE;
    }
  state->connections++;
  return TRUE;
}

void
quipu_limits_close_connection (QuipuLimits *limits,
                               const char  *address)
{
  AddressState *state = g_hash_table_lookup (limits->addresses, address);

  g_return_if_fail (state != NULL && state->connections > 0);
  state->connections--;
  if (is_idle (limits, state))
    g_hash_table_remove (limits->addresses, address);
}

gboolean
quipu_limits_allow_registration (QuipuLimits *limits,
                                 const char  *address)
{
  AddressState *state = address_state (limits, address);
  guint per_hour = limits->config.registrations_per_hour;

  if (per_hour == 0 || take (&state->registrations, per_hour / 3600.0, per_hour))
    return TRUE;
  limits->stats.refused_registrations++;
  return FALSE;
}

gboolean
quipu_limits_take (QuipuLimits      *limits,
                   QuipuUserBuckets *buckets,
                   QuipuRate         rate)
{
  const QuipuLimitsConfig *c = &limits->config;
  gboolean ok;

  switch (rate)
    {
    case QUIPU_RATE_MESSAGES:
      ok = quipu_bucket_take (&buckets->messages, c->message_rate, c->message_burst);
      limits->stats.limited_messages += !ok;
      break;
    case QUIPU_RATE_JOINS:
      ok = quipu_bucket_take (&buckets->joins, c->join_rate, c->join_burst);
      limits->stats.limited_joins += !ok;
      break;
    case QUIPU_RATE_ERRORS:
      ok = quipu_bucket_take (&buckets->errors, c->error_rate, c->error_burst);
      limits->stats.limited_errors += !ok;
      break;
    default:
      g_assert_not_reached ();
    }
  return ok;
}

gboolean
quipu_limits_take_log_line (QuipuLimits *limits,
                            QuipuBucket *bucket,
                            guint       *dropped)
{
  guint per_minute = limits->config.log_lines_per_minute;

  /* The bucket's own token count says nothing of what was dropped: the
   * caller keeps that in *dropped between calls. */
  if (per_minute == 0 || take (bucket, per_minute / 60.0, per_minute))
    return TRUE;
  (*dropped)++;
  limits->stats.log_lines_dropped++;
  return FALSE;
}

char *
quipu_limits_format_stats (QuipuLimits *limits)
{
  const QuipuServerStats *s = &limits->stats;

  return g_strdup_printf ("connections=%u pending=%u users=%u rooms=%u addresses=%u "
                          "refused-rooms=%" G_GUINT64_FORMAT " refused-registrations=%" G_GUINT64_FORMAT
                          " refused-busy=%" G_GUINT64_FORMAT " login-timeouts=%" G_GUINT64_FORMAT
                          " limited-messages=%" G_GUINT64_FORMAT " limited-joins=%" G_GUINT64_FORMAT
                          " limited-errors=%" G_GUINT64_FORMAT " log-lines-dropped=%" G_GUINT64_FORMAT
                          " store-failures=%" G_GUINT64_FORMAT " presence-sent=%" G_GUINT64_FORMAT
                          " presence-coalesced=%" G_GUINT64_FORMAT " held-bytes=%" G_GUINT64_FORMAT
                          " slow-clients=%" G_GUINT64_FORMAT " history-paced=%" G_GUINT64_FORMAT
                          " queued-bytes=%" G_GUINT64_FORMAT " budget-closes=%" G_GUINT64_FORMAT
                          " rate-users=%u",
                          s->connections, s->pending, s->users_online, s->rooms,
                          g_hash_table_size (limits->addresses),
                          s->refused_rooms, s->refused_registrations, s->refused_busy, s->login_timeouts,
                          s->limited_messages, s->limited_joins, s->limited_errors, s->log_lines_dropped,
                          s->store_failures, s->presence_sent, s->presence_coalesced, s->held_bytes,
                          s->slow_clients, s->history_paced,
                          quipu_budget_get_total (limits->budget), s->budget_closes,
                          g_hash_table_size (limits->users));
}
