#define G_LOG_DOMAIN "quipu-test-tls"

#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/x509.h>

#include "quipu-error.h"
#include "quipu-tls.h"
#include "quipu-test-util.h"

/* SHA-256 of "abc" (FIPS 180-2 test vector) in every accepted spelling. */
#define ABC_BASE64 "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_HEX_COLONS "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:" \
                       "B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
#define OTHER_FP "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_certificate_credentials_t,
                                 gnutls_certificate_free_credentials, NULL)

/* Helpers */

/* Every file the tests make lives under this directory, removed at exit. */
static char *test_root;

static char *
test_dir (const char *name)
{
  return g_build_filename (test_root, name, NULL);
}

static char *
write_test_file (const char *dir,
                 const char *name,
                 const char *contents,
                 gssize      len)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_assert_no_errno (g_mkdir_with_parents (dir, 0700));
  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
  return path;
}

static char *
read_test_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_no_errno (g_stat (path, &st));
  return st.st_mode & 07777;
}

static QuipuServerCredentials *
ensure_in (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = test_dir (name);
  QuipuServerCredentials *creds = quipu_server_credentials_ensure (dir, &error);

  g_assert_no_error (error);
  g_assert_nonnull (creds);
  return creds;
}

static gnutls_x509_crt_t
import_cert_file (const char *path)
{
  g_autofree char *pem = read_test_file (path);
  gnutls_datum_t datum = { (unsigned char *) pem, strlen (pem) };
  gnutls_x509_crt_t crt;

  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
  return crt;
}

/* A key and a certificate for `cn`, signed by `issuer` (self-signed when
 * NULL). A CA certificate may sign others; a leaf carries `dns_name`. */
typedef struct {
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
} TestCert;

static void
test_cert_clear (TestCert *cert)
{
  g_clear_pointer (&cert->crt, gnutls_x509_crt_deinit);
  g_clear_pointer (&cert->key, gnutls_x509_privkey_deinit);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TestCert, test_cert_clear)

static void
make_test_cert (TestCert       *out,
                const char     *cn,
                gboolean        is_ca,
                const char     *dns_name,
                const TestCert *issuer)
{
  static guint8 serial = 1;
  time_t now = time (NULL);

  g_assert_cmpint (gnutls_x509_privkey_init (&out->key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate2 (out->key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                                  0, NULL, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_init (&out->crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_version (out->crt, 3), ==, 0);
  serial++;
  g_assert_cmpint (gnutls_x509_crt_set_serial (out->crt, &serial, 1), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn_by_oid (out->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                                  cn, strlen (cn)), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (out->crt, out->key), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (out->crt, now - 60), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (out->crt, now + 3600), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_basic_constraints (out->crt, is_ca, -1), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key_usage (out->crt,
                                                  is_ca ? GNUTLS_KEY_KEY_CERT_SIGN
                                                        : GNUTLS_KEY_DIGITAL_SIGNATURE), ==, 0);
  if (dns_name != NULL)
    g_assert_cmpint (gnutls_x509_crt_set_subject_alt_name (out->crt, GNUTLS_SAN_DNSNAME,
                                                           dns_name, strlen (dns_name),
                                                           GNUTLS_FSAN_APPEND), ==, 0);
  if (issuer == NULL)
    g_assert_cmpint (gnutls_x509_crt_sign2 (out->crt, out->crt, out->key,
                                            GNUTLS_DIG_SHA256, 0), ==, 0);
  else
    g_assert_cmpint (gnutls_x509_crt_sign2 (out->crt, issuer->crt, issuer->key,
                                            GNUTLS_DIG_SHA256, 0), ==, 0);
}

static char *
cert_pem (gnutls_x509_crt_t crt)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;

  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &out), ==, 0);
  pem = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

static char *
key_pem (gnutls_x509_privkey_t key)
{
  gnutls_datum_t out = { NULL, 0 };
  char *pem;

  g_assert_cmpint (gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                                      GNUTLS_PKCS_PLAIN, &out), ==, 0);
  pem = g_strndup ((const char *) out.data, out.size);
  gnutls_free (out.data);
  return pem;
}

/* Writes leaf (+ issuer chain) and key into dir and loads them. */
static QuipuServerCredentials *
load_test_cert (const char     *dir,
                const TestCert *leaf,
                const TestCert *issuer)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *leaf_pem = cert_pem (leaf->crt);
  g_autofree char *issuer_pem = issuer != NULL ? cert_pem (issuer->crt) : g_strdup ("");
  g_autofree char *chain = g_strconcat (leaf_pem, issuer_pem, NULL);
  g_autofree char *key = key_pem (leaf->key);
  g_autofree char *cert_path = write_test_file (dir, "chain.pem", chain, -1);
  g_autofree char *key_path = write_test_file (dir, "key.pem", key, -1);
  QuipuServerCredentials *creds;

  creds = quipu_server_credentials_load (cert_path, key_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (creds);
  return creds;
}

/* A real TLS 1.3 handshake between two GnuTLS sessions over a socketpair,
 * pumped in turn on non-blocking sockets. The client's verify hook calls
 * quipu_tls_verify_peer, as the QUIC transport does. */
typedef struct {
  QuipuTrustPolicy policy;
  gboolean verified;
  QuipuTrustVia via;
  char *fingerprint;
  GError *error;
} Verification;

static void
verification_clear (Verification *v)
{
  g_clear_pointer (&v->fingerprint, g_free);
  g_clear_error (&v->error);
  v->verified = FALSE;
}

static int
verify_hook (gnutls_session_t session)
{
  Verification *v = gnutls_session_get_ptr (session);

  g_assert_false (v->verified || v->error != NULL);
  v->verified = quipu_tls_verify_peer (session, &v->policy, &v->via, &v->fingerprint,
                                       &v->error);
  g_assert_true (v->verified == (v->error == NULL));
  return v->verified ? 0 : -1;
}

static gnutls_session_t
new_session (unsigned int                     flags,
             gnutls_certificate_credentials_t creds,
             int                              fd)
{
  gnutls_session_t session;

  g_assert_cmpint (gnutls_init (&session, flags | GNUTLS_NONBLOCK), ==, 0);
  g_assert_cmpint (gnutls_priority_set_direct (session, QUIPU_TLS_PRIORITY, NULL), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, creds), ==, 0);
  gnutls_transport_set_int (session, fd);
  return session;
}

