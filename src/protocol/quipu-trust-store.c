#define G_LOG_DOMAIN "quipu-tls"

#include "config.h"

#include <string.h>

#include <gnutls/x509.h>

#include "quipu-error-private.h"
#include "quipu-tls-private.h"

/* The client side of trust: the known-servers file, the decision whether to
 * trust a server's certificate, and the credentials client sessions share. */

/* Trust store */

struct _QuipuTrustStore {
  char *path;
};

/* One line of the known-servers file, kept verbatim so a rewrite preserves
 * comments and other entries exactly. */
typedef struct {
  char *text;
  char *host_port;   /* NULL for blank lines and comments */
  guint8 digest[DIGEST_SIZE];
} KnownLine;

static void
known_line_free (KnownLine *line)
{
  g_free (line->text);
  g_free (line->host_port);
  g_free (line);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KnownLine, known_line_free)

static gboolean
is_host_char (char c)
{
  /* Bytes >= 0x80 let internationalized names through as UTF-8. */
  return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_' || (guchar) c >= 0x80;
}

static gboolean
is_valid_port (const char *port)
{
  guint64 value;

  if (*port == '\0' || strlen (port) > 5)
    return FALSE;
  for (const char *p = port; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  value = g_ascii_strtoull (port, NULL, 10);
  return value >= 1 && value <= 65535;
}

/* "host:port", or "[ipv6]:port". */
static gboolean
is_valid_host_port (const char *host_port)
{
  const char *colon = strrchr (host_port, ':');
  g_autofree char *host = NULL;

  if (colon == NULL || colon == host_port || !is_valid_port (colon + 1))
    return FALSE;
  host = g_strndup (host_port, colon - host_port);

  if (host[0] == '[')
    {
      gsize len = strlen (host);

      if (len < 3 || host[len - 1] != ']')
        return FALSE;
      host[len - 1] = '\0';
      return strchr (host + 1, ':') != NULL && g_hostname_is_ip_address (host + 1);
    }

  for (const char *p = host; *p != '\0'; p++)
    if (!is_host_char (*p))
      return FALSE;
  return TRUE;
}

static KnownLine *
parse_known_line (const char *text)
{
  g_autoptr(KnownLine) line = NULL;
  g_auto(GStrv) tokens = NULL;
  const char *fields[2];
  guint n_fields = 0;
  const char *start = text;

  line = g_new0 (KnownLine, 1);
  line->text = g_strdup (text);

  while (*start == ' ' || *start == '\t')
    start++;
  if (*start == '\0' || *start == '#')
    return g_steal_pointer (&line);

  tokens = g_strsplit_set (text, " \t", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (tokens[i][0] == '\0')
        continue;
      if (n_fields == G_N_ELEMENTS (fields))
        return NULL;
      fields[n_fields++] = tokens[i];
    }

  if (n_fields != 2
      || !is_valid_host_port (fields[0])
      || !g_str_has_prefix (fields[1], QUIPU_FINGERPRINT_PREFIX)
      || !quipu_tls_fingerprint_parse (fields[1], line->digest, NULL))
    return NULL;

  line->host_port = g_strdup (fields[0]);
  return g_steal_pointer (&line);
}

static guint
line_number_at (const char *contents,
                const char *pos)
{
  guint number = 1;

  for (const char *p = contents; p < pos; p++)
    if (*p == '\n')
      number++;
  return number;
}

/* The whole file as KnownLines; a missing file is empty. */
static GPtrArray *
read_known_lines (QuipuTrustStore *store,
                  GError         **error)
{
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) texts = NULL;
  const char *invalid;
  gsize len;
  guint n_texts;

  contents = quipu_tls_read_small_file ("known-servers file", store->path, TRUE, &len, error);
  if (contents == NULL)
    return NULL;

  if (!g_utf8_validate_len (contents, len, &invalid))
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "%s line %u: not valid UTF-8 text",
                   store->path, line_number_at (contents, invalid));
      return NULL;
    }

  texts = g_strsplit (contents, "\n", -1);
  n_texts = g_strv_length (texts);
  /* A final newline ends the last line; it does not start an empty one. */
  if (n_texts > 0 && texts[n_texts - 1][0] == '\0')
    n_texts--;

  lines = g_ptr_array_new_with_free_func ((GDestroyNotify) known_line_free);
  for (guint i = 0; i < n_texts; i++)
    {
      char *text = texts[i];
      gsize text_len = strlen (text);
      KnownLine *line;

      if (text_len > 0 && text[text_len - 1] == '\r')
        text[text_len - 1] = '\0';

      line = parse_known_line (text);
      if (line == NULL)
        {
          g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                       "%s line %u: expected 'host:port SHA256:fingerprint'",
                       store->path, i + 1);
          return NULL;
        }
      g_ptr_array_add (lines, line);
    }

  return g_steal_pointer (&lines);
}

