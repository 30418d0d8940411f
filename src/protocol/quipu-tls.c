#define G_LOG_DOMAIN "quipu-tls"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "quipu-error.h"
#include "quipu-tls-private.h"

/* Certificates, keys and the known-servers file are all small; anything
 * bigger is a mistake (a wrong path) and is refused before it is read whole. */
#define MAX_FILE_SIZE (1024 * 1024)

#define BASE64_DIGEST_LEN 43   /* 32 bytes, unpadded */
#define HEX_DIGEST_LEN 64
#define HEX_COLON_DIGEST_LEN 95
#define MAX_SHOWN_INPUT 80

#define SERVER_CERT_NAME "server.crt"
#define SERVER_KEY_NAME "server.key"
#define SELF_SIGNED_CN "quipu-server"
#define SELF_SIGNED_YEARS 10

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)

static void
datum_clear (gnutls_datum_t *datum)
{
  gnutls_free (datum->data);
  datum->data = NULL;
  datum->size = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, datum_clear)

typedef struct {
  gnutls_x509_crt_t *certs;
  unsigned int       n_certs;
} CertChain;

static void
cert_chain_clear (CertChain *chain)
{
  for (unsigned int i = 0; i < chain->n_certs; i++)
    gnutls_x509_crt_deinit (chain->certs[i]);
  gnutls_free (chain->certs);
  chain->certs = NULL;
  chain->n_certs = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CertChain, cert_chain_clear)

