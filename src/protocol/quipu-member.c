#define G_LOG_DOMAIN "quipu-member"

#include "config.h"

#include <string.h>

#include "quipu-identity.h"
#include "quipu-member-private.h"
#include "quipu-names.h"

struct _QuipuMember {
  GObject   parent_instance;
  char     *name;
  char     *sort_key;
  char     *user_id;
  char     *short_id;
  gboolean  online;
};

G_DEFINE_FINAL_TYPE (QuipuMember, quipu_member, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_USER_ID,
  PROP_SHORT_ID,
  PROP_ONLINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
quipu_member_finalize (GObject *object)
{
  QuipuMember *self = QUIPU_MEMBER (object);

  g_free (self->name);
  g_free (self->sort_key);
  g_free (self->user_id);
  g_free (self->short_id);

  G_OBJECT_CLASS (quipu_member_parent_class)->finalize (object);
}

static void
quipu_member_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  QuipuMember *self = QUIPU_MEMBER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_SHORT_ID:
      g_value_set_string (value, self->short_id);
      break;
    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
quipu_member_class_init (QuipuMemberClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = quipu_member_finalize;
  object_class->get_property = quipu_member_get_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHORT_ID] =
    g_param_spec_string ("short-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ONLINE] =
    g_param_spec_boolean ("online", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
quipu_member_init (QuipuMember *self)
{
}

QuipuMember *
quipu_member_new (const char *name)
{
  QuipuMember *self = g_object_new (QUIPU_TYPE_MEMBER, NULL);
  g_autofree char *fold = quipu_name_fold (name);

  self->name = g_strdup (name);
  self->sort_key = g_utf8_collate_key (fold, -1);
  return self;
}

void
quipu_member_set_online (QuipuMember *self,
                         gboolean     online)
{
  online = !!online;
  if (self->online == online)
    return;
  self->online = online;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);
}

void
quipu_member_set_user_id (QuipuMember *self,
                          const char  *user_id)
{
  if (user_id == NULL || g_strcmp0 (self->user_id, user_id) == 0 || strnlen (user_id, 8) < 8)
    return;
  g_free (self->user_id);
  g_free (self->short_id);
  self->user_id = g_strdup (user_id);
  self->short_id = quipu_user_id_short (user_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USER_ID]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHORT_ID]);
}

int
quipu_member_compare (gconstpointer a,
                      gconstpointer b,
                      gpointer      user_data)
{
  const QuipuMember *x = a, *y = b;

  return strcmp (x->sort_key, y->sort_key);
}

const char *
quipu_member_get_name (QuipuMember *self)
{
  return self->name;
}

const char *
quipu_member_get_user_id (QuipuMember *self)
{
  return self->user_id;
}

const char *
quipu_member_get_short_id (QuipuMember *self)
{
  return self->short_id;
}

gboolean
quipu_member_get_online (QuipuMember *self)
{
  return self->online;
}