/* Returns the client's gnutls_handshake result (0 on success). */
static int
handshake (QuipuServerCredentials          *server_creds,
           gnutls_certificate_credentials_t client_creds,
           Verification                    *v)
{
  gnutls_session_t server, client;
  int client_ret = GNUTLS_E_AGAIN;
  int server_ret = GNUTLS_E_AGAIN;
  int fds[2];

  verification_clear (v);
  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
  server = new_session (GNUTLS_SERVER, quipu_server_credentials_get_gnutls (server_creds), fds[0]);
  client = new_session (GNUTLS_CLIENT, client_creds, fds[1]);
  g_assert_cmpint (gnutls_server_name_set (client, GNUTLS_NAME_DNS, v->policy.hostname,
                                           strlen (v->policy.hostname)), ==, 0);
  gnutls_session_set_ptr (client, v);
  gnutls_session_set_verify_function (client, verify_hook);

  /* A handful of round trips suffices; the bound turns a stall into a failure. */
  for (guint i = 0; i < 50; i++)
    {
      if (client_ret == GNUTLS_E_AGAIN)
        client_ret = gnutls_handshake (client);
      if (server_ret == GNUTLS_E_AGAIN)
        server_ret = gnutls_handshake (server);
      if (client_ret != GNUTLS_E_AGAIN && (client_ret < 0 || server_ret != GNUTLS_E_AGAIN))
        break;
    }

  g_assert_cmpint (client_ret, !=, GNUTLS_E_AGAIN);
  g_assert_true (v->verified || v->error != NULL);
  if (client_ret == 0)
    {
      g_assert_cmpint (server_ret, ==, 0);
      g_assert_cmpint (gnutls_protocol_get_version (client), ==, GNUTLS_TLS1_3);
    }

  gnutls_deinit (client);
  gnutls_deinit (server);
  close (fds[0]);
  close (fds[1]);
  return client_ret;
}

static gnutls_certificate_credentials_t
system_client_credentials (void)
{
  g_autoptr(GError) error = NULL;
  gnutls_certificate_credentials_t creds = quipu_tls_client_credentials (&error);

  g_assert_no_error (error);
  g_assert_nonnull (creds);
  return creds;
}

/* Fingerprints */

static void
test_fingerprint_format (void)
{
  g_autofree char *fp = quipu_tls_fingerprint ((const guint8 *) "abc", 3);
  g_autofree char *other = quipu_tls_fingerprint ((const guint8 *) "abd", 3);

  g_assert_true (g_regex_match_simple ("^SHA256:[A-Za-z0-9+/]{43}$", fp, 0, 0));
  g_assert_cmpstr (fp, ==, ABC_BASE64);
  g_assert_cmpstr (other, !=, fp);
}