gboolean
quipu_tls_gnutls_failed (GError    **error,
                         int         ret,
                         const char *what)
{
  g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
               "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

/* Fingerprints */

char *
quipu_tls_format_digest (const guint8 digest[DIGEST_SIZE])
{
  g_autofree char *b64 = g_base64_encode (digest, DIGEST_SIZE);

  b64[BASE64_DIGEST_LEN] = '\0';   /* drop the '=' padding */
  return g_strconcat (QUIPU_FINGERPRINT_PREFIX, b64, NULL);
}

char *
quipu_tls_fingerprint (const guint8 *der,
                       gsize         len)
{
  guint8 digest[DIGEST_SIZE];

  g_return_val_if_fail (der != NULL || len == 0, NULL);

  gnutls_hash_fast (GNUTLS_DIG_SHA256, der, len, digest);
  return quipu_tls_format_digest (digest);
}

static gboolean
parse_base64_digest (const char *b64,
                     guint8      digest[DIGEST_SIZE])
{
  g_autofree char *padded = NULL;
  g_autofree guint8 *decoded = NULL;
  g_autofree char *canonical = NULL;
  gsize len;

  if (strlen (b64) != BASE64_DIGEST_LEN)
    return FALSE;
  for (const char *p = b64; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/')
      return FALSE;

  padded = g_strconcat (b64, "=", NULL);
  decoded = g_base64_decode (padded, &len);
  if (len != DIGEST_SIZE)
    return FALSE;

  /* The last character carries two unused bits; only one spelling of each
   * digest is accepted, so a fingerprint cannot be written two ways. */
  canonical = g_base64_encode (decoded, DIGEST_SIZE);
  if (strncmp (canonical, b64, BASE64_DIGEST_LEN) != 0)
    return FALSE;

  memcpy (digest, decoded, DIGEST_SIZE);
  return TRUE;
}

/* 64 hex digits, either contiguous or as colon-separated pairs
 * ("AB:CD:..."), as openssl and browsers print them. */
static gboolean
parse_hex_digest (const char *hex,
                  guint8      digest[DIGEST_SIZE])
{
  gsize len = strlen (hex);
  guint stride;

  if (len == HEX_DIGEST_LEN)
    stride = 2;
  else if (len == HEX_COLON_DIGEST_LEN)
    stride = 3;
  else
    return FALSE;

  for (guint i = 0; i < DIGEST_SIZE; i++)
    {
      const char *pair = hex + i * stride;
      int hi = g_ascii_xdigit_value (pair[0]);
      int lo = g_ascii_xdigit_value (pair[1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      if (stride == 3 && i + 1 < DIGEST_SIZE && pair[2] != ':')
        return FALSE;
      digest[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

/* Echoes at most MAX_SHOWN_INPUT bytes of the input, escaped, so pasted junk
 * still makes a one-line message. */
static void
set_not_a_fingerprint (GError    **error,
                       const char *text)
{
  g_autofree char *head = g_strndup (text, MAX_SHOWN_INPUT);
  g_autofree char *shown = g_strescape (head, NULL);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "not a SHA-256 fingerprint: %s%s",
               shown, strlen (text) > MAX_SHOWN_INPUT ? "…" : "");
}

gboolean
quipu_tls_fingerprint_parse (const char *text,
                             guint8      digest[32],
                             GError    **error)
{
  gboolean ok;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (digest != NULL, FALSE);

  if (g_str_has_prefix (text, QUIPU_FINGERPRINT_PREFIX))
    ok = parse_base64_digest (text + strlen (QUIPU_FINGERPRINT_PREFIX), digest);
  else
    ok = parse_hex_digest (text, digest);

  if (!ok)
    set_not_a_fingerprint (error, text);
  return ok;
}

gboolean
quipu_tls_fingerprint_equal (const char *a,
                             const char *b)
{
  guint8 da[DIGEST_SIZE];
  guint8 db[DIGEST_SIZE];

  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (b != NULL, FALSE);

  return quipu_tls_fingerprint_parse (a, da, NULL)
         && quipu_tls_fingerprint_parse (b, db, NULL)
         && memcmp (da, db, DIGEST_SIZE) == 0;
}

char *
quipu_tls_fingerprint_canonical (const char *text,
                                 GError    **error)
{
  guint8 digest[DIGEST_SIZE];

  if (!quipu_tls_fingerprint_parse (text, digest, error))
    return NULL;
  return quipu_tls_format_digest (digest);
}

/* Files */

/* Fills buf (MAX_FILE_SIZE + 1 bytes) from fd; reading one byte past the
 * limit tells a file that grew too big from one that fits exactly. Returns
 * NULL or why it failed. */
static const char *
read_to_limit (int    fd,
               char  *buf,
               gsize *len)
{
  *len = 0;
  for (;;)
    {
      gssize n = read (fd, buf + *len, MAX_FILE_SIZE + 1 - *len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return g_strerror (errno);
      if (n == 0)
        return NULL;
      *len += n;
      if (*len > MAX_FILE_SIZE)
        return "larger than 1 MiB";
    }
}

/* Reads a whole regular file of at most MAX_FILE_SIZE bytes, NUL-terminated.
 * `what` names the file's role in errors ("cannot read certificate PATH: ...").
 * With `missing_ok`, a file that does not exist reads as empty. */
char *
quipu_tls_read_small_file (const char *what,
                           const char *path,
                           gboolean    missing_ok,
                           gsize      *len_out,
                           GError    **error)
{
  g_autofree char *buf = NULL;
  const char *failure = NULL;
  struct stat st;
  gsize len = 0;
  int fd;

  /* O_NONBLOCK: a FIFO at this path must not hang us before fstat. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0 && errno == ENOENT && missing_ok)
    {
      *len_out = 0;
      return g_strdup ("");
    }

  if (fd < 0 || fstat (fd, &st) != 0)
    failure = g_strerror (errno);
  else if (!S_ISREG (st.st_mode))
    failure = "not a regular file";
  else if (st.st_size > MAX_FILE_SIZE)
    failure = "larger than 1 MiB";
  else
    {
      buf = g_malloc (MAX_FILE_SIZE + 1);
      failure = read_to_limit (fd, buf, &len);
    }
  if (fd >= 0)
    close (fd);

  if (failure != NULL)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot read %s %s: %s", what, path, failure);
      return NULL;
    }

  buf = g_realloc (buf, len + 1);
  buf[len] = '\0';
  *len_out = len;
  return g_steal_pointer (&buf);
}

static gboolean
path_exists (const char *path)
{
  GStatBuf st;

  /* Anything but "no such file" counts as present, so an unreadable key is
   * reported by the loader instead of being replaced. */
  return g_lstat (path, &st) == 0 || errno != ENOENT;
}

gboolean
quipu_tls_ensure_directory (const char *dir,
                            GError    **error)
{
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "cannot create directory %s: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* Temporary file, fsync, rename: readers see the old or the new file, never
 * half of one. */
gboolean
quipu_tls_write_atomically (const char *path,
                            const char *contents,
                            gsize       len,
                            int         mode,
                            GError    **error)
{
  return g_file_set_contents_full (path, contents, len,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   mode, error);
}

/* Server credentials */

struct _QuipuServerCredentials {
  gnutls_certificate_credentials_t gnutls;
  char *fingerprint;
  gboolean self_signed;
};

static gboolean
import_chain (const char *path,
              const char *pem,
              gsize       len,
              CertChain  *chain,
              GError    **error)
{
  gnutls_datum_t datum = { (unsigned char *) pem, (unsigned int) len };
  int ret;

  ret = gnutls_x509_crt_list_import2 (&chain->certs, &chain->n_certs, &datum,
                                      GNUTLS_X509_FMT_PEM,
                                      GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
  if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                 "%s holds no PEM certificate", path);
  else if (ret == GNUTLS_E_CERTIFICATE_LIST_UNSORTED)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                 "the certificates in %s are not in chain order (leaf first, then its issuers)",
                 path);
  else if (ret < 0)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                 "%s holds a malformed certificate: %s", path, gnutls_strerror (ret));
  return ret >= 0;
}

static gnutls_x509_privkey_t
import_key (const char *path,
            const char *pem,
            gsize       len,
            GError    **error)
{
  g_auto(gnutls_x509_privkey_t) key = NULL;
  gnutls_datum_t datum = { (unsigned char *) pem, (unsigned int) len };
  int ret;

  if ((ret = gnutls_x509_privkey_init (&key)) < 0)
    {
      quipu_tls_gnutls_failed (error, ret, "cannot allocate a private key");
      return NULL;
    }

  ret = gnutls_x509_privkey_import2 (key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE || ret == GNUTLS_E_BASE64_DECODING_ERROR)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                 "%s holds no PEM private key", path);
  else if (ret == GNUTLS_E_DECRYPTION_FAILED)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                 "private key %s is encrypted; a server key must be stored unencrypted",
                 path);
  else if (ret < 0)
    g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                 "%s holds a malformed private key: %s", path, gnutls_strerror (ret));
  if (ret < 0)
    return NULL;

  return g_steal_pointer (&key);
}

/* The certificate carries the public half of `key`. GnuTLS 3.7 checks
 * this itself for ECDSA and RSA but not for Ed25519: compared here by key
 * ID (a hash of the public key) for every algorithm. */
static gboolean
key_matches_certificate (gnutls_x509_crt_t      crt,
                         gnutls_x509_privkey_t  key)
{
  guint8 crt_id[32], key_id[32];
  size_t crt_id_len = sizeof crt_id, key_id_len = sizeof key_id;

  return gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_id_len) == 0
         && gnutls_x509_privkey_get_key_id (key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_len) == 0
         && crt_id_len == key_id_len
         && memcmp (crt_id, key_id, crt_id_len) == 0;
}

/* Issuer and subject are the same name and the certificate's own key
 * verifies its signature. */
static gboolean
is_self_signed (gnutls_x509_crt_t crt)
{
  unsigned int flags = GNUTLS_VERIFY_DISABLE_CA_SIGN          /* leaves are not CAs */
                       | GNUTLS_VERIFY_DO_NOT_ALLOW_SAME      /* really check the signature */
                       | GNUTLS_VERIFY_DISABLE_TIME_CHECKS
                       | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
  unsigned int status = 0;

  if (!gnutls_x509_crt_check_issuer (crt, crt))
    return FALSE;
  return gnutls_x509_crt_verify (crt, &crt, 1, flags, &status) == 0 && status == 0;
}

QuipuServerCredentials *
quipu_server_credentials_load (const char *cert_path,
                               const char *key_path,
                               GError    **error)
{
  g_autoptr(QuipuServerCredentials) creds = NULL;
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_auto(CertChain) chain = { NULL, 0 };
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_datum_t) leaf_der = { NULL, 0 };
  gsize cert_len, key_len;
  int ret;

  g_return_val_if_fail (cert_path != NULL, NULL);
  g_return_val_if_fail (key_path != NULL, NULL);

  cert_pem = quipu_tls_read_small_file ("certificate", cert_path, FALSE, &cert_len, error);
  if (cert_pem == NULL)
    return NULL;
  key_pem = quipu_tls_read_small_file ("private key", key_path, FALSE, &key_len, error);
  if (key_pem == NULL)
    return NULL;

  if (!import_chain (cert_path, cert_pem, cert_len, &chain, error))
    return NULL;
  key = import_key (key_path, key_pem, key_len, error);
  if (key == NULL)
    return NULL;

  creds = g_new0 (QuipuServerCredentials, 1);
  if ((ret = gnutls_certificate_allocate_credentials (&creds->gnutls)) < 0)
    {
      quipu_tls_gnutls_failed (error, ret, "cannot allocate TLS credentials");
      return NULL;
    }

  ret = key_matches_certificate (chain.certs[0], key)
        ? gnutls_certificate_set_x509_key (creds->gnutls, chain.certs, chain.n_certs, key)
        : GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
  if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "private key %s does not match certificate %s", key_path, cert_path);
      return NULL;
    }
  if (ret < 0)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "cannot use certificate %s with private key %s: %s",
                   cert_path, key_path, gnutls_strerror (ret));
      return NULL;
    }

  if ((ret = gnutls_x509_crt_export2 (chain.certs[0], GNUTLS_X509_FMT_DER, &leaf_der)) < 0)
    {
      quipu_tls_gnutls_failed (error, ret, "cannot encode the server certificate");
      return NULL;
    }
  creds->fingerprint = quipu_tls_fingerprint (leaf_der.data, leaf_der.size);
  creds->self_signed = is_self_signed (chain.certs[0]);

  return g_steal_pointer (&creds);
}

