#pragma once

#include <glib.h>

#include "quipu-identity.h"
#include "quipu-server.h"

G_BEGIN_DECLS

#define QUIPU_TEST_WAIT_US (10 * G_USEC_PER_SEC)

/* Spins the default main context until `cond` holds; fails the test after
 * QUIPU_TEST_WAIT_US. A ticker (quipu_test_start_ticker) keeps the loop
 * from blocking past the deadline. */
#define QUIPU_TEST_WAIT_FOR(cond) \
  G_STMT_START { \
    gint64 deadline_ = g_get_monotonic_time () + QUIPU_TEST_WAIT_US; \
    while (!(cond) && g_get_monotonic_time () < deadline_) \
      g_main_context_iteration (NULL, TRUE); \
    g_assert_true (cond); \
  } G_STMT_END

/* Removes a test's scratch directory and everything in it (symbolic links
 * are removed, never followed), asserting each step succeeds. GLib 2.74's
 * G_TEST_OPTION_ISOLATE_DIRS leaks on every test, so tests isolate by hand. */
void           quipu_test_remove_tree       (const char *path);

/* Iterates the default main context for `ms` milliseconds. */
void           quipu_test_spin              (guint ms);
/* A 20 ms timeout source that wakes the loop; returns its id. */
guint          quipu_test_start_ticker      (void);

/* A real QuipuServer on 127.0.0.1 with an ephemeral port, data in
 * `data_dir` (synchronous NORMAL: tests need no power-loss safety). */
QuipuServer   *quipu_test_start_server      (const char  *data_dir,
                                             char       **address);

/* The fixture of the in-process tests: a scratch directory holding a
 * running server's data (db_path), a trust store path for clients, and a
 * ticker for QUIPU_TEST_WAIT_FOR. */
typedef struct {
  char        *dir;
  char        *trust_path;
  char        *db_path;
  QuipuServer *server;
  char        *address;      /* "127.0.0.1:PORT" */
  guint        tick_id;
} QuipuTestServer;

void           quipu_test_server_setup      (QuipuTestServer *ts, const char *name);
void           quipu_test_server_teardown   (QuipuTestServer *ts);

/* Runs one statement on the server's database behind its back, as an
 * attacker with access to the server's disk would; `blob` binds ?1.
 * Asserts that exactly one row changed. */
void           quipu_test_tamper            (QuipuTestServer *ts,
                                             const char      *sql,
                                             const guint8    *blob,
                                             gsize            blob_len);

/* A deterministic identity: the seed is `fill` repeated. */
QuipuIdentity *quipu_test_identity_from_seed (guint8 fill);

G_END_DECLS
