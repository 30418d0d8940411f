#pragma once

#include <glib.h>

#include "quipu-wire.h"

G_BEGIN_DECLS

/* The server's durable state in one SQLite file (WAL): the name registry,
 * rooms, messages with their per-room and per-inbox sequence numbers. Schema
 * changes go through numbered migrations (PRAGMA user_version).
 *
 * Errors are in the QUIPU_PROTOCOL_ERROR domain: invalid names give
 * QUIPU_PROTOCOL_ERROR_BAD_NAME, a bad request from the client _BAD_REQUEST
 * or _UNKNOWN_RECIPIENT, everything else _SERVER (I/O and SQLite failures;
 * when opening, the message names the file).
 * A QuipuStore is used from one thread. */
typedef struct _QuipuStore QuipuStore;

typedef struct {
  guint history_days;        /* 0: keep forever */
  guint history_max_per_room;/* 0: no limit */
  gboolean synchronous_full; /* PRAGMA synchronous=FULL (else NORMAL) */
  guint name_days;           /* 0: names are kept forever */
  guint inbox_max_per_user;  /* 0: no limit */
  guint empty_room_days;     /* 0: rooms are kept forever */
  guint max_pages;           /* 0: no limit; else PRAGMA max_page_count, for
                              * tests that need a full disk */
} QuipuStoreOptions;

/* A stored message as the server hands it out. For a room message `seq` is the
 * room sequence; fetched from an inbox it is that inbox's sequence. */
typedef struct {
  gint64   id;
  gint64   sender_uid;
  char    *sender;                 /* display name */
  guint8   sender_key[QUIPU_KEY_SIZE];
  char    *room;                   /* NULL for a direct message */
  GStrv    recipients;             /* NULL for a room message */
  guint64  client_msg_id;
  guint64  seq;
  char    *body;
  guint64  timestamp;              /* the sender's, ms since the epoch */
  guint8   signature[QUIPU_SIGNATURE_SIZE];
} QuipuStoredMessage;

void quipu_stored_message_free (QuipuStoredMessage *msg);

QuipuStore *quipu_store_open  (const char               *path,
                               const QuipuStoreOptions  *options,
                               GError                  **error);
void        quipu_store_free  (QuipuStore *store);
int         quipu_store_schema_version (QuipuStore *store);

/* Changes the options of an open store (a configuration reload): retention
 * applies from the next quipu_store_prune(), durability at once. Not inside
 * a batch. */
gboolean    quipu_store_set_options (QuipuStore               *store,
                                     const QuipuStoreOptions  *options,
                                     GError                  **error);

/* Group commit: the server begins before handling a batch of frames and
 * commits once after, before it sends any ACK. Calls outside begin/commit run
 * in their own implicit transaction. Every mutating call is atomic: one that
 * fails inside a batch leaves the batch as it was, so the caller may report
 * that frame's error and go on, or roll the whole batch back. */
gboolean quipu_store_begin    (QuipuStore *store, GError **error);
gboolean quipu_store_commit   (QuipuStore *store, GError **error);
void     quipu_store_rollback (QuipuStore *store);

/* Name registry: first come, first served, unique by quipu_name_fold(). */
typedef enum {
  QUIPU_REGISTER_NEW,        /* name was free; now bound to key */
  QUIPU_REGISTER_KNOWN,      /* name bound to this same key */
  QUIPU_REGISTER_TAKEN,      /* name bound to another key */
} QuipuRegisterResult;

/* `name` must be valid and NFC. *uid and *display_name (the name as first
 * registered) are set for NEW and KNOWN. On error, returns TAKEN. */
QuipuRegisterResult quipu_store_register_user (QuipuStore    *store,
                                               const char    *name,
                                               const guint8   key[QUIPU_KEY_SIZE],
                                               gint64        *uid,
                                               char         **display_name,
                                               GError       **error);
/* FALSE without error when no such user. */
gboolean quipu_store_lookup_user (QuipuStore  *store,
                                  const char  *name,
                                  gint64      *uid,
                                  char       **display_name,
                                  guint8       key[QUIPU_KEY_SIZE],
                                  GError     **error);

/* The room's spelling as first seen, ever: records `name` as the spelling of
 * a room not known yet (without messages it is not listed), else returns the
 * recorded one. Rooms are unique by quipu_name_fold(). NULL on error. */
char *quipu_store_claim_room (QuipuStore  *store,
                              const char  *name,
                              GError     **error);

/* Adds a room message unless (sender, client_msg_id) is stored already, in
 * which case *duplicate is TRUE and *seq is the original sequence. Rooms are
 * created on first use. A client_msg_id already used for another room or a
 * direct message is a QUIPU_PROTOCOL_ERROR_BAD_REQUEST error. */
