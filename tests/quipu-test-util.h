#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes a test's scratch directory and everything in it (symbolic links
 * are removed, never followed), asserting each step succeeds. GLib 2.74's
 * G_TEST_OPTION_ISOLATE_DIRS leaks on every test, so tests isolate by hand. */
void quipu_test_remove_tree (const char *path);

G_END_DECLS
