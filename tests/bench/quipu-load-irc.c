#define G_LOG_DOMAIN "quipu-load-irc"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <gnutls/gnutls.h>

#include "quipu-bench-measure.h"
#include "quipu-load.h"

/* The IRC load client: one publisher and N receivers in one channel, over
 * TCP or TLS (GnuTLS), from one GLib main loop. IRC has no acknowledgement
 * of a PRIVMSG, so the publisher follows every batch of them with a PING:
 * the server answers in order, so its PONG says the batch was relayed.
 * The publisher becomes an operator and sets user mode +F (ngircd's
 * relaxed flood protection), as a bridge or bot would be configured; over
 * TLS every line goes in its own record (ngircd 26 stalls when one read
 * brings it many). */

#define CHANNEL "#bench"
#define PING_BATCH 8

typedef struct _Irc Irc;

typedef struct {
  Irc              *irc;
  QuipuLoad        *load;
  int               fd;
  gnutls_session_t  tls;        /* NULL: plaintext */
  GString          *in;
  GString          *out;
  guint             out_watch;
  gboolean          publisher;
  gboolean          ready;
  char             *nick;
} Conn;

struct _Irc {
  QuipuLoadOptions                  *options;
  gboolean                           use_tls;
  char                              *oper;       /* NAME:PASSWORD */
  gnutls_certificate_credentials_t   credentials;
  GPtrArray                         *conns;
  Conn                              *publisher;
  guint                              unpinged;   /* PRIVMSGs since the last PING */
  guint64                            pings;
  GQueue                             batches;    /* sizes of the batches whose PONG is due */
};

static void flush_out (Conn *conn);

static gboolean
writable_cb (int fd, GIOCondition condition, gpointer data)
{
  Conn *conn = data;

  conn->out_watch = 0;
  flush_out (conn);
  return G_SOURCE_REMOVE;
}

/* Writes the queued lines; over TLS one record per line. */
static void
flush_out (Conn *conn)
{
  while (conn->out->len > 0)
    {
      const char *eol = strstr (conn->out->str, "\r\n");
      gsize len = conn->tls != NULL && eol != NULL ? (gsize) (eol + 2 - conn->out->str) : conn->out->len;
      gssize n;

      if (conn->tls != NULL)
        {
          n = gnutls_record_send (conn->tls, conn->out->str, len);
          if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            n = -1, errno = EAGAIN;
        }
      else
        n = send (conn->fd, conn->out->str, len, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EAGAIN)
            {
              if (conn->out_watch == 0)
                conn->out_watch = g_unix_fd_add (conn->fd, G_IO_OUT, writable_cb, conn);
              return;
            }
          quipu_load_error (conn->load, "write failed");
          g_string_truncate (conn->out, 0);
          return;
        }
      g_string_erase (conn->out, 0, n);
    }
}

static void
queue_line (Conn *conn, const char *line)
{
  g_string_append (conn->out, line);
  g_string_append (conn->out, "\r\n");
}

static void
send_line (Conn *conn, const char *line)
{
  queue_line (conn, line);
  if (conn->out_watch == 0)
    flush_out (conn);
}

/* Lines from the server. */

static void
became_ready (Conn *conn)
{
  if (!conn->ready)
    {
      conn->ready = TRUE;
      quipu_load_ready (conn->load);
    }
}

static void
handle_pong (Conn *conn)
{
  Irc *irc = conn->irc;

  if (!g_queue_is_empty (&irc->batches))
    quipu_load_acked (conn->load, GPOINTER_TO_UINT (g_queue_pop_head (&irc->batches)));
}

static void
handle_line (Conn *conn, char *line)
{
  Irc *irc = conn->irc;
  char *command = line, *params, *trailing;

  if (line[0] == ':')
    {
      command = strchr (line, ' ');
      if (command == NULL)
        return;
      command++;
    }
  params = strchr (command, ' ');
  if (params != NULL)
    *params++ = '\0';
  trailing = params != NULL ? strstr (params, " :") : NULL;
  if (trailing != NULL)
    trailing += 2;
  else if (params != NULL && params[0] == ':')
    trailing = params + 1;

  if (g_str_equal (command, "PRIVMSG"))
    {
      if (trailing != NULL)
        quipu_load_delivered (conn->load, trailing, strlen (trailing));
    }
  else if (g_str_equal (command, "PONG"))
    handle_pong (conn);
  else if (g_str_equal (command, "PING"))
    {
      g_autofree char *pong = g_strdup_printf ("PONG :%s", trailing != NULL ? trailing : "");

      send_line (conn, pong);
    }
  else if (g_str_equal (command, "001"))
    {
      if (conn->publisher && irc->oper != NULL)
        {
          g_auto(GStrv) parts = g_strsplit (irc->oper, ":", 2);
          g_autofree char *oper = g_strdup_printf ("OPER %s %s", parts[0], parts[1] ? parts[1] : "");

          send_line (conn, oper);
        }
      else
        send_line (conn, "JOIN " CHANNEL);
    }
  else if (g_str_equal (command, "381"))
    {
      g_autofree char *mode = g_strdup_printf ("MODE %s +F", conn->nick);

      send_line (conn, mode);
      send_line (conn, "JOIN " CHANNEL);
    }
  else if (g_str_equal (command, "366"))
    became_ready (conn);
  else if (g_str_equal (command, "ERROR") || (command[0] == '4' || command[0] == '5'))
    {
      g_autofree char *what = g_strdup_printf ("%s: %s %s", conn->nick, command, params ? params : "");

      quipu_load_error (conn->load, what);
    }
}