static int
add_san_ip (gnutls_x509_crt_t crt,
            const char       *address)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);

  return gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS,
                                               g_inet_address_to_bytes (inet),
                                               g_inet_address_get_native_size (inet),
                                               GNUTLS_FSAN_APPEND);
}

static int
add_san_dns (gnutls_x509_crt_t crt,
             const char       *name)
{
  return gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, name, strlen (name),
                                               GNUTLS_FSAN_APPEND);
}

/* localhost, the machine's host name (when it is a usable DNS name),
 * 127.0.0.1 and ::1: whatever a local client is likely to dial. */
static int
add_subject_alt_names (gnutls_x509_crt_t crt)
{
  g_autofree char *host = g_hostname_to_ascii (g_get_host_name ());
  int ret;

  if ((ret = add_san_dns (crt, "localhost")) < 0)
    return ret;
  if (host != NULL && !g_hostname_is_ip_address (host)
      && g_ascii_strcasecmp (host, "localhost") != 0
      && (ret = add_san_dns (crt, host)) < 0)
    return ret;
  if ((ret = add_san_ip (crt, "127.0.0.1")) < 0)
    return ret;
  return add_san_ip (crt, "::1");
}

static int
set_random_serial (gnutls_x509_crt_t crt)
{
  guint8 serial[16];
  int ret;

  if ((ret = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    return ret;
  /* DER integers are signed: clear the top bit so the serial is positive,
   * and keep the first byte non-zero so it stays 16 bytes long. */
  serial[0] &= 0x7f;
  if (serial[0] == 0)
    serial[0] = 1;
  return gnutls_x509_crt_set_serial (crt, serial, sizeof serial);
}

static int
set_subject_key_id (gnutls_x509_crt_t crt)
{
  guint8 id[64];
  size_t id_size = sizeof id;
  int ret;

  if ((ret = gnutls_x509_crt_get_key_id (crt, GNUTLS_KEYID_USE_SHA1, id, &id_size)) < 0)
    return ret;
  return gnutls_x509_crt_set_subject_key_id (crt, id, id_size);
}

static gboolean
make_self_signed (gnutls_datum_t *cert_pem,
                  gnutls_datum_t *key_pem,
                  GError        **error)
{
  g_auto(gnutls_x509_privkey_t) key = NULL;
  g_auto(gnutls_x509_crt_t) crt = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) expires = g_date_time_add_years (now, SELF_SIGNED_YEARS);
  int ret;

  /* Ed25519: every handshake signs with this key, and an Ed25519
   * signature costs the server less than a P-256 ECDSA one (issue 11).
   * Servers keep whatever key they already have. */
  if ((ret = gnutls_x509_privkey_init (&key)) < 0
      || (ret = gnutls_x509_privkey_generate2 (key, GNUTLS_PK_EDDSA_ED25519,
                                               GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_ED25519),
                                               0, NULL, 0)) < 0
      || (ret = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                                   GNUTLS_PKCS_PLAIN, key_pem)) < 0)
    return quipu_tls_gnutls_failed (error, ret, "cannot generate the server key");

  if ((ret = gnutls_x509_crt_init (&crt)) < 0
      || (ret = gnutls_x509_crt_set_version (crt, 3)) < 0
      || (ret = set_random_serial (crt)) < 0
      || (ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                               SELF_SIGNED_CN, strlen (SELF_SIGNED_CN))) < 0
      || (ret = gnutls_x509_crt_set_key (crt, key)) < 0
      || (ret = set_subject_key_id (crt)) < 0
      /* an hour back, to tolerate clients whose clocks run a little late */
      || (ret = gnutls_x509_crt_set_activation_time (crt, g_date_time_to_unix (now) - 3600)) < 0
      || (ret = gnutls_x509_crt_set_expiration_time (crt, g_date_time_to_unix (expires))) < 0
      || (ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0
      || (ret = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0
      || (ret = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0
      || (ret = add_subject_alt_names (crt)) < 0
      || (ret = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA512, 0)) < 0
      || (ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, cert_pem)) < 0)
    return quipu_tls_gnutls_failed (error, ret, "cannot create the self-signed server certificate");

  return TRUE;
}

