#define G_LOG_DOMAIN "quipu-test-limits"

#include "config.h"

#include <string.h>

#include "quipu-budget.h"
#include "quipu-limits.h"

/* The budget's order: who holds the most comes first, and the total is
 * what every entry holds. */
static void
test_budget_order (void)
{
  g_autoptr(QuipuBudget) budget = quipu_budget_new ();
  QuipuBudgetEntry a = { .owner = "a" }, b = { .owner = "b" }, c = { .owner = "c" };

  g_assert_null (quipu_budget_peek_largest (budget));
  quipu_budget_update (budget, &a, 100, FALSE);
  quipu_budget_update (budget, &b, 300, FALSE);
  quipu_budget_update (budget, &c, 200, FALSE);
  g_assert_cmpuint (quipu_budget_get_total (budget), ==, 600);
  g_assert_true (quipu_budget_peek_largest (budget) == &b);

  /* b's client reads: it falls behind c in the order. */
  quipu_budget_update (budget, &b, 50, TRUE);
  g_assert_true (quipu_budget_peek_largest (budget) == &c);
  g_assert_cmpuint (quipu_budget_get_total (budget), ==, 350);

  /* A reader that caught up holds nothing and is out of the order. */
  quipu_budget_update (budget, &c, 0, TRUE);
  g_assert_cmpuint (c.position, ==, 0);
  g_assert_true (quipu_budget_peek_largest (budget) == &a);
  g_assert_cmpuint (quipu_budget_get_total (budget), ==, 150);

  quipu_budget_remove (budget, &a);
  quipu_budget_remove (budget, &a);   /* twice is harmless */
  g_assert_true (quipu_budget_peek_largest (budget) == &b);
  g_assert_cmpuint (quipu_budget_get_total (budget), ==, 50);
  quipu_budget_remove (budget, &b);
  g_assert_null (quipu_budget_peek_largest (budget));
  g_assert_cmpuint (quipu_budget_get_total (budget), ==, 0);
}

/* Among readers holding as much, the one whose client has gone longest
 * without acknowledging anything goes first. */
static void
test_budget_ties (void)
{
  g_autoptr(QuipuBudget) budget = quipu_budget_new ();
  QuipuBudgetEntry stalled = { .owner = "stalled" }, reading = { .owner = "reading" };

  quipu_budget_update (budget, &stalled, 1000, FALSE);
  g_usleep (2000);
  quipu_budget_update (budget, &reading, 1000, FALSE);
  g_assert_true (quipu_budget_peek_largest (budget) == &stalled);

  /* The stalled one reads at last, the other stops: the order turns. */
  g_usleep (2000);
  quipu_budget_update (budget, &stalled, 1000, TRUE);
  g_assert_true (quipu_budget_peek_largest (budget) == &reading);
  quipu_budget_remove (budget, &stalled);
  quipu_budget_remove (budget, &reading);
}

/* Random updates and removals: the first is always one holding the most,
 * the total always the sum. */
static void
test_budget_random (void)
{
  g_autoptr(QuipuBudget) budget = quipu_budget_new ();
  QuipuBudgetEntry entries[200] = { { 0 } };

  for (guint step = 0; step < 20000; step++)
    {
      QuipuBudgetEntry *entry = &entries[g_test_rand_int_range (0, G_N_ELEMENTS (entries))];
      QuipuBudgetEntry *largest;
      guint64 most = 0, sum = 0;

      if (g_test_rand_int_range (0, 10) == 0)
        quipu_budget_remove (budget, entry);
      else
        quipu_budget_update (budget, entry, g_test_rand_int_range (0, 5000), g_test_rand_bit ());

      for (guint i = 0; i < G_N_ELEMENTS (entries); i++)
        {
          most = MAX (most, entries[i].bytes);
          sum += entries[i].bytes;
          g_assert_true ((entries[i].position == 0) == (entries[i].bytes == 0));
        }
      largest = quipu_budget_peek_largest (budget);
      g_assert_cmpuint (quipu_budget_get_total (budget), ==, sum);
      if (sum == 0)
        g_assert_null (largest);
      else
        g_assert_cmpuint (largest->bytes, ==, most);
    }
}

