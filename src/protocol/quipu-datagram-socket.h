#pragma once

#include <sys/socket.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* A non-blocking UDP socket with batched I/O: datagrams queued for one
 * sendmmsg, read with recvmmsg, and (on request) ICMP "port unreachable"
 * picked up from the error queue with the address it concerns. Datagrams
 * queued one after another to the same address with the same size (the
 * last may be shorter) leave in one UDP GSO send, and the kernel may hand
 * several received from one sender over at once (GRO): callers see single
 * datagrams either way. It knows nothing of QUIC; the endpoint polls its fd. */
typedef struct _QuipuDatagramSocket QuipuDatagramSocket;

/* What went through the socket, for measurements: a datagram is one UDP
 * payload (one QUIC packet), a call one system call. */
typedef struct {
  guint64  datagrams_sent;
  guint64  sends;             /* kernel messages: a GSO send carries several datagrams */
  guint64  send_calls;        /* sendmmsg calls */
  guint64  datagrams_received;
  guint64  receives;          /* kernel messages: a GRO one carries several datagrams */
  guint64  receive_calls;     /* recvmmsg calls */
  gboolean gso;               /* UDP_SEGMENT in use (FALSE once the kernel refused it) */
  gboolean gro;               /* UDP_GRO in use */
} QuipuDatagramStats;

#define QUIPU_DATAGRAM_MAX 1452

/* One received datagram; return FALSE to stop reading for now. */
typedef gboolean (*QuipuDatagramFunc) (const guint8          *data,
                                       gsize                  len,
                                       const struct sockaddr *remote,
                                       socklen_t              remote_len,
                                       gpointer               user_data);
/* `remote` cannot be reached: it answered with ICMP port unreachable
 * (ECONNREFUSED), or there is no route to it (ENETUNREACH). */
typedef void     (*QuipuRefusedFunc)  (const struct sockaddr *remote,
                                       int                    error_code,
                                       gpointer               user_data);

/* Binds `local`; an IPv6 socket also carries IPv4 (as mapped addresses).
 * `report_refused` asks for ICMP errors, which an unconnected socket only
 * gets through its error queue, and for addresses found to have no route. */
QuipuDatagramSocket *quipu_datagram_socket_new  (const struct sockaddr *local,
                                                 socklen_t              local_len,
                                                 gboolean               report_refused,
                                                 GError               **error);
void        quipu_datagram_socket_free          (QuipuDatagramSocket *socket);

int         quipu_datagram_socket_get_fd        (QuipuDatagramSocket *socket);
/* The bound address, with the real port. */
const struct sockaddr *quipu_datagram_socket_get_local (QuipuDatagramSocket *socket,
                                                        socklen_t           *len);

/* Queues a datagram of at most QUIPU_DATAGRAM_MAX bytes; FALSE when the
 * batch is full and the kernel takes no more for now. */
gboolean    quipu_datagram_socket_queue         (QuipuDatagramSocket   *socket,
                                                 const struct sockaddr *remote,
                                                 socklen_t              remote_len,
                                                 const guint8          *data,
                                                 gsize                  len);
/* Sends what is queued; what the kernel refuses stays queued, and the
 * socket is blocked until a flush on G_IO_OUT gets it all out. A datagram
 * with no route is dropped and its address kept for
 * quipu_datagram_socket_take_unroutable. */
void        quipu_datagram_socket_flush         (QuipuDatagramSocket *socket);
/* Hands over (and forgets) the addresses found to have no route; a flush
 * may run inside a sender's own call, so this waits for a safe moment.
 * Returns whether there were any. */
gboolean    quipu_datagram_socket_take_unroutable (QuipuDatagramSocket *socket,
                                                   QuipuRefusedFunc     func,
                                                   gpointer             user_data);
gboolean    quipu_datagram_socket_has_unroutable  (QuipuDatagramSocket *socket);
gboolean    quipu_datagram_socket_is_blocked    (QuipuDatagramSocket *socket);

/* Reads up to `budget` datagrams (fewer when the socket runs dry or `func`
 * says stop), handing ICMP refusals to `refused` (may be NULL). Returns
 * how many were read. */
guint       quipu_datagram_socket_receive       (QuipuDatagramSocket *socket,
                                                 guint                budget,
                                                 QuipuDatagramFunc    func,
                                                 QuipuRefusedFunc     refused,
                                                 gpointer             user_data);
/* Drains the error queue (on G_IO_ERR). */
void        quipu_datagram_socket_read_errors   (QuipuDatagramSocket *socket,
                                                 QuipuRefusedFunc     refused,
                                                 gpointer             user_data);

void        quipu_datagram_socket_get_stats     (QuipuDatagramSocket *socket,
                                                 QuipuDatagramStats  *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QuipuDatagramSocket, quipu_datagram_socket_free)

G_END_DECLS