static KnownLine *
find_known_line (GPtrArray  *lines,
                 const char *host_port)
{
  for (guint i = 0; i < lines->len; i++)
    {
      KnownLine *line = g_ptr_array_index (lines, i);

      /* Host names are case-insensitive; ports are digits. */
      if (line->host_port != NULL && g_ascii_strcasecmp (line->host_port, host_port) == 0)
        return line;
    }
  return NULL;
}

QuipuTrustStore *
quipu_trust_store_new (const char *path)
{
  QuipuTrustStore *store = g_new0 (QuipuTrustStore, 1);

  store->path = path != NULL
    ? g_strdup (path)
    : g_build_filename (g_get_user_data_dir (), "quipu", "known-servers", NULL);
  return store;
}

void
quipu_trust_store_free (QuipuTrustStore *store)
{
  if (store == NULL)
    return;
  g_free (store->path);
  g_free (store);
}

const char *
quipu_trust_store_get_path (QuipuTrustStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->path;
}

/* On error returns QUIPU_TRUST_UNKNOWN with `error` set: callers must check
 * the error before acting on UNKNOWN. */
QuipuTrustResult
quipu_trust_store_lookup (QuipuTrustStore *store,
                          const char      *host_port,
                          const char      *fingerprint,
                          char           **pinned,
                          GError         **error)
{
  g_autoptr(GPtrArray) lines = NULL;
  guint8 digest[DIGEST_SIZE];
  KnownLine *line;

  g_return_val_if_fail (store != NULL, QUIPU_TRUST_UNKNOWN);
  g_return_val_if_fail (host_port != NULL, QUIPU_TRUST_UNKNOWN);
  g_return_val_if_fail (fingerprint != NULL, QUIPU_TRUST_UNKNOWN);

  if (pinned != NULL)
    *pinned = NULL;

  if (!quipu_tls_fingerprint_parse (fingerprint, digest, error))
    return QUIPU_TRUST_UNKNOWN;
  lines = read_known_lines (store, error);
  if (lines == NULL)
    return QUIPU_TRUST_UNKNOWN;

  line = find_known_line (lines, host_port);
  if (line == NULL)
    return QUIPU_TRUST_UNKNOWN;
  if (memcmp (line->digest, digest, DIGEST_SIZE) == 0)
    return QUIPU_TRUST_MATCH;

  if (pinned != NULL)
    *pinned = quipu_tls_format_digest (line->digest);
  return QUIPU_TRUST_MISMATCH;
}

gboolean
quipu_trust_store_knows (QuipuTrustStore *store,
                         const char      *host_port)
{
  g_autoptr(GPtrArray) lines = read_known_lines (store, NULL);

  return lines != NULL && find_known_line (lines, host_port) != NULL;
}

gboolean
quipu_trust_store_pin (QuipuTrustStore *store,
                       const char      *host_port,
                       const char      *fingerprint,
                       GError         **error)
{
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(GString) out = NULL;
  g_autofree char *canonical = NULL;
  g_autofree char *entry = NULL;
  g_autofree char *dir = NULL;
  gboolean replaced = FALSE;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (host_port != NULL, FALSE);
  g_return_val_if_fail (fingerprint != NULL, FALSE);

  if (!is_valid_host_port (host_port))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "not a host:port to pin: %s", host_port);
      return FALSE;
    }
  canonical = quipu_tls_fingerprint_canonical (fingerprint, error);
  if (canonical == NULL)
    return FALSE;
  lines = read_known_lines (store, error);
  if (lines == NULL)
    return FALSE;

  entry = g_strconcat (host_port, " ", canonical, NULL);
  out = g_string_new (NULL);
  for (guint i = 0; i < lines->len; i++)
    {
      KnownLine *line = g_ptr_array_index (lines, i);
      gboolean same_host = line->host_port != NULL
                           && g_ascii_strcasecmp (line->host_port, host_port) == 0;

      /* Replace the first entry in place; drop any duplicates after it. */
      if (same_host && replaced)
        continue;
      g_string_append (out, same_host ? entry : line->text);
      g_string_append_c (out, '\n');
      replaced |= same_host;
    }
  if (!replaced)
    g_string_append_printf (out, "%s\n", entry);

  dir = g_path_get_dirname (store->path);
  return quipu_tls_ensure_directory (dir, error)
         && quipu_tls_write_atomically (store->path, out->str, out->len, 0600, error);
}

