#pragma once

#include <glib.h>

#include "quipu-identity.h"   /* QUIPU_KEY_SIZE, QUIPU_SIGNATURE_SIZE */
#include "quipu-names.h"      /* QUIPU_MAX_NAME_*, QUIPU_MAX_RECIPIENTS */

G_BEGIN_DECLS

/* Bounds of field values. Every decoder check refers to one of these. */
#define QUIPU_MAX_BODY_SIZE        (16 * 1024)   /* bytes of UTF-8 */
#define QUIPU_MAX_TEXT_SIZE        1024          /* error text, client name, feature */
#define QUIPU_MAX_LIST             256           /* versions, features, rooms, users */

typedef enum {
  QUIPU_FRAME_CONNECT    = 0x01,
  QUIPU_FRAME_WELCOME    = 0x02,
  QUIPU_FRAME_MESSAGE    = 0x03,
  QUIPU_FRAME_ACK        = 0x04,
  QUIPU_FRAME_PING       = 0x05,
  QUIPU_FRAME_PONG       = 0x06,
  QUIPU_FRAME_PRESENCE   = 0x07,
  QUIPU_FRAME_JOIN       = 0x08,
  QUIPU_FRAME_LEAVE      = 0x09,
  QUIPU_FRAME_HISTORY    = 0x0a,
  QUIPU_FRAME_ERROR      = 0x0b,
  QUIPU_FRAME_DISCONNECT = 0x0c,
} QuipuFrameType;

/* TLV field ids; one namespace shared by every frame type. */
typedef enum {
  QUIPU_FIELD_VERSION       = 1,   /* varint, repeated (CONNECT offers; WELCOME: one) */
  QUIPU_FIELD_FEATURE       = 2,   /* string, repeated */
  QUIPU_FIELD_USERNAME      = 3,   /* name */
  QUIPU_FIELD_CLIENT        = 4,   /* string: client software and version */
  QUIPU_FIELD_USER_ID       = 5,   /* string: id derived from the public key */
  QUIPU_FIELD_KEY           = 6,   /* 32 bytes: Ed25519 public key */
  QUIPU_FIELD_PROOF         = 7,   /* 64 bytes: login proof signature */
  QUIPU_FIELD_ROOM          = 8,   /* name */
  QUIPU_FIELD_RECIPIENT     = 9,   /* name, repeated */
  QUIPU_FIELD_CLIENT_MSG_ID = 10,  /* varint */
  QUIPU_FIELD_SEQ           = 11,  /* varint */
  QUIPU_FIELD_BODY          = 12,  /* UTF-8 */
  QUIPU_FIELD_TIMESTAMP     = 13,  /* varint: ms since the Unix epoch */
  QUIPU_FIELD_SIGNATURE     = 14,  /* 64 bytes */
  QUIPU_FIELD_SENDER        = 15,  /* name */
  QUIPU_FIELD_STATUS        = 16,  /* varint: QuipuPresenceStatus */
  QUIPU_FIELD_CODE          = 17,  /* varint: error code */
  QUIPU_FIELD_TEXT          = 18,  /* string */
  QUIPU_FIELD_TOKEN         = 19,  /* varint */
  QUIPU_FIELD_FLAGS         = 20,  /* varint: QuipuFrameFlags */
  QUIPU_FIELD_AFTER_SEQ     = 21,  /* varint */
  QUIPU_FIELD_BEFORE_SEQ    = 22,  /* varint */
  QUIPU_FIELD_LIMIT         = 23,  /* varint */
  QUIPU_FIELD_ROOM_ENTRY    = 24,  /* name, repeated (room directory) */
  QUIPU_FIELD_USER          = 25,  /* nested TLV {USERNAME, KEY}, repeated */
  QUIPU_FIELD_COUNT         = 26,  /* varint */
  QUIPU_FIELD_LAST          = QUIPU_FIELD_COUNT,
} QuipuFieldId;

typedef enum {
  QUIPU_FLAG_HISTORY   = 1 << 0,  /* MESSAGE: from the store, not live: no notification */
  QUIPU_FLAG_DUPLICATE = 1 << 1,  /* ACK: was already stored; this is the original ACK */
  QUIPU_FLAG_MORE      = 1 << 2,  /* HISTORY reply: more messages remain that way */
  QUIPU_FLAG_INBOX     = 1 << 3,  /* HISTORY/ACK: about the user's direct-message inbox */
} QuipuFrameFlags;

typedef enum {
  QUIPU_PRESENCE_OFFLINE = 0,
  QUIPU_PRESENCE_ONLINE  = 1,
} QuipuPresenceStatus;

typedef struct {
  char   *name;
  guint8  key[QUIPU_KEY_SIZE];
  gboolean has_key;
} QuipuUserInfo;

/* One frame, decoded or to be encoded. A flat bag of every field; a frame type
 * uses a subset (PROTOCOL.md lists which). `present` has bit (1 << field id)
 * set for every field that was decoded or set; lists are NULL when empty.
 * Read fields directly; write them with the setters so `present` stays right. */
typedef struct {
  QuipuFrameType type;
  guint64        present;

  GArray        *versions;        /* guint64 */
  GPtrArray     *features;        /* char * */
  char          *username;
  char          *client;
  char          *user_id;
  guint8         key[QUIPU_KEY_SIZE];
  guint8         proof[QUIPU_SIGNATURE_SIZE];
  char          *room;
  GPtrArray     *recipients;      /* char * */
  guint64        client_msg_id;
  guint64        seq;
  char          *body;
  guint64        timestamp;
  guint8         signature[QUIPU_SIGNATURE_SIZE];
  char          *sender;
  guint64        status;
  guint64        code;
  char          *text;
  guint64        token;
  guint64        flags;
  guint64        after_seq;
  guint64        before_seq;
  guint64        limit;
  GPtrArray     *room_entries;    /* char * */
  GPtrArray     *users;           /* QuipuUserInfo * */
  guint64        count;
} QuipuFrame;

QuipuFrame *quipu_frame_new        (QuipuFrameType type);
void        quipu_frame_free       (QuipuFrame *frame);
const char *quipu_frame_type_to_string (guint64 type);   /* "MESSAGE"; NULL if unknown */

static inline gboolean
quipu_frame_type_is_known (guint64 type)
{
  return type >= QUIPU_FRAME_CONNECT && type <= QUIPU_FRAME_DISCONNECT;
}

static inline gboolean
quipu_frame_has (const QuipuFrame *frame, QuipuFieldId id)
{
  return (frame->present & (G_GUINT64_CONSTANT (1) << id)) != 0;
}

/* Setters copy their arguments and mark the field present. The `add` ones
 * append to a repeated field. Field ids of the wrong kind are a programming
 * error (g_return_if_fail). */
void quipu_frame_set_uint   (QuipuFrame *frame, QuipuFieldId id, guint64 value);
void quipu_frame_set_string (QuipuFrame *frame, QuipuFieldId id, const char *value);
void quipu_frame_set_bytes  (QuipuFrame *frame, QuipuFieldId id, const guint8 *data, gsize len);
void quipu_frame_add_uint   (QuipuFrame *frame, QuipuFieldId id, guint64 value);
void quipu_frame_add_string (QuipuFrame *frame, QuipuFieldId id, const char *value);
void quipu_frame_add_user   (QuipuFrame *frame, const char *name, const guint8 *key /* nullable */);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuFrame, quipu_frame_free)

G_END_DECLS