static void
test_fingerprint_parse (void)
{
  static const char * const spellings[] = {
    ABC_BASE64, ABC_HEX, ABC_HEX_COLONS,
    "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
    "ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:61:f2:00:15:ad",
  };
  static const guint8 expected[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
  };

  for (guint i = 0; i < G_N_ELEMENTS (spellings); i++)
    {
      g_autoptr(GError) error = NULL;
      guint8 digest[32] = { 0 };

      g_assert_true (quipu_tls_fingerprint_parse (spellings[i], digest, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (digest, sizeof digest, expected, sizeof expected);
    }
}

static void
test_fingerprint_parse_invalid (void)
{
  static const char * const invalid[] = {
    "",
    "SHA256:",
    "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa",      /* 42 characters */
    "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",    /* padded */
    "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1",     /* non-canonical last digit */
    "SHA256:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",     /* URL-safe alphabet */
    "sha256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
    "SHA1:qZk+NkcGgWq6PiVxeFDCbJzQ2J0",
    "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
    (ABC_HEX "00"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
    "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:A:D",
    "BA-78-16-BF-8F-01-CF-EA-41-41-40-DE-5D-AE-22-23-B0-03-61-A3-96-17-7A-9C-B4-10-FF-61-F2-00-15-AD",
    (" " ABC_BASE64),
  };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GError) error = NULL;
      guint8 digest[32];

      g_assert_false (quipu_tls_fingerprint_parse (invalid[i], digest, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_true (g_str_has_prefix (error->message, "not a SHA-256 fingerprint: "));
    }
}

static void
test_fingerprint_parse_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *long_text = g_strnfill (500, 'x');
  guint8 digest[32];

  g_assert_false (quipu_tls_fingerprint_parse ("SHA256:abc\n", digest, &error));
  g_assert_cmpstr (error->message, ==, "not a SHA-256 fingerprint: SHA256:abc\\n");
  g_clear_error (&error);

  /* Long junk is cut short so the message stays one readable line. */
  g_assert_false (quipu_tls_fingerprint_parse (long_text, digest, &error));
  g_assert_cmpuint (strlen (error->message), <, 120);
  g_assert_true (g_str_has_suffix (error->message, "xxx…"));
}

static void
test_fingerprint_equal (void)
{
  g_assert_true (quipu_tls_fingerprint_equal (ABC_BASE64, ABC_BASE64));
  g_assert_true (quipu_tls_fingerprint_equal (ABC_BASE64, ABC_HEX));
  g_assert_true (quipu_tls_fingerprint_equal (ABC_HEX_COLONS, ABC_BASE64));
  g_assert_false (quipu_tls_fingerprint_equal (ABC_BASE64, OTHER_FP));
  g_assert_false (quipu_tls_fingerprint_equal (ABC_BASE64, "SHA256:garbage"));
  g_assert_false (quipu_tls_fingerprint_equal ("junk", "junk"));
}

/* Server credentials */

static void
test_ensure_creates (void)
{
  g_autoptr(QuipuServerCredentials) creds = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = test_dir ("data/nested");
  g_autofree char *cert_path = g_build_filename (dir, "server.crt", NULL);
  g_autofree char *key_path = g_build_filename (dir, "server.key", NULL);

  creds = quipu_server_credentials_ensure (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (creds);

  g_assert_cmphex (file_mode (dir), ==, 0700);
  g_assert_cmphex (file_mode (key_path), ==, 0600);
  g_assert_cmphex (file_mode (cert_path), ==, 0644);
  g_assert_true (g_regex_match_simple ("^SHA256:[A-Za-z0-9+/]{43}$",
                                       quipu_server_credentials_get_fingerprint (creds), 0, 0));
  g_assert_true (quipu_server_credentials_is_self_signed (creds));
  g_assert_nonnull (quipu_server_credentials_get_gnutls (creds));

  /* The printed fingerprint is the one of the file's certificate. */
  {
    g_auto(gnutls_x509_crt_t) crt = import_cert_file (cert_path);
    gnutls_datum_t der = { NULL, 0 };
    g_autofree char *fp = NULL;

    g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
    fp = quipu_tls_fingerprint (der.data, der.size);
    gnutls_free (der.data);
    g_assert_cmpstr (fp, ==, quipu_server_credentials_get_fingerprint (creds));
  }
}

static void
test_ensure_stable (void)
{
  g_autoptr(QuipuServerCredentials) first = ensure_in ("stable");
  g_autoptr(QuipuServerCredentials) second = ensure_in ("stable");
  g_autoptr(QuipuServerCredentials) elsewhere = ensure_in ("elsewhere");

  g_assert_cmpstr (quipu_server_credentials_get_fingerprint (first), ==,
                   quipu_server_credentials_get_fingerprint (second));
  g_assert_cmpstr (quipu_server_credentials_get_fingerprint (first), !=,
                   quipu_server_credentials_get_fingerprint (elsewhere));
}

static gboolean
has_san (gnutls_x509_crt_t crt,
         int               type,
         const void       *value,
         gsize             len)
{
  for (unsigned int i = 0;; i++)
    {
      char buf[256];
      size_t size = sizeof buf;
      int ret = gnutls_x509_crt_get_subject_alt_name (crt, i, buf, &size, NULL);

      if (ret < 0)
        return FALSE;
      if (ret == type && size == len && memcmp (buf, value, len) == 0)
        return TRUE;
    }
}

static void
test_ensure_certificate (void)
{
  static const guint8 loopback4[4] = { 127, 0, 0, 1 };
  static const guint8 loopback6[16] = { [15] = 1 };
  G_GNUC_UNUSED g_autoptr(QuipuServerCredentials) creds = ensure_in ("fields");
  g_autofree char *dir = test_dir ("fields");
  g_autofree char *cert_path = g_build_filename (dir, "server.crt", NULL);
  g_auto(gnutls_x509_crt_t) crt = import_cert_file (cert_path);
  g_autofree char *host = g_hostname_to_ascii (g_get_host_name ());
  time_t now = time (NULL);
  guint8 serial[32];
  size_t serial_size = sizeof serial;
  char name[128];
  size_t name_size = sizeof name;
  unsigned int bits = 0, critical = 0, usage = 0, ca = 1;
  char oid[64];
  size_t oid_size = sizeof oid;

  g_assert_cmpint (gnutls_x509_crt_get_version (crt), ==, 3);
  g_assert_cmpint (gnutls_x509_crt_get_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                                  name, &name_size), ==, 0);
  g_assert_cmpstr (name, ==, "quipu-server");
  g_assert_cmpint (gnutls_x509_crt_check_issuer (crt, crt), ==, 1);

  g_assert_cmpint (gnutls_x509_crt_get_serial (crt, serial, &serial_size), ==, 0);
  g_assert_cmpuint (serial_size, ==, 16);
  g_assert_cmpuint (serial[0] & 0x80, ==, 0);
  g_assert_cmpuint (serial[0], !=, 0);

  g_assert_cmpint (gnutls_x509_crt_get_pk_algorithm (crt, &bits), ==, GNUTLS_PK_EDDSA_ED25519);
  g_assert_cmpuint (bits, ==, 256);
  g_assert_cmpint (gnutls_x509_crt_get_signature_algorithm (crt), ==, GNUTLS_SIGN_EDDSA_ED25519);

  g_assert_cmpint (gnutls_x509_crt_get_activation_time (crt), <=, now - 3600 + 60);
  g_assert_cmpint (gnutls_x509_crt_get_activation_time (crt), >=, now - 3600 - 60);
  g_assert_cmpint (gnutls_x509_crt_get_expiration_time (crt), >=, now + 3652 * 24 * 3600 - 120);
  g_assert_cmpint (gnutls_x509_crt_get_expiration_time (crt), <=, now + 3653 * 24 * 3600 + 120);

  g_assert_cmpint (gnutls_x509_crt_get_basic_constraints (crt, &critical, &ca, NULL), ==, 0);
  g_assert_cmpuint (ca, ==, 0);
  g_assert_cmpint (gnutls_x509_crt_get_key_usage (crt, &usage, &critical), ==, 0);
  g_assert_cmpuint (usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE);
  g_assert_cmpint (gnutls_x509_crt_get_key_purpose_oid (crt, 0, oid, &oid_size, NULL), ==, 0);
  g_assert_cmpstr (oid, ==, GNUTLS_KP_TLS_WWW_SERVER);
  oid_size = sizeof oid;
  g_assert_cmpint (gnutls_x509_crt_get_key_purpose_oid (crt, 1, oid, &oid_size, NULL), ==,
                   GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

  g_assert_true (has_san (crt, GNUTLS_SAN_DNSNAME, "localhost", strlen ("localhost")));
  g_assert_true (has_san (crt, GNUTLS_SAN_IPADDRESS, loopback4, sizeof loopback4));
  g_assert_true (has_san (crt, GNUTLS_SAN_IPADDRESS, loopback6, sizeof loopback6));
  if (host != NULL && g_ascii_strcasecmp (host, "localhost") != 0)
    g_assert_true (has_san (crt, GNUTLS_SAN_DNSNAME, host, strlen (host)));
  g_assert_true (gnutls_x509_crt_check_hostname (crt, "localhost"));
  g_assert_true (gnutls_x509_crt_check_hostname (crt, "127.0.0.1"));
  g_assert_true (gnutls_x509_crt_check_hostname (crt, "::1"));
  g_assert_false (gnutls_x509_crt_check_hostname (crt, "example.org"));
}

static void
test_ensure_half_pair (void)
{
  g_autoptr(GError) error = NULL;
  G_GNUC_UNUSED g_autoptr(QuipuServerCredentials) creds = ensure_in ("half");
  g_autofree char *dir = test_dir ("half");
  g_autofree char *cert_path = g_build_filename (dir, "server.crt", NULL);
  g_autofree char *key_path = g_build_filename (dir, "server.key", NULL);
  g_autofree char *key_before = read_test_file (key_path);
  g_autofree char *key_after = NULL;
  g_autofree char *expected = NULL;

  /* Only the key: it must survive untouched. */
  g_assert_no_errno (g_unlink (cert_path));
  g_assert_null (quipu_server_credentials_ensure (dir, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS);
  expected = g_strdup_printf ("%s is missing but %s exists; restore the certificate, or "
                              "remove the key to have a new pair generated",
                              cert_path, key_path);
  g_assert_cmpstr (error->message, ==, expected);
  key_after = read_test_file (key_path);
  g_assert_cmpstr (key_before, ==, key_after);
  g_assert_false (g_file_test (cert_path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* Only the certificate. */
  g_assert_no_errno (g_rename (key_path, cert_path));
  g_assert_null (quipu_server_credentials_ensure (dir, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS);
  g_assert_true (g_str_has_prefix (error->message, key_path));
  g_assert_nonnull (strstr (error->message, "restore the key"));
  g_assert_false (g_file_test (key_path, G_FILE_TEST_EXISTS));
}

static void
assert_load_fails (const char *cert_path,
                   const char *key_path,
                   const char *expected_message)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (quipu_server_credentials_load (cert_path, key_path, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS);
  g_assert_cmpstr (error->message, ==, expected_message);
}

static void
test_load_errors (void)
{
  G_GNUC_UNUSED g_autoptr(QuipuServerCredentials) a = ensure_in ("load-a");
  G_GNUC_UNUSED g_autoptr(QuipuServerCredentials) b = ensure_in ("load-b");
  g_autofree char *dir_a = test_dir ("load-a");
  g_autofree char *dir_b = test_dir ("load-b");
  g_autofree char *cert_a = g_build_filename (dir_a, "server.crt", NULL);
  g_autofree char *key_a = g_build_filename (dir_a, "server.key", NULL);
  g_autofree char *key_b = g_build_filename (dir_b, "server.key", NULL);
  g_autofree char *missing = g_build_filename (dir_a, "missing.pem", NULL);
  g_autofree char *garbage = write_test_file (dir_a, "garbage.pem", "hello\n", -1);
  g_autofree char *huge_text = g_strnfill (1024 * 1024 + 1, 'x');
  g_autofree char *huge = write_test_file (dir_a, "huge.pem", huge_text, -1);
  g_autofree char *msg = NULL;

  msg = g_strdup_printf ("cannot read certificate %s: No such file or directory", missing);
  assert_load_fails (missing, key_a, msg);
  g_free (msg);
  msg = g_strdup_printf ("cannot read private key %s: No such file or directory", missing);
  assert_load_fails (cert_a, missing, msg);
  g_free (msg);
  msg = g_strdup_printf ("%s holds no PEM certificate", garbage);
  assert_load_fails (garbage, key_a, msg);
  g_free (msg);
  msg = g_strdup_printf ("%s holds no PEM certificate", key_a);
  assert_load_fails (key_a, key_a, msg);
  g_free (msg);
  msg = g_strdup_printf ("%s holds no PEM private key", garbage);
  assert_load_fails (cert_a, garbage, msg);
  g_free (msg);
  msg = g_strdup_printf ("private key %s does not match certificate %s", key_b, cert_a);
  assert_load_fails (cert_a, key_b, msg);
  g_free (msg);
  msg = g_strdup_printf ("cannot read certificate %s: larger than 1 MiB", huge);
  assert_load_fails (huge, key_a, msg);
  g_free (msg);
  msg = g_strdup_printf ("cannot read certificate %s: not a regular file", dir_a);
  assert_load_fails (dir_a, key_a, msg);
}

static void
test_load_malformed_pem (void)
{
  G_GNUC_UNUSED g_autoptr(QuipuServerCredentials) creds = ensure_in ("malformed");
  g_autofree char *dir = test_dir ("malformed");
  g_autofree char *cert_path = g_build_filename (dir, "server.crt", NULL);
  g_autofree char *key_path = g_build_filename (dir, "server.key", NULL);
  g_autofree char *pem = read_test_file (cert_path);
  g_autofree char *bad_path = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(GError) error = NULL;
  char *body = strchr (pem, '\n') + 1;

  /* Damage the DER inside an intact PEM armour. */
  body[0] = body[0] == 'A' ? 'B' : 'A';
  body[1] = body[1] == 'A' ? 'B' : 'A';
  bad_path = write_test_file (dir, "bad.crt", pem, -1);
  g_assert_null (quipu_server_credentials_load (bad_path, key_path, &error));
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS);
  prefix = g_strdup_printf ("%s holds a malformed certificate: ", bad_path);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_load_chain (void)
{
  g_auto(TestCert) ca = { NULL, NULL };
  g_auto(TestCert) leaf = { NULL, NULL };
  g_autofree char *dir = test_dir ("chain");
  g_autoptr(QuipuServerCredentials) creds = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ca_pem = NULL;
  g_autofree char *leaf_pem = NULL;
  g_autofree char *reversed = NULL;
  g_autofree char *reversed_path = NULL;
  g_autofree char *key_path = NULL;
  g_autofree char *expected = NULL;
  gnutls_datum_t der = { NULL, 0 };
  g_autofree char *leaf_fp = NULL;

  make_test_cert (&ca, "Quipu Test CA", TRUE, NULL, NULL);
  make_test_cert (&leaf, "localhost", FALSE, "localhost", &ca);
  creds = load_test_cert (dir, &leaf, &ca);

  /* The fingerprint is the leaf's, and a CA-issued leaf is not self-signed. */
  g_assert_cmpint (gnutls_x509_crt_export2 (leaf.crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
  leaf_fp = quipu_tls_fingerprint (der.data, der.size);
  gnutls_free (der.data);
  g_assert_cmpstr (quipu_server_credentials_get_fingerprint (creds), ==, leaf_fp);
  g_assert_false (quipu_server_credentials_is_self_signed (creds));

  ca_pem = cert_pem (ca.crt);
  leaf_pem = cert_pem (leaf.crt);
  reversed = g_strconcat (ca_pem, leaf_pem, NULL);
  reversed_path = write_test_file (dir, "reversed.pem", reversed, -1);
  key_path = g_build_filename (dir, "key.pem", NULL);
  g_assert_null (quipu_server_credentials_load (reversed_path, key_path, &error));
  expected = g_strdup_printf ("the certificates in %s are not in chain order "
                              "(leaf first, then its issuers)", reversed_path);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_load_self_issued_forgery (void)
{
  g_auto(TestCert) other = { NULL, NULL };
  g_auto(TestCert) forged = { NULL, NULL };
  g_autofree char *dir = test_dir ("forged");
  g_autoptr(QuipuServerCredentials) creds = NULL;

  /* Issuer name equals subject name, but another key signed it. */
  make_test_cert (&other, "quipu-server", FALSE, NULL, NULL);
  make_test_cert (&forged, "quipu-server", FALSE, "localhost", &other);
  g_assert_true (gnutls_x509_crt_check_issuer (forged.crt, forged.crt));
  creds = load_test_cert (dir, &forged, NULL);
  g_assert_false (quipu_server_credentials_is_self_signed (creds));
}

/* Trust store */

static QuipuTrustStore *
store_in (const char *name)
{
  g_autofree char *dir = test_dir (name);
  g_autofree char *path = g_build_filename (dir, "known-servers", NULL);

  return quipu_trust_store_new (path);
}

static QuipuTrustResult
lookup (QuipuTrustStore *store,
        const char      *host_port,
        const char      *fingerprint,
        char           **pinned)
{
  g_autoptr(GError) error = NULL;
  QuipuTrustResult result;

  result = quipu_trust_store_lookup (store, host_port, fingerprint, pinned, &error);
  g_assert_no_error (error);
  return result;
}

static void
pin (QuipuTrustStore *store,
     const char      *host_port,
     const char      *fingerprint)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (quipu_trust_store_pin (store, host_port, fingerprint, &error));
  g_assert_no_error (error);
}

static void
test_store_default_path (void)
{
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (NULL);
  g_autofree char *expected = g_build_filename (g_get_user_data_dir (), "quipu",
                                                "known-servers", NULL);

  g_assert_cmpstr (quipu_trust_store_get_path (store), ==, expected);
  g_assert_cmpint (lookup (store, "localhost:7447", ABC_BASE64, NULL), ==, QUIPU_TRUST_UNKNOWN);
}

static void
test_store_pin_and_match (void)
{
  g_autoptr(QuipuTrustStore) store = store_in ("store/a/b");
  const char *path = quipu_trust_store_get_path (store);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *contents = NULL;
  char *pinned = (char *) "untouched";

  g_assert_cmpint (lookup (store, "chat.example.org:7447", ABC_BASE64, &pinned), ==,
                   QUIPU_TRUST_UNKNOWN);
  g_assert_null (pinned);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* A hex fingerprint is stored in the canonical form. */
  pin (store, "chat.example.org:7447", ABC_HEX);
  contents = read_test_file (path);
  g_assert_cmpstr (contents, ==, "chat.example.org:7447 " ABC_BASE64 "\n");
  g_assert_cmphex (file_mode (path), ==, 0600);
  g_assert_cmphex (file_mode (dir), ==, 0700);

  g_assert_cmpint (lookup (store, "chat.example.org:7447", ABC_BASE64, &pinned), ==,
                   QUIPU_TRUST_MATCH);
  g_assert_null (pinned);
  g_assert_cmpint (lookup (store, "Chat.Example.ORG:7447", ABC_HEX_COLONS, NULL), ==,
                   QUIPU_TRUST_MATCH);
  g_assert_cmpint (lookup (store, "chat.example.org:7448", ABC_BASE64, NULL), ==,
                   QUIPU_TRUST_UNKNOWN);
}

static void
test_store_mismatch (void)
{
  g_autoptr(QuipuTrustStore) store = store_in ("mismatch");
  g_autofree char *pinned = NULL;

  pin (store, "localhost:7447", ABC_BASE64);
  g_assert_cmpint (lookup (store, "localhost:7447", OTHER_FP, &pinned), ==,
                   QUIPU_TRUST_MISMATCH);
  g_assert_cmpstr (pinned, ==, ABC_BASE64);

  /* Pinning again replaces the entry rather than adding a second one. */
  pin (store, "localhost:7447", OTHER_FP);
  g_assert_cmpint (lookup (store, "localhost:7447", OTHER_FP, NULL), ==, QUIPU_TRUST_MATCH);
  {
    g_autofree char *contents = read_test_file (quipu_trust_store_get_path (store));

    g_assert_cmpstr (contents, ==, "localhost:7447 " OTHER_FP "\n");
  }
}

static void
assert_malformed (const char *contents,
                  guint       line)
{
  g_autofree char *dir = test_dir ("malformed-store");
  g_autofree char *path = write_test_file (dir, "known-servers", contents, -1);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (path);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("%s line %u: expected 'host:port "
                                               "SHA256:fingerprint'", path, line);
  g_autofree char *after = NULL;

  g_assert_cmpint (quipu_trust_store_lookup (store, "localhost:7447", ABC_BASE64, NULL, &error),
                   ==, QUIPU_TRUST_UNKNOWN);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  /* A file we cannot understand is never rewritten. */
  g_assert_false (quipu_trust_store_pin (store, "localhost:7447", ABC_BASE64, &error));
  g_assert_cmpstr (error->message, ==, expected);
  after = read_test_file (path);
  g_assert_cmpstr (after, ==, contents);
}

static void
test_store_malformed (void)
{
  const char *good = "# known servers\n\nlocalhost:7447 " ABC_BASE64 "\n";
  g_autofree char *f1 = g_strconcat (good, "localhost:7447\n", NULL);
  g_autofree char *f2 = g_strconcat (good, "localhost " ABC_BASE64 "\n", NULL);
  g_autofree char *f3 = g_strconcat (good, "localhost:7447 " ABC_HEX "\n", NULL);
  g_autofree char *f4 = g_strconcat (good, "localhost:7447 " ABC_BASE64 " extra\n", NULL);
  g_autofree char *f5 = g_strconcat (good, "localhost:0 " ABC_BASE64 "\n", NULL);
  g_autofree char *f6 = g_strconcat (good, "localhost:65536 " ABC_BASE64 "\n", NULL);
  g_autofree char *f7 = g_strconcat (good, "::1:7447 " ABC_BASE64 "\n", NULL);
  g_autofree char *f8 = g_strconcat (good, "[nothost]:7447 " ABC_BASE64 "\n", NULL);
  g_autofree char *f9 = g_strconcat (good, "\n\nlocalhost:7447 SHA256:short", NULL);

  assert_malformed (f1, 4);
  assert_malformed (f2, 4);
  assert_malformed (f3, 4);
  assert_malformed (f4, 4);
  assert_malformed (f5, 4);
  assert_malformed (f6, 4);
  assert_malformed (f7, 4);
  assert_malformed (f8, 4);
  assert_malformed (f9, 6);
  assert_malformed ("garbage", 1);
}

static void
test_store_not_utf8 (void)
{
  g_autofree char *dir = test_dir ("binary-store");
  g_autofree char *path = write_test_file (dir, "known-servers", "# ok\n\xff\xfe\n", -1);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (path);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("%s line 2: not valid UTF-8 text", path);

  quipu_trust_store_lookup (store, "localhost:7447", ABC_BASE64, NULL, &error);
  g_assert_error (error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_TLS);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_store_keeps_comments (void)
{
  g_autofree char *dir = test_dir ("comments");
  g_autofree char *path = write_test_file (dir, "known-servers",
                                           "# my servers\n"
                                           "\n"
                                           "a.example:7447 " ABC_BASE64 "\n"
                                           "   # indented comment\n"
                                           "b.example:7447\t" ABC_BASE64 "  \r\n"
                                           "a.example:7447 " ABC_BASE64 "\n"
                                           "c.example:7447 " ABC_BASE64,
                                           -1);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (path);
  g_autofree char *after = NULL;

  pin (store, "a.example:7447", OTHER_FP);
  pin (store, "d.example:7447", ABC_BASE64);
  after = read_test_file (path);
  g_assert_cmpstr (after, ==,
                   "# my servers\n"
                   "\n"
                   "a.example:7447 " OTHER_FP "\n"
                   "   # indented comment\n"
                   "b.example:7447\t" ABC_BASE64 "  \n"
                   "c.example:7447 " ABC_BASE64 "\n"
                   "d.example:7447 " ABC_BASE64 "\n");
  g_assert_cmphex (file_mode (path), ==, 0600);
  g_assert_cmpint (lookup (store, "b.example:7447", ABC_BASE64, NULL), ==, QUIPU_TRUST_MATCH);
}

static void
test_store_ipv6 (void)
{
  g_autoptr(QuipuTrustStore) store = store_in ("ipv6");
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  pin (store, "[::1]:7447", ABC_BASE64);
  pin (store, "[2001:db8::1]:7447", OTHER_FP);
  contents = read_test_file (quipu_trust_store_get_path (store));
  g_assert_cmpstr (contents, ==,
                   "[::1]:7447 " ABC_BASE64 "\n"
                   "[2001:db8::1]:7447 " OTHER_FP "\n");
  g_assert_cmpint (lookup (store, "[::1]:7447", ABC_BASE64, NULL), ==, QUIPU_TRUST_MATCH);
  g_assert_cmpint (lookup (store, "[2001:db8::1]:7447", ABC_BASE64, NULL), ==,
                   QUIPU_TRUST_MISMATCH);
  g_assert_cmpint (lookup (store, "127.0.0.1:7447", ABC_BASE64, NULL), ==, QUIPU_TRUST_UNKNOWN);

  /* An unbracketed IPv6 address is ambiguous and would corrupt the file. */
  g_assert_false (quipu_trust_store_pin (store, "::1:7447", ABC_BASE64, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (quipu_trust_store_pin (store, "evil\nhost:1", ABC_BASE64, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (quipu_trust_store_pin (store, "localhost:7447", "SHA256:nope", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Handshakes */

static void
test_handshake_tofu (void)
{
  g_autoptr(QuipuServerCredentials) server = ensure_in ("tofu-server");
  g_autoptr(QuipuTrustStore) store = store_in ("tofu-client");
  g_autofree char *contents = NULL;
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447", .store = store },
  };
  const char *server_fp = quipu_server_credentials_get_fingerprint (server);

  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==, 0);
  g_assert_no_error (v.error);
  g_assert_cmpint (v.via, ==, QUIPU_TRUST_VIA_NEW_PIN);
  g_assert_cmpstr (v.fingerprint, ==, server_fp);
  contents = read_test_file (quipu_trust_store_get_path (store));
  g_assert_nonnull (strstr (contents, "localhost:7447 "));
  g_assert_nonnull (strstr (contents, server_fp));

  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==, 0);
  g_assert_no_error (v.error);
  g_assert_cmpint (v.via, ==, QUIPU_TRUST_VIA_KNOWN);
  g_assert_cmpstr (v.fingerprint, ==, server_fp);
  verification_clear (&v);
}

static void
test_handshake_changed (void)
{
  g_autoptr(QuipuServerCredentials) old_server = ensure_in ("changed-old");
  g_autoptr(QuipuServerCredentials) new_server = ensure_in ("changed-new");
  g_autoptr(QuipuTrustStore) store = store_in ("changed-client");
  g_autofree char *expected = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447", .store = store },
  };

  g_assert_cmpint (handshake (old_server, system_client_credentials (), &v), ==, 0);
  g_assert_cmpint (v.via, ==, QUIPU_TRUST_VIA_NEW_PIN);
  before = read_test_file (quipu_trust_store_get_path (store));

  g_assert_cmpint (handshake (new_server, system_client_credentials (), &v), ==,
                   GNUTLS_E_CERTIFICATE_ERROR);
  g_assert_error (v.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED);
  g_assert_null (v.fingerprint);
  expected = g_strdup_printf ("the certificate of localhost:7447 has changed: pinned %s, "
                              "presented %s; if you expected this, remove the line for "
                              "localhost:7447 from %s",
                              quipu_server_credentials_get_fingerprint (old_server),
                              quipu_server_credentials_get_fingerprint (new_server),
                              quipu_trust_store_get_path (store));
  g_assert_cmpstr (v.error->message, ==, expected);
  g_assert_null (strchr (v.error->message, '\n'));

  /* The pin stays: a refusal never re-pins. */
  after = read_test_file (quipu_trust_store_get_path (store));
  g_assert_cmpstr (before, ==, after);
  verification_clear (&v);
}

static void
test_handshake_explicit_pin (void)
{
  g_autoptr(QuipuServerCredentials) server = ensure_in ("pin-server");
  g_autoptr(QuipuServerCredentials) other = ensure_in ("pin-other");
  g_autoptr(QuipuTrustStore) store = store_in ("pin-client");
  const char *server_fp = quipu_server_credentials_get_fingerprint (server);
  const char *other_fp = quipu_server_credentials_get_fingerprint (other);
  g_autofree char *expected = NULL;
  guint8 digest[32];
  char hex[65];
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447", .store = store },
  };

  /* The pin may be given in hex; it is compared by digest. */
  g_assert_true (quipu_tls_fingerprint_parse (server_fp, digest, NULL));
  for (guint i = 0; i < 32; i++)
    g_snprintf (hex + 2 * i, 3, "%02X", digest[i]);
  v.policy.pinned_fingerprint = hex;
  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==, 0);
  g_assert_cmpint (v.via, ==, QUIPU_TRUST_VIA_PIN);
  g_assert_cmpstr (v.fingerprint, ==, server_fp);
  /* An explicit pin bypasses the known-servers file entirely. */
  g_assert_false (g_file_test (quipu_trust_store_get_path (store), G_FILE_TEST_EXISTS));

  v.policy.pinned_fingerprint = other_fp;
  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==,
                   GNUTLS_E_CERTIFICATE_ERROR);
  g_assert_error (v.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED);
  expected = g_strdup_printf ("the certificate of localhost:7447 does not match the required "
                              "fingerprint: expected %s, presented %s", other_fp, server_fp);
  g_assert_cmpstr (v.error->message, ==, expected);

  v.policy.pinned_fingerprint = "SHA256:nonsense";
  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==,
                   GNUTLS_E_CERTIFICATE_ERROR);
  g_assert_error (v.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  verification_clear (&v);
}

static void
test_handshake_untrusted (void)
{
  g_autoptr(QuipuServerCredentials) server = ensure_in ("untrusted-server");
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447" },
  };

  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==,
                   GNUTLS_E_CERTIFICATE_ERROR);
  g_assert_error (v.error, QUIPU_PROTOCOL_ERROR, QUIPU_PROTOCOL_ERROR_UNTRUSTED);
  g_assert_cmpstr (v.error->message, ==, "the certificate of localhost:7447 is not trusted "
                   "(not signed by a known authority)");
  verification_clear (&v);
}

static void
test_handshake_broken_store (void)
{
  g_autoptr(QuipuServerCredentials) server = ensure_in ("broken-server");
  g_autofree char *dir = test_dir ("broken-client");
  g_autofree char *path = write_test_file (dir, "known-servers", "nonsense\n", -1);
  g_autoptr(QuipuTrustStore) store = quipu_trust_store_new (path);
  g_autofree char *expected = g_strdup_printf ("%s line 1: expected 'host:port "
                                               "SHA256:fingerprint'", path);
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447", .store = store },
  };

  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==,
                   GNUTLS_E_CERTIFICATE_ERROR);
  g_assert_cmpstr (v.error->message, ==, expected);
  verification_clear (&v);
}

static void
test_handshake_ca (void)
{
  g_auto(TestCert) ca = { NULL, NULL };
  g_auto(TestCert) leaf = { NULL, NULL };
  g_auto(gnutls_certificate_credentials_t) client = NULL;
  g_autoptr(QuipuServerCredentials) server = NULL;
  g_autoptr(QuipuTrustStore) store = store_in ("ca-client");
  g_autofree char *dir = test_dir ("ca-server");
  g_autofree char *expected = NULL;
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447", .store = store },
  };

  make_test_cert (&ca, "Quipu Test CA", TRUE, NULL, NULL);
  make_test_cert (&leaf, "localhost", FALSE, "localhost", &ca);
  server = load_test_cert (dir, &leaf, &ca);
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&client), ==, 0);
  g_assert_cmpint (gnutls_certificate_set_x509_trust (client, &ca.crt, 1), ==, 1);

  g_assert_cmpint (handshake (server, client, &v), ==, 0);
  g_assert_cmpint (v.via, ==, QUIPU_TRUST_VIA_CA);
  g_assert_cmpstr (v.fingerprint, ==, quipu_server_credentials_get_fingerprint (server));
  g_assert_false (g_file_test (quipu_trust_store_get_path (store), G_FILE_TEST_EXISTS));

  /* The certificate is not for example.org: the CA does not vouch, TOFU does. */
  v.policy.hostname = "example.org";
  v.policy.host_port = "example.org:7447";
  g_assert_cmpint (handshake (server, client, &v), ==, 0);
  g_assert_cmpint (v.via, ==, QUIPU_TRUST_VIA_NEW_PIN);

  /* Without a store the reason is the host name, not the issuer. */
  v.policy.store = NULL;
  g_assert_cmpint (handshake (server, client, &v), ==, GNUTLS_E_CERTIFICATE_ERROR);
  g_assert_cmpstr (v.error->message, ==, "the certificate of example.org:7447 is not trusted "
                   "(issued for another host name)");

  /* An explicit pin outranks the CA. */
  v.policy.hostname = "localhost";
  v.policy.host_port = "localhost:7447";
  v.policy.pinned_fingerprint = OTHER_FP;
  g_assert_cmpint (handshake (server, client, &v), ==, GNUTLS_E_CERTIFICATE_ERROR);
  expected = g_strdup_printf ("the certificate of localhost:7447 does not match the required "
                              "fingerprint: expected %s, presented %s", OTHER_FP,
                              quipu_server_credentials_get_fingerprint (server));
  g_assert_cmpstr (v.error->message, ==, expected);
  verification_clear (&v);
}

/* A server whose pair was made before new ones became Ed25519 keeps its
 * P-256 certificate: the file is not rewritten, the fingerprint clients
 * pinned stays, and it still completes a handshake. */
static void
test_ensure_keeps_p256 (void)
{
  g_auto(TestCert) old = { NULL, NULL };
  g_autoptr(QuipuServerCredentials) server = NULL;
  g_autoptr(QuipuTrustStore) store = store_in ("p256-client");
  g_autofree char *dir = test_dir ("p256-server");
  g_autofree char *old_cert = NULL;
  g_autofree char *old_key = NULL;
  g_autofree char *cert_path = NULL;
  g_autofree char *key_path = NULL;
  g_autofree char *after = NULL;
  g_autofree char *old_fp = NULL;
  gnutls_datum_t der = { NULL, 0 };
  unsigned int bits = 0;
  Verification v = {
    .policy = { .hostname = "localhost", .host_port = "localhost:7447", .store = store },
  };

  make_test_cert (&old, "quipu-server", FALSE, "localhost", NULL);
  g_assert_cmpint (gnutls_x509_crt_get_pk_algorithm (old.crt, &bits), ==, GNUTLS_PK_ECDSA);
  g_assert_cmpint (gnutls_x509_crt_export2 (old.crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
  old_fp = quipu_tls_fingerprint (der.data, der.size);
  gnutls_free (der.data);
  old_cert = cert_pem (old.crt);
  old_key = key_pem (old.key);
  key_path = write_test_file (dir, "server.key", old_key, -1);
  cert_path = write_test_file (dir, "server.crt", old_cert, -1);

  server = ensure_in ("p256-server");
  g_assert_cmpstr (quipu_server_credentials_get_fingerprint (server), ==, old_fp);
  after = read_test_file (cert_path);
  g_assert_cmpstr (after, ==, old_cert);
  g_clear_pointer (&after, g_free);
  after = read_test_file (key_path);
  g_assert_cmpstr (after, ==, old_key);

  g_assert_cmpint (handshake (server, system_client_credentials (), &v), ==, 0);
  g_assert_no_error (v.error);
  g_assert_cmpstr (v.fingerprint, ==, old_fp);
  verification_clear (&v);

  /* Nor does a new Ed25519 key pass for the old certificate's. */
  {
    G_GNUC_UNUSED g_autoptr(QuipuServerCredentials) other = ensure_in ("p256-other");
    g_autofree char *other_dir = test_dir ("p256-other");
    g_autofree char *other_key = g_build_filename (other_dir, "server.key", NULL);
    g_autofree char *msg = g_strdup_printf ("private key %s does not match certificate %s",
                                            other_key, cert_path);

    assert_load_fails (cert_path, other_key, msg);
  }
}

static void
test_client_credentials_shared (void)
{
  gnutls_certificate_credentials_t first = system_client_credentials ();

  g_assert_true (first == system_client_credentials ());
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data_home = NULL;
  int ret;

  /* Fixed so the 0644 certificate mode is what the test sees. */
  umask (022);
  test_root = g_dir_make_tmp ("quipu-test-tls-XXXXXX", &error);
  g_assert_no_error (error);
  /* Before anything asks GLib for it: the default known-servers path. */
  data_home = test_dir ("xdg-data");
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/quipu/tls/fingerprint/format", test_fingerprint_format);
  g_test_add_func ("/quipu/tls/fingerprint/parse", test_fingerprint_parse);
  g_test_add_func ("/quipu/tls/fingerprint/parse-invalid", test_fingerprint_parse_invalid);
  g_test_add_func ("/quipu/tls/fingerprint/parse-message", test_fingerprint_parse_message);
  g_test_add_func ("/quipu/tls/fingerprint/equal", test_fingerprint_equal);
  g_test_add_func ("/quipu/tls/server/ensure-creates", test_ensure_creates);
  g_test_add_func ("/quipu/tls/server/ensure-stable", test_ensure_stable);
  g_test_add_func ("/quipu/tls/server/ensure-certificate", test_ensure_certificate);
  g_test_add_func ("/quipu/tls/server/ensure-half-pair", test_ensure_half_pair);
  g_test_add_func ("/quipu/tls/server/load-errors", test_load_errors);
  g_test_add_func ("/quipu/tls/server/load-malformed-pem", test_load_malformed_pem);
  g_test_add_func ("/quipu/tls/server/load-chain", test_load_chain);
  g_test_add_func ("/quipu/tls/server/load-self-issued-forgery", test_load_self_issued_forgery);
  g_test_add_func ("/quipu/tls/store/default-path", test_store_default_path);
  g_test_add_func ("/quipu/tls/store/pin-and-match", test_store_pin_and_match);
  g_test_add_func ("/quipu/tls/store/mismatch", test_store_mismatch);
  g_test_add_func ("/quipu/tls/store/malformed", test_store_malformed);
  g_test_add_func ("/quipu/tls/store/not-utf8", test_store_not_utf8);
  g_test_add_func ("/quipu/tls/store/keeps-comments", test_store_keeps_comments);
  g_test_add_func ("/quipu/tls/store/ipv6", test_store_ipv6);
  g_test_add_func ("/quipu/tls/handshake/tofu", test_handshake_tofu);
  g_test_add_func ("/quipu/tls/handshake/changed", test_handshake_changed);
  g_test_add_func ("/quipu/tls/handshake/explicit-pin", test_handshake_explicit_pin);
  g_test_add_func ("/quipu/tls/handshake/untrusted", test_handshake_untrusted);
  g_test_add_func ("/quipu/tls/handshake/broken-store", test_handshake_broken_store);
  g_test_add_func ("/quipu/tls/handshake/ca", test_handshake_ca);
  g_test_add_func ("/quipu/tls/server/ensure-keeps-p256", test_ensure_keeps_p256);
  g_test_add_func ("/quipu/tls/client-credentials/shared", test_client_credentials_shared);

  ret = g_test_run ();
  quipu_test_remove_tree (test_root);
  g_free (test_root);
  return ret;
}
