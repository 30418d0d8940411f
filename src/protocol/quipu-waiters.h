#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Tasks waiting for something a session reports later (logged in, a join
 * confirmed), each under a key (NULL allowed). A cancelled task returns
 * G_IO_ERROR_CANCELLED at once and leaves the list. Internal to QuipuClient. */
typedef struct _QuipuWaiters QuipuWaiters;

QuipuWaiters *quipu_waiters_new      (void);
/* Fails what still waits with G_IO_ERROR_CANCELLED, then frees. */
void          quipu_waiters_free     (QuipuWaiters *self);

/* Takes `task` (transfer full) until it is completed under `key`. */
void          quipu_waiters_add      (QuipuWaiters *self,
                                      const char   *key,
                                      GTask        *task);
/* Returns TRUE to every task waiting under `key` (NULL: all of them). */
void          quipu_waiters_succeed  (QuipuWaiters *self,
                                      const char   *key);
/* Returns a copy of `error` to every task waiting under `key` (NULL: all). */
void          quipu_waiters_fail     (QuipuWaiters *self,
                                      const char   *key,
                                      const GError *error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuWaiters, quipu_waiters_free)

G_END_DECLS