static gssize
read_some (Conn *conn, char *buffer, gsize size)
{
  gssize n;

  if (conn->tls == NULL)
    return recv (conn->fd, buffer, size, 0);
  n = gnutls_record_recv (conn->tls, buffer, size);
  if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
    {
      errno = EAGAIN;
      return -1;
    }
  if (n < 0)
    {
      errno = EIO;
      return -1;
    }
  return n;
}

static gboolean
readable_cb (int fd, GIOCondition condition, gpointer data)
{
  Conn *conn = data;
  char buffer[16384];
  char *eol;

  for (;;)
    {
      gssize n = read_some (conn, buffer, sizeof buffer);

      if (n == 0 || (n < 0 && errno != EAGAIN))
        {
          g_autofree char *what = g_strdup_printf ("%s: connection lost", conn->nick);

          quipu_load_error (conn->load, what);
          return G_SOURCE_REMOVE;
        }
      if (n < 0)
        break;
      g_string_append_len (conn->in, buffer, n);
      if (conn->tls != NULL && gnutls_record_check_pending (conn->tls) > 0)
        continue;
    }
  while ((eol = strstr (conn->in->str, "\r\n")) != NULL)
    {
      gsize len = eol - conn->in->str;

      conn->in->str[len] = '\0';
      handle_line (conn, conn->in->str);
      g_string_erase (conn->in, 0, len + 2);
    }
  return G_SOURCE_CONTINUE;
}

/* Setting up. */

static gboolean
open_conn (Irc *irc, Conn *conn, GError **error)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (irc->options->port) };
  g_autofree char *registration = NULL;
  int one = 1, rc;

  inet_pton (AF_INET, irc->options->host, &addr.sin_addr);
  conn->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  /* Blocking connect and handshake: setup, not measured. */
  if (conn->fd < 0 || connect (conn->fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: connect: %s",
                   conn->nick, g_strerror (errno));
      return FALSE;
    }
  setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (irc->use_tls)
    {
      gnutls_init (&conn->tls, GNUTLS_CLIENT);
      gnutls_set_default_priority (conn->tls);
      gnutls_credentials_set (conn->tls, GNUTLS_CRD_CERTIFICATE, irc->credentials);
      gnutls_transport_set_int (conn->tls, conn->fd);
      do
        rc = gnutls_handshake (conn->tls);
      while (rc < 0 && !gnutls_error_is_fatal (rc));
      if (rc < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: TLS: %s", conn->nick, gnutls_strerror (rc));
          return FALSE;
        }
    }
  fcntl (conn->fd, F_SETFL, fcntl (conn->fd, F_GETFL) | O_NONBLOCK);
  g_unix_fd_add (conn->fd, G_IO_IN, readable_cb, conn);
  registration = g_strdup_printf ("NICK %s\r\nUSER %s 0 * :quipu bench", conn->nick, conn->nick);
  send_line (conn, registration);
  return TRUE;
}

static gboolean
connect_all (QuipuLoad *load, gpointer data, GError **error)
{
  Irc *irc = data;

  if (irc->use_tls)
    gnutls_certificate_allocate_credentials (&irc->credentials);
  for (int i = 0; i <= irc->options->receivers; i++)
    {
      Conn *conn = g_new0 (Conn, 1);

      conn->irc = irc;
      conn->load = load;
      conn->publisher = i == 0;
      conn->nick = i == 0 ? g_strdup ("pub") : g_strdup_printf ("r%d", i);
      conn->in = g_string_new (NULL);
      conn->out = g_string_new (NULL);
      g_ptr_array_add (irc->conns, conn);
      if (!open_conn (irc, conn, error))
        return FALSE;
      /* Let the server keep up with registrations. */
      if (i % 50 == 49)
        while (g_main_context_iteration (NULL, FALSE))
          ;
    }
  irc->publisher = g_ptr_array_index (irc->conns, 0);
  return TRUE;
}

static void
ping (Irc *irc)
{
  g_autofree char *line = g_strdup_printf ("PING :b%" G_GUINT64_FORMAT, irc->pings++);

  g_queue_push_tail (&irc->batches, GUINT_TO_POINTER (irc->unpinged));
  irc->unpinged = 0;
  send_line (irc->publisher, line);
}

static void
send_one (QuipuLoad *load, gpointer data)
{
  Irc *irc = data;
  g_autofree char *body = quipu_bench_body_new (irc->options->size);
  g_autofree char *line = g_strdup_printf ("PRIVMSG " CHANNEL " :%s", body);

  send_line (irc->publisher, line);
  quipu_load_sent (load);
  if (++irc->unpinged == PING_BATCH)
    ping (irc);
}

static void
flush (QuipuLoad *load, gpointer data)
{
  Irc *irc = data;

  if (irc->unpinged > 0)
    ping (irc);
}

int
main (int argc, char **argv)
{
  static const QuipuLoadDriver driver = { connect_all, send_one, flush };
  QuipuLoadOptions options = { 0 };
  Irc irc = { &options };
  const GOptionEntry entries[] = {
    { "tls", 0, 0, G_OPTION_ARG_NONE, &irc.use_tls, "Use TLS (the certificate is not checked)", NULL },
    { "oper", 0, 0, G_OPTION_ARG_STRING, &irc.oper,
      "Make the publisher an operator with mode +F (no flood throttling)", "NAME:PASSWORD" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- IRC fan-out load client");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, quipu_load_option_group (&options));
  if (!g_option_context_parse (context, &argc, &argv, &error) || options.port <= 0)
    {
      g_printerr ("quipu-load-irc: %s\n", error != NULL ? error->message : "give --port");
      return 2;
    }
  irc.conns = g_ptr_array_new ();
  g_queue_init (&irc.batches);
  /* Exits without tearing the connections down: the process ends here. */
  return quipu_load_run ("irc", &options, &driver, &irc);
}