/* Client verification */

static const char *
ca_failure_reason (unsigned int status)
{
  if (status & GNUTLS_CERT_REVOKED)
    return "revoked";
  if (status & GNUTLS_CERT_EXPIRED)
    return "expired";
  if (status & GNUTLS_CERT_NOT_ACTIVATED)
    return "not yet valid";
  if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
    return "not signed by a known authority";
  if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
    return "issued for another host name";
  return "its chain does not verify";
}

/* Returns TRUE when the chain verifies against the session's trust anchors
 * for policy->hostname; otherwise *reason says why not. */
static void load_system_trust (void);

static gboolean
verify_by_ca (gnutls_session_t        session,
              const QuipuTrustPolicy *policy,
              const char            **reason)
{
  unsigned int status = 0;
  int ret;

  load_system_trust ();
  ret = gnutls_certificate_verify_peers3 (session, policy->hostname, &status);
  if (ret < 0)
    {
      g_debug ("cannot verify the certificate of %s: %s",
               policy->host_port, gnutls_strerror (ret));
      *reason = "its chain could not be checked";
      return FALSE;
    }
  if (status != 0)
    {
      *reason = ca_failure_reason (status);
      g_debug ("certificate of %s not trusted by CA: %s", policy->host_port, *reason);
      return FALSE;
    }
  return TRUE;
}

static gboolean
verify_by_pin (const QuipuTrustPolicy *policy,
               const char             *presented,
               GError                **error)
{
  g_autofree char *expected = quipu_tls_fingerprint_canonical (policy->pinned_fingerprint, error);

  if (expected == NULL)
    return FALSE;
  if (strcmp (expected, presented) == 0)
    return TRUE;

  g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED,
               "the certificate of %s does not match the required fingerprint: "
               "expected %s, presented %s",
               policy->host_port, expected, presented);
  if (error != NULL)
    quipu_error_set_certificate (*error, QUIPU_PROTOCOL_ERROR_UNTRUSTED, presented, expected);
  return FALSE;
}

static void
refuse_changed (const QuipuTrustPolicy  *policy,
                const char              *pinned,
                const char              *presented,
                GError                 **error)
{
  GError *local = g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED,
                               "the certificate of %s has changed: pinned %s, presented %s; "
                               "if you expected this, remove the line for %s from %s",
                               policy->host_port, pinned, presented, policy->host_port,
                               quipu_trust_store_get_path (policy->store));

  quipu_error_set_certificate (local, QUIPU_PROTOCOL_ERROR_CERTIFICATE_CHANGED, presented, pinned);
  g_propagate_error (error, local);
}

static gboolean
pin_unknown (const QuipuTrustPolicy  *policy,
             const char              *presented,
             const char              *ca_reason,
             QuipuTrustVia           *via,
             GError                 **error)
{
  if (policy->refuse_unknown)
    {
      GError *local = g_error_new (QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER,
                                   "the certificate of %s is not known (%s): it presents %s",
                                   policy->host_port, ca_reason, presented);

      quipu_error_set_certificate (local, QUIPU_PROTOCOL_ERROR_UNKNOWN_SERVER, presented, NULL);
      g_propagate_error (error, local);
      return FALSE;
    }
  if (!quipu_trust_store_pin (policy->store, policy->host_port, presented, error))
    return FALSE;
  *via = QUIPU_TRUST_VIA_NEW_PIN;
  return TRUE;
}

