#pragma once

#include <glib.h>

#include "quipu-budget.h"
#include "quipu-config.h"

G_BEGIN_DECLS

/* A token bucket: `rate` tokens a second up to `burst`; starts full. */
typedef struct {
  gdouble tokens;
  gint64  last_us;
} QuipuBucket;

/* Takes one token; FALSE when there is none (rate 0: always TRUE). */
gboolean quipu_bucket_take (QuipuBucket *bucket,
                            guint        rate,
                            guint        burst);

/* A user's rates, shared by all of their connections and kept past the
 * last of them, so that reconnecting does not refill them. */
typedef struct {
  QuipuBucket messages;
  QuipuBucket joins;      /* JOINs and LEAVEs */
  QuipuBucket errors;     /* refused requests, ERRORs received */
} QuipuUserBuckets;

/* What an admin reads to see when a limit bites: gauges of what is held
 * now, and counts of refusals since the start. */
typedef struct {
  guint   connections;          /* open, logged in or not */
  guint   pending;              /* handshaken, not logged in yet */
  guint   rooms;                /* in memory: rooms with members */
  guint   users_online;
  guint64 refused_rooms;        /* JOIN past max-rooms-per-connection */
  guint64 refused_registrations;
  guint64 refused_busy;         /* connections past max-connections-per-address */
  guint64 login_timeouts;
  guint64 limited_messages;
  guint64 limited_joins;
  guint64 limited_errors;
  guint64 log_lines_dropped;
  guint64 store_failures;
  guint64 presence_sent;        /* PRESENCE frames queued to members */
  guint64 presence_coalesced;   /* changes that cancelled out within a batch */
  guint64 held_bytes;           /* queued behind history pages still being sent */
  guint64 slow_clients;         /* closed as "too far behind" */
  guint64 history_paced;        /* history pages that waited for the client to read */
  guint64 budget_closes;        /* readers closed as the slowest past max-queued-kib */
} QuipuServerStats;

/* The limits in force, the counters, and what is counted per client
 * address. */
typedef struct _QuipuLimits QuipuLimits;

QuipuLimits *quipu_limits_new       (const QuipuLimitsConfig *config);
void         quipu_limits_free      (QuipuLimits *limits);
void         quipu_limits_configure (QuipuLimits             *limits,
                                     const QuipuLimitsConfig *config);
const QuipuLimitsConfig *quipu_limits_get_config (QuipuLimits *limits);
QuipuServerStats        *quipu_limits_get_stats  (QuipuLimits *limits);

/* "2001:db8::1" of "[2001:db8::1]:4433", "192.0.2.1" of "192.0.2.1:4433". */
char    *quipu_limits_address_of      (const char *peer);

/* A connection from `address` opens; FALSE (and nothing counted) when the
 * address already has max-connections-per-address. */
gboolean quipu_limits_open_connection  (QuipuLimits *limits,
                                        const char  *address);
void     quipu_limits_close_connection (QuipuLimits *limits,
                                        const char  *address);
/* One more new name from `address`; FALSE past registrations-per-hour. */
gboolean quipu_limits_allow_registration (QuipuLimits *limits,
                                          const char  *address);

/* Forgets addresses that hold nothing any more (hourly). */
void     quipu_limits_sweep           (QuipuLimits *limits);

typedef enum {
  QUIPU_RATE_MESSAGES,
  QUIPU_RATE_JOINS,
  QUIPU_RATE_ERRORS,
} QuipuRate;

/* The rates of user `uid`, full for one not seen lately (NULL for uid 0,
 * not logged in). Valid until the next call: full rates are forgotten
 * (they are what a new user starts with), which keeps the table to the
 * users who spent some lately. */
QuipuUserBuckets *quipu_limits_user_buckets (QuipuLimits *limits,
                                             gint64       uid);

/* What all sessions have queued for their clients. */
QuipuBudget *quipu_limits_get_budget (QuipuLimits *limits);

/* Takes one of the user's messages, joins or errors; FALSE (and counted)
 * past the rate. */
gboolean quipu_limits_take (QuipuLimits      *limits,
                            QuipuUserBuckets *buckets,
                            QuipuRate         rate);
/* One more log line about a connection: FALSE (and counted) past
 * log-lines-per-minute; *dropped then says how many were held back since
 * the last that passed. */
gboolean quipu_limits_take_log_line (QuipuLimits *limits,
                                     QuipuBucket *bucket,
                                     guint       *dropped);

/* One line of key=value pairs, for the log. */
char    *quipu_limits_format_stats    (QuipuLimits *limits);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuLimits, quipu_limits_free)

G_END_DECLS