static gboolean
write_self_signed (const char *cert_path,
                   const char *key_path,
                   GError    **error)
{
  g_auto(gnutls_datum_t) cert_pem = { NULL, 0 };
  g_auto(gnutls_datum_t) key_pem = { NULL, 0 };

  if (!make_self_signed (&cert_pem, &key_pem, error))
    return FALSE;

  /* Key first: if we die in between, the next start reports the missing
   * certificate instead of pairing a certificate with no key. */
  return quipu_tls_write_atomically (key_path, (const char *) key_pem.data, key_pem.size, 0600, error)
         && quipu_tls_write_atomically (cert_path, (const char *) cert_pem.data, cert_pem.size, 0644, error);
}

QuipuServerCredentials *
quipu_server_credentials_ensure (const char *data_dir,
                                 GError    **error)
{
  g_autofree char *cert_path = NULL;
  g_autofree char *key_path = NULL;
  gboolean have_cert, have_key;

  g_return_val_if_fail (data_dir != NULL, NULL);

  if (!quipu_tls_ensure_directory (data_dir, error))
    return NULL;

  cert_path = g_build_filename (data_dir, SERVER_CERT_NAME, NULL);
  key_path = g_build_filename (data_dir, SERVER_KEY_NAME, NULL);
  have_cert = path_exists (cert_path);
  have_key = path_exists (key_path);

  if (have_cert && !have_key)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "%s is missing but %s exists; restore the key, or remove the "
                   "certificate to have a new pair generated", key_path, cert_path);
      return NULL;
    }
  if (have_key && !have_cert)
    {
      g_set_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS,
                   "%s is missing but %s exists; restore the certificate, or remove the "
                   "key to have a new pair generated", cert_path, key_path);
      return NULL;
    }
  if (!have_cert && !have_key)
    {
      g_debug ("generating a self-signed certificate in %s", data_dir);
      if (!write_self_signed (cert_path, key_path, error))
        return NULL;
    }

  return quipu_server_credentials_load (cert_path, key_path, error);
}

void
quipu_server_credentials_free (QuipuServerCredentials *creds)
{
  if (creds == NULL)
    return;
  g_clear_pointer (&creds->gnutls, gnutls_certificate_free_credentials);
  g_free (creds->fingerprint);
  g_free (creds);
}

const char *
quipu_server_credentials_get_fingerprint (QuipuServerCredentials *creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  return creds->fingerprint;
}

gboolean
quipu_server_credentials_is_self_signed (QuipuServerCredentials *creds)
{
  g_return_val_if_fail (creds != NULL, FALSE);
  return creds->self_signed;
}

gnutls_certificate_credentials_t
quipu_server_credentials_get_gnutls (QuipuServerCredentials *creds)
{
  g_return_val_if_fail (creds != NULL, NULL);
  return creds->gnutls;
}
