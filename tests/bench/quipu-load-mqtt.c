#define G_LOG_DOMAIN "quipu-load-mqtt"

#include "config.h"

#include <mosquitto.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "quipu-bench-measure.h"
#include "quipu-load.h"

/* The MQTT load client: one publisher (QoS 1, so PUBACK is its
 * acknowledgement, as Quipu's ACK is) and N subscribers (QoS 0) of one
 * topic, all libmosquitto clients driven from one GLib main loop through
 * mosquitto_loop_read/write/misc on their sockets. */

#define TOPIC "quipu/bench"

typedef struct {
  QuipuLoad        *load;
  struct mosquitto *mosq;
  gboolean          publisher;
  guint             in_watch;
  guint             out_watch;
} Client;

typedef struct {
  QuipuLoadOptions *options;
  char             *cafile;
  GPtrArray        *clients;
  Client           *publisher;
} Mqtt;

static void service (Client *client);

static gboolean
writable_cb (int fd, GIOCondition condition, gpointer data)
{
  Client *client = data;

  client->out_watch = 0;
  service (client);
  return G_SOURCE_REMOVE;
}

/* Writes what libmosquitto queued (from inside its callbacks it only
 * queues); waits for the socket when it is full. */
static void
service (Client *client)
{
  if (mosquitto_want_write (client->mosq))
    mosquitto_loop_write (client->mosq, 1000);
  if (mosquitto_want_write (client->mosq) && client->out_watch == 0)
    client->out_watch = g_unix_fd_add (mosquitto_socket (client->mosq), G_IO_OUT, writable_cb, client);
}

static gboolean
readable_cb (int fd, GIOCondition condition, gpointer data)
{
  Client *client = data;
  int rc = mosquitto_loop_read (client->mosq, 1000);

  if (rc != MOSQ_ERR_SUCCESS)
    {
      g_autofree char *what = g_strdup_printf ("read: %s", mosquitto_strerror (rc));

      quipu_load_error (client->load, what);
      client->in_watch = 0;
      return G_SOURCE_REMOVE;
    }
  service (client);
  return G_SOURCE_CONTINUE;
}

static gboolean
misc_cb (gpointer data)
{
  Mqtt *mqtt = data;

  /* Keepalive pings, as mosquitto_loop would. */
  for (guint i = 0; i < mqtt->clients->len; i++)
    {
      Client *client = g_ptr_array_index (mqtt->clients, i);

      mosquitto_loop_misc (client->mosq);
      service (client);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_connect (struct mosquitto *mosq, void *data, int rc)
{
  Client *client = data;

  if (rc != 0)
    {
      quipu_load_error (client->load, mosquitto_connack_string (rc));
      return;
    }
  if (client->publisher)
    quipu_load_ready (client->load);
  else
    mosquitto_subscribe (mosq, NULL, TOPIC, 0);
}

static void
on_subscribe (struct mosquitto *mosq, void *data, int mid, int qos_count, const int *granted_qos)
{
  quipu_load_ready (((Client *) data)->load);
}

static void
on_message (struct mosquitto *mosq, void *data, const struct mosquitto_message *message)
{
  quipu_load_delivered (((Client *) data)->load, message->payload, message->payloadlen);
}

static void
on_publish (struct mosquitto *mosq, void *data, int mid)
{
  quipu_load_acked (((Client *) data)->load, 1);
}

static gboolean
connect_all (QuipuLoad *load, gpointer data, GError **error)
{
  Mqtt *mqtt = data;

  for (int i = 0; i <= mqtt->options->receivers; i++)
    {
      Client *client = g_new0 (Client, 1);
      g_autofree char *id = g_strdup_printf ("%s%d", i == 0 ? "pub" : "sub", i);
      int rc;

      client->load = load;
      client->publisher = i == 0;
      client->mosq = mosquitto_new (id, true, client);
      g_ptr_array_add (mqtt->clients, client);
      mosquitto_connect_callback_set (client->mosq, on_connect);
      mosquitto_subscribe_callback_set (client->mosq, on_subscribe);
      mosquitto_message_callback_set (client->mosq, on_message);
      mosquitto_publish_callback_set (client->mosq, on_publish);
      if (mqtt->cafile != NULL)
        {
          mosquitto_tls_set (client->mosq, mqtt->cafile, NULL, NULL, NULL, NULL);
          /* The generated certificate names no address. */
          mosquitto_tls_insecure_set (client->mosq, true);
        }
      /* Blocking TCP connect and TLS handshake: setup, not measured. */
      rc = mosquitto_connect (client->mosq, mqtt->options->host, mqtt->options->port, 60);
      if (rc != MOSQ_ERR_SUCCESS)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "client %d: %s", i, mosquitto_strerror (rc));
          return FALSE;
        }
      client->in_watch = g_unix_fd_add (mosquitto_socket (client->mosq), G_IO_IN, readable_cb, client);
      service (client);
    }
  mqtt->publisher = g_ptr_array_index (mqtt->clients, 0);
  g_timeout_add_seconds (1, misc_cb, mqtt);
  return TRUE;
}

static void
send_one (QuipuLoad *load, gpointer data)
{
  Mqtt *mqtt = data;
  g_autofree char *body = quipu_bench_body_new (mqtt->options->size);
  int rc = mosquitto_publish (mqtt->publisher->mosq, NULL, TOPIC, mqtt->options->size, body, 1, false);

  if (rc != MOSQ_ERR_SUCCESS)
    {
      quipu_load_error (load, mosquitto_strerror (rc));
      return;
    }
  quipu_load_sent (load);
  service (mqtt->publisher);
}

int
main (int argc, char **argv)
{
  static const QuipuLoadDriver driver = { connect_all, send_one, NULL };
  QuipuLoadOptions options = { 0 };
  Mqtt mqtt = { &options };
  const GOptionEntry entries[] = {
    { "cafile", 0, 0, G_OPTION_ARG_FILENAME, &mqtt.cafile, "Use TLS, trusting this certificate", "PEM" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- MQTT fan-out load client");
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, quipu_load_option_group (&options));
  if (!g_option_context_parse (context, &argc, &argv, &error) || options.port <= 0)
    {
      g_printerr ("quipu-load-mqtt: %s\n", error != NULL ? error->message : "give --port");
      return 2;
    }
  mosquitto_lib_init ();
  mqtt.clients = g_ptr_array_new ();
  /* Exits without tearing the clients down: the process ends here. */
  return quipu_load_run ("mqtt", &options, &driver, &mqtt);
}