gboolean
quipu_tls_verify_peer (gnutls_session_t         session,
                       const QuipuTrustPolicy  *policy,
                       QuipuTrustVia           *via,
                       char                   **fingerprint,
                       GError                 **error)
{
  g_autofree char *presented = NULL;
  const gnutls_datum_t *peers;
  unsigned int n_peers = 0;
  const char *ca_reason = NULL;
  QuipuTrustVia result;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (policy != NULL, FALSE);
  g_return_val_if_fail (policy->hostname != NULL, FALSE);
  g_return_val_if_fail (policy->host_port != NULL, FALSE);

  peers = gnutls_certificate_get_peers (session, &n_peers);
  if (peers == NULL || n_peers == 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED,
                   "the server at %s sent no certificate", policy->host_port);
      return FALSE;
    }
  presented = quipu_tls_fingerprint (peers[0].data, peers[0].size);

  if (policy->pinned_fingerprint != NULL)
    {
      if (!verify_by_pin (policy, presented, error))
        return FALSE;
      result = QUIPU_TRUST_VIA_PIN;
    }
  else
    {
      g_autoptr(GError) store_error = NULL;
      g_autofree char *pinned = NULL;
      QuipuTrustResult known = QUIPU_TRUST_UNKNOWN;

      if (policy->store != NULL)
        known = quipu_trust_store_lookup (policy->store, policy->host_port, presented,
                                          &pinned, &store_error);

      if (store_error == NULL && known == QUIPU_TRUST_MATCH)
        result = QUIPU_TRUST_VIA_KNOWN;
      else if (verify_by_ca (session, policy, &ca_reason))
        result = QUIPU_TRUST_VIA_CA;
      else if (policy->store == NULL)
        {
          g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED,
                       "the certificate of %s is not trusted (%s)", policy->host_port, ca_reason);
          return FALSE;
        }
      else if (store_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&store_error));
          return FALSE;
        }
      else if (known == QUIPU_TRUST_UNKNOWN)
        {
          if (!pin_unknown (policy, presented, ca_reason, &result, error))
            return FALSE;
        }
      else
        {
          refuse_changed (policy, pinned, presented, error);
          return FALSE;
        }
    }

  g_debug ("trusted the certificate of %s (%s)", policy->host_port, presented);
  if (via != NULL)
    *via = result;
  if (fingerprint != NULL)
    *fingerprint = g_steal_pointer (&presented);
  return TRUE;
}

/* Client credentials */

static gnutls_certificate_credentials_t client_creds;

static gnutls_certificate_credentials_t
client_credentials_once (int *alloc_ret)
{
  static int ret;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      ret = gnutls_certificate_allocate_credentials (&client_creds);
      g_once_init_leave (&initialized, 1);
    }
  *alloc_ret = ret;
  return ret < 0 ? NULL : client_creds;
}

/* Reading the system CA bundle takes a while (thousands of certificates
 * parsed): done once per process, and only when a certificate is neither
 * pinned nor known, so most connects never pay for it. */
static gsize system_trust_loaded;

gboolean
quipu_tls_system_trust_loaded (void)
{
  return g_atomic_pointer_get (&system_trust_loaded) != 0;
}

static void
load_system_trust (void)
{
  int alloc_ret;

  if (!g_once_init_enter (&system_trust_loaded))
    return;
  if (client_credentials_once (&alloc_ret) != NULL)
    {
      int ret = gnutls_certificate_set_x509_system_trust (client_creds);

      /* Without system CAs, pinned and trust-on-first-use servers still
       * work, so this is worth a message but not a failure. */
      if (ret < 0)
        g_message ("cannot load the system CA certificates (%s); only pinned "
                   "and previously seen servers will be trusted",
                   gnutls_strerror (ret));
      else
        g_debug ("loaded %d system CA certificates", ret);
    }
  g_once_init_leave (&system_trust_loaded, 1);
}

static void
load_system_trust_thread (GTask        *task,
                          gpointer      source_object,
                          gpointer      task_data,
                          GCancellable *cancellable)
{
  load_system_trust ();
  g_task_return_boolean (task, TRUE);
}

void
quipu_tls_load_system_trust_async (GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, quipu_tls_load_system_trust_async);
  g_task_set_name (task, "[quipu] load system CAs");
  if (quipu_tls_system_trust_loaded ())
    g_task_return_boolean (task, TRUE);
  else
    g_task_run_in_thread (task, load_system_trust_thread);
}

gboolean
quipu_tls_load_system_trust_finish (GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gnutls_certificate_credentials_t
quipu_tls_client_credentials (GError **error)
{
  int alloc_ret;
  gnutls_certificate_credentials_t creds = client_credentials_once (&alloc_ret);

  if (creds == NULL)
    quipu_tls_gnutls_failed (error, alloc_ret, "cannot allocate TLS client credentials");
  return creds;
}