gboolean quipu_store_add_room_message (QuipuStore   *store,
                                       gint64        sender_uid,
                                       const char   *room,
                                       guint64       client_msg_id,
                                       const char   *body,
                                       guint64       timestamp,
                                       const guint8  signature[QUIPU_SIGNATURE_SIZE],
                                       guint64      *seq,
                                       gboolean     *duplicate,
                                       GError      **error);

/* Adds a direct message and appends it to the inbox of the sender and of
 * every recipient (once each, even if named twice or the sender is among
 * them). `recipient_names` are kept in the order given (the signature covers
 * them). *sender_seq is the sequence in the sender's inbox; recipient_seqs
 * (same order as recipient_uids) the sequences in theirs. On a duplicate,
 * *duplicate is TRUE, *sender_seq the original and recipient_seqs untouched.
 * 1 to QUIPU_MAX_RECIPIENTS recipients; an unknown uid among them is a
 * QUIPU_PROTOCOL_ERROR_UNKNOWN_RECIPIENT error and nothing is stored. */
gboolean quipu_store_add_direct_message (QuipuStore        *store,
                                         gint64             sender_uid,
                                         const gint64      *recipient_uids,
                                         const char *const *recipient_names,
                                         guint              n_recipients,
                                         guint64            client_msg_id,
                                         const char        *body,
                                         guint64            timestamp,
                                         const guint8       signature[QUIPU_SIGNATURE_SIZE],
                                         guint64           *sender_seq,
                                         guint64           *recipient_seqs,
                                         gboolean          *duplicate,
                                         GError           **error);

typedef enum {
  QUIPU_FETCH_BEFORE,   /* the newest `limit` with seq < `seq`; *more: older ones exist */
  QUIPU_FETCH_AFTER,    /* the oldest `limit` with seq > `seq`; *more: newer ones exist */
} QuipuFetchDirection;

/* Messages of a room (room != NULL) or of user `inbox_uid`'s inbox (room ==
 * NULL), always in ascending seq order, as QuipuStoredMessage. For "the
 * latest N" use QUIPU_FETCH_BEFORE with seq = G_MAXINT64. */
GPtrArray *quipu_store_fetch (QuipuStore          *store,
                              const char          *room,
                              gint64               inbox_uid,
                              QuipuFetchDirection  direction,
                              guint64              seq,
                              guint                limit,
                              gboolean            *more,
                              GError             **error);

/* Where a QUIPU_FETCH_BEFORE page starts, without reading its bodies: the
 * lowest seq of the page (0 when it is empty), how many messages it holds
 * and whether older ones exist. Returns FALSE on error. */
gboolean quipu_store_page_floor (QuipuStore  *store,
                                 const char  *room,
                                 gint64       inbox_uid,
                                 guint64      before_seq,
                                 guint        limit,
                                 guint64     *floor_seq,
                                 guint       *count,
                                 gboolean    *more,
                                 GError     **error);

/* Highest sequence so far (0 if none). */
guint64 quipu_store_room_last_seq  (QuipuStore *store, const char *room, GError **error);
guint64 quipu_store_inbox_last_seq (QuipuStore *store, gint64 uid, GError **error);

/* Highest inbox sequence known to have reached one of the user's clients
 * (acknowledged by QUIC); only ever moves forward. Setting a sequence the
 * inbox has not reached is an error. */
guint64  quipu_store_get_delivered (QuipuStore *store, gint64 uid, GError **error);
gboolean quipu_store_set_delivered (QuipuStore *store, gint64 uid, guint64 seq, GError **error);

/* Room names, most recently active first, at most `limit`. */
GStrv quipu_store_list_rooms (QuipuStore *store, guint limit, GError **error);

/* Applies the retention options: deletes messages older than history_days and
 * beyond history_max_per_room per room (the oldest first). Sequence numbers
 * are never reused. Returns the number of messages removed, -1 on error. */
gint64 quipu_store_prune (QuipuStore *store, guint64 now_ms, GError **error);

typedef struct {
  guint64 names;            /* names given back */
  guint64 inbox_entries;    /* inbox entries past inbox_max_per_user or of names given back */
  guint64 rooms;            /* rooms not joined for empty_room_days that never had a message */
} QuipuPruneCounts;

/* Retention of everything but room history: names not logged in for
 * name_days whose messages are all gone (with their inboxes), inbox entries
 * beyond inbox_max_per_user per user (the oldest first), direct messages
 * no inbox holds any more, and rooms that never had a message and were
 * not joined for empty_room_days. */
gboolean quipu_store_prune_state (QuipuStore       *store,
                                  guint64           now_ms,
                                  QuipuPruneCounts *counts,
                                  GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuStore, quipu_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuStoredMessage, quipu_stored_message_free)

G_END_DECLS
