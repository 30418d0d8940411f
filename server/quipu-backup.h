#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Copies the database at `db_path` into the new file `dest` (0600) while a
 * server may be writing to it: SQLite's VACUUM INTO reads one consistent
 * snapshot through the WAL and never blocks the writer. The copy is a
 * complete quipu.db: put it in an empty data directory to restore.
 * *n_messages is the number of messages the copy holds. Refuses to
 * overwrite `dest`. Errors are one line naming the file at fault. */
gboolean quipu_backup_database (const char  *db_path,
                                const char  *dest,
                                guint64     *n_messages,
                                GError     **error);

G_END_DECLS