static QuipuLimitsConfig
config_with_rates (guint message_rate,
                   guint message_burst)
{
  QuipuLimitsConfig config = { 0 };

  config.message_rate = message_rate;
  config.message_burst = message_burst;
  return config;
}

/* A user's rates are the same after they left; gone only once full again. */
static void
test_user_rates_kept (void)
{
  QuipuLimitsConfig config = config_with_rates (1, 3);
  g_autoptr(QuipuLimits) limits = quipu_limits_new (&config);
  QuipuUserBuckets *buckets = quipu_limits_user_buckets (limits, 7);

  g_assert_null (quipu_limits_user_buckets (limits, 0));
  for (guint i = 0; i < 3; i++)
    g_assert_true (quipu_limits_take (limits, buckets, QUIPU_RATE_MESSAGES));
  g_assert_false (quipu_limits_take (limits, buckets, QUIPU_RATE_MESSAGES));

  /* Nothing about connections here: the sweep keeps an empty bucket. */
  quipu_limits_sweep (limits);
  buckets = quipu_limits_user_buckets (limits, 7);
  g_assert_false (quipu_limits_take (limits, buckets, QUIPU_RATE_MESSAGES));
  g_assert_cmpuint (quipu_limits_get_stats (limits)->limited_messages, ==, 2);

  /* Another user has a full burst. */
  buckets = quipu_limits_user_buckets (limits, 8);
  g_assert_true (quipu_limits_take (limits, buckets, QUIPU_RATE_MESSAGES));
}

/* Rates that are full again are the same as new ones: forgotten, so the
 * table holds only users who spent some lately. */
static void
test_user_rates_forgotten (void)
{
  QuipuLimitsConfig config = config_with_rates (1000000, 2);
  g_autoptr(QuipuLimits) limits = quipu_limits_new (&config);
  QuipuUserBuckets *buckets = quipu_limits_user_buckets (limits, 7);
  g_autofree char *stats = NULL;

  g_assert_true (quipu_limits_take (limits, buckets, QUIPU_RATE_MESSAGES));
  g_assert_true (quipu_limits_take (limits, buckets, QUIPU_RATE_MESSAGES));
  stats = quipu_limits_format_stats (limits);
  g_assert_nonnull (strstr (stats, " rate-users=1"));
  g_usleep (1000);   /* a million a second: full again long before this */
  quipu_limits_sweep (limits);
  g_clear_pointer (&stats, g_free);
  stats = quipu_limits_format_stats (limits);
  g_assert_nonnull (strstr (stats, " rate-users=0"));
}

/* A table of users that doubled is swept on the next new user, so many
 * users passing through do not grow it without end. */
static void
test_user_rates_bounded (void)
{
  QuipuLimitsConfig config = config_with_rates (1000000, 2);
  g_autoptr(QuipuLimits) limits = quipu_limits_new (&config);
  g_autofree char *stats = NULL;
  guint64 rate_users = 0;
  const char *field;

  for (gint64 uid = 1; uid <= 5000; uid++)
    quipu_limits_take (limits, quipu_limits_user_buckets (limits, uid), QUIPU_RATE_MESSAGES);
  stats = quipu_limits_format_stats (limits);
  field = strstr (stats, " rate-users=");
  g_assert_nonnull (field);
  rate_users = g_ascii_strtoull (field + strlen (" rate-users="), NULL, 10);
  g_test_message ("%" G_GUINT64_FORMAT " users' rates held after 5000 users", rate_users);
  g_assert_cmpuint (rate_users, <, 2048);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/quipu/limits/budget/order", test_budget_order);
  g_test_add_func ("/quipu/limits/budget/ties", test_budget_ties);
  g_test_add_func ("/quipu/limits/budget/random", test_budget_random);
  g_test_add_func ("/quipu/limits/rates/kept", test_user_rates_kept);
  g_test_add_func ("/quipu/limits/rates/forgotten", test_user_rates_forgotten);
  g_test_add_func ("/quipu/limits/rates/bounded", test_user_rates_bounded);
  return g_test_run ();
}
