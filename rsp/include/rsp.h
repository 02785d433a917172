/*
 * rsp.h — the GDB Remote Serial Protocol: codec, transports, server and client.
 *
 * Layers, each usable alone:
 *   hex / number helpers  pure functions, safe against any input
 *   struct rsp_buf        a growable byte buffer; frames are built in it in place
 *   struct rsp_decoder    incremental parser: raw bytes in (any split), events out
 *   struct rsp_conn       one peer on non-blocking fds: acks, retransmit, no-ack
 *                         mode, buffered partial writes; driven from a poll() loop
 *   struct rsp_listener   server side: TCP, unix socket or stdio; one client at a time
 *   struct rsp_client     client side: connect, request/reply with timeouts,
 *                         asynchronous stop replies and notifications, 0x03
 *
 * Nothing here knows about VMs. No global mutable state; every function returns
 * a status (or a value documented as an error marker) and never aborts.
 * Objects are used by one thread at a time.
 *
 * Stability: the stub and the qemu driver are written against this header;
 * changes are additive only.
 *
 * Server loop (the stub), in outline:
 *
 *     rsp_listen("127.0.0.1:1234", &l, err, sizeof err);
 *     poll: rsp_listener_fd(l) POLLIN, rsp_conn_fd(c) POLLIN,
 *           rsp_conn_write_fd(c) POLLOUT when rsp_conn_wants_write(c), other fds
 *     listener readable: no session ? rsp_listener_accept(l, &opts, &c, ..)
 *                                    : rsp_listener_refuse(l, NULL)
 *     conn readable:     rsp_conn_on_readable(c, on_event, ctx)   // RSP_ERR_CLOSED: hang-up
 *     conn writable:     rsp_conn_on_writable(c)
 *     on_event(PACKET):  handle it; reply with rsp_conn_send_str(c, "OK") or
 *                        b = rsp_conn_begin_packet(c); rsp_frame_put_hex(b, mem, n);
 *                        rsp_conn_end_packet(c, 0);
 *                        after replying "OK" to QStartNoAckMode: rsp_conn_set_noack(c, true)
 *     on_event(INTERRUPT): stop the target, send the stop reply
 *     on_event(OVERSIZED / MALFORMED): reply "E01" (already acked)
 *
 * Client (qemu driver, tests, benches):
 *
 *     rsp_client_connect("127.0.0.1:1234", 5000, &opts, &cli, err, sizeof err);
 *     rsp_client_start_noack(cli, 5000, NULL);
 *     rsp_client_request_str(cli, "m1000,40", &reply, 5000);
 *     rsp_client_send(cli, "c", 1);  ... rsp_client_interrupt(cli);
 *     rsp_client_wait_stop(cli, &reply, timeout)   // or poll rsp_client_fd
 *                                                   // (check rsp_client_pending first)
 */
#ifndef MICROVMI_RSP_H
#define MICROVMI_RSP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RSP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RSP_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------ status */

enum rsp_status {
    RSP_OK = 0,
    RSP_ERR_INVALID_ARG,  /* a parameter is out of range or malformed (e.g. a bad spec) */
    RSP_ERR_NO_MEMORY,    /* host memory exhausted */
    RSP_ERR_IO,           /* a socket/fd call failed (see the message for errno text) */
    RSP_ERR_CLOSED,       /* the peer closed the connection */
    RSP_ERR_TIMEOUT,      /* nothing arrived within the timeout */
    RSP_ERR_AGAIN,        /* non-blocking: nothing to do now (e.g. no pending client) */
    RSP_ERR_PROTOCOL,     /* the peer broke the protocol (e.g. endless '-' naks) */
    RSP_ERR_TOO_BIG,      /* a packet exceeded the negotiated payload size */
    RSP_ERR_BUSY,         /* a client is already attached */
    RSP_STATUS_COUNT
};

/* A stable lower-case name for a status ("ok", "timeout", ...). */
const char *rsp_status_str(enum rsp_status status);

/* Default bound on one decoded packet payload (our PacketSize). Large on
 * purpose: QEMU's 4 KiB cap is why memory reads through it crawl. */
#define RSP_DEFAULT_MAX_PAYLOAD (256u * 1024u)

/* ------------------------------------------------------------ hex helpers */

/* Value of one hex digit (either case), or -1 if c is not one. */
int rsp_hex_digit(int c);

/* Write 2*len lowercase hex chars for len bytes of mem (no terminator).
 * Table-driven; memcpy-like speed. */
void rsp_hex_encode(char *out, const void *mem, size_t len);

/* Decode 2*len hex chars into len bytes. False (out partially written) if any
 * char is not a hex digit. */
bool rsp_hex_decode(void *out, const char *hex, size_t len);

/* Parse one unsigned hex number at *p (stops at the first non-digit, never
 * reads at or past end). Needs at least one digit; false on none or on
 * overflow of 64 bits. On success *p points past the digits. */
bool rsp_parse_hex_u64(const char **p, const char *end, uint64_t *out);

/* Same, for a number that must fit in 32 bits. */
bool rsp_parse_hex_u32(const char **p, const char *end, uint32_t *out);

/* Parse a gdb thread-id: "-1" (all, *out = -1), "0" (any), or a hex number.
 * Multiprocess "pP.T" form: the T part is returned, P is ignored. */
bool rsp_parse_thread_id(const char **p, const char *end, int64_t *out);

/* If *p < end and **p == c, advance past it and return true. */
bool rsp_parse_expect(const char **p, const char *end, char c);

/* True if the payload [data, data+len) starts with the NUL-terminated prefix. */
bool rsp_has_prefix(const void *data, size_t len, const char *prefix);

/* ------------------------------------------------- binary escape ('}' XOR 0x20) */

/* Bytes that are always escaped on the wire: '#', '$', '}', '*'. */
bool rsp_needs_escape(uint8_t byte);

/* Unescape `len` bytes of escaped binary data (as found in an X packet body
 * when the decoder did not already do it). Writes at most len bytes to out,
 * *out_len gets the count. False if the data ends with a lone '}'. out may
 * equal in (in-place). The decoder already unescapes every packet, so X
 * payloads delivered by it need no further unescaping. */
bool rsp_binary_unescape(void *out, const void *in, size_t len, size_t *out_len);

/* Escape len bytes into out (room for 2*len needed); returns bytes written. */
size_t rsp_binary_escape(void *out, const void *in, size_t len);

/* ----------------------------------------------------------------- buffer */

/* A growable byte buffer. Zero-initialised is a valid empty buffer. After
 * any append/commit, data[len] == 0 (room is always kept), so text can be
 * read as a C string; the data itself is binary-safe. On
 * allocation failure it sets `failed` and ignores further writes, so a
 * sequence of appends can be checked once at the end. */
struct rsp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed;
    /* frame being built (see rsp_frame_*): */
    bool in_frame;
    size_t frame_start; /* offset of the '$' or '%' */
    uint8_t frame_sum;  /* running checksum of the payload written so far */
};

#define RSP_BUF_INIT {0}

void rsp_buf_free(struct rsp_buf *b);
void rsp_buf_reset(struct rsp_buf *b);                 /* len = 0, keeps capacity */
bool rsp_buf_reserve(struct rsp_buf *b, size_t extra); /* capacity for len+extra */
bool rsp_buf_append(struct rsp_buf *b, const void *data, size_t len); /* raw, no framing */
/* Pointer to `n` writable bytes at the end (reserved, not yet counted);
 * NULL on allocation failure. Follow with rsp_buf_commit(b, written). */
uint8_t *rsp_buf_tail(struct rsp_buf *b, size_t n);
void rsp_buf_commit(struct rsp_buf *b, size_t n);

/* ----------------------------------------------- frame builder (encoder) */
/*
 * Build "$payload#cs" (or "%payload#cs") in place at the end of a buffer,
 * without an intermediate copy of the payload:
 *
 *     rsp_frame_begin(b, '$');
 *     rsp_frame_put_hex(b, guest_mem, n);   // 'm' reply, hex written in place
 *     rsp_frame_end(b, 0);                  // appends '#' and the checksum
 *
 * Every put escapes '#', '$', '}', '*' as needed, so payloads are binary-safe;
 * the checksum is accumulated as bytes are written.
 */
#define RSP_FRAME_RLE 0x1u /* run-length encode the payload at rsp_frame_end */

void rsp_frame_begin(struct rsp_buf *b, char lead /* '$' or '%' */);
void rsp_frame_put(struct rsp_buf *b, const void *data, size_t len); /* escaped */
void rsp_frame_put_str(struct rsp_buf *b, const char *s);             /* escaped */
void rsp_frame_put_char(struct rsp_buf *b, char c);                   /* escaped */
void rsp_frame_printf(struct rsp_buf *b, const char *fmt, ...) RSP_PRINTF(2, 3);
void rsp_frame_vprintf(struct rsp_buf *b, const char *fmt, va_list ap);
/* len bytes of mem as 2*len hex chars (memory and register replies). */
void rsp_frame_put_hex(struct rsp_buf *b, const void *mem, size_t len);
/* A number in minimal hex ("0", "1f", ...). */
void rsp_frame_put_hex_u64(struct rsp_buf *b, uint64_t value);
/* Close the frame: optional RLE (never emits a forbidden count char), then
 * '#' and two checksum digits. RSP_ERR_NO_MEMORY if any put failed (the
 * partial frame is removed), RSP_ERR_INVALID_ARG if no frame was begun. */
enum rsp_status rsp_frame_end(struct rsp_buf *b, unsigned flags);
/* Drop the frame being built (e.g. a handler changed its mind). */
void rsp_frame_abort(struct rsp_buf *b);

/* Convenience: append one whole frame "$<escaped payload>#cs". */
enum rsp_status rsp_encode_packet(struct rsp_buf *b, const void *payload, size_t len);

/* Run-length encode an already escaped payload in place (output never longer
 * than input). Returns the new length. Repeat counts never use the chars
 * '#', '$', '+', '-', '*', '}' or anything above '~'. */
size_t rsp_rle_encode_inplace(uint8_t *payload, size_t len);

/* Checksum (mod-256 sum) of bytes as they appear between '$' and '#'. */
uint8_t rsp_checksum(const void *data, size_t len);

/* ---------------------------------------------------------------- decoder */

enum rsp_event_kind {
    RSP_EV_PACKET,       /* "$...#cs", checksum good; data/len = decoded payload */
    RSP_EV_NOTIFICATION, /* "%...#cs", checksum good; data/len = decoded payload */
    RSP_EV_ACK,          /* '+' between packets */
    RSP_EV_NAK,          /* '-' between packets */
    RSP_EV_INTERRUPT,    /* 0x03 between packets */
    RSP_EV_BAD_CHECKSUM, /* a whole frame whose checksum did not match (or was not hex) */
    RSP_EV_OVERSIZED,    /* a frame whose decoded payload exceeded max_payload; dropped.
                            len = how many payload bytes it decoded to before being cut */
    RSP_EV_MALFORMED,    /* checksum good but undecodable (bad run-length count,
                            trailing lone '}'); dropped */
};

const char *rsp_event_kind_str(enum rsp_event_kind kind);

struct rsp_event {
    enum rsp_event_kind kind;
    bool notification;   /* the frame started with '%' (also for BAD_CHECKSUM etc.) */
    const uint8_t *data; /* PACKET/NOTIFICATION: payload (escapes and RLE undone),
                            NUL-terminated for convenience (data[len] == 0) but
                            binary-safe: use len. Valid only during the callback. */
    size_t len;
};

/* Return 0 to go on; nonzero stops rsp_decoder_feed after this event. */
typedef int (*rsp_event_fn)(void *ctx, const struct rsp_event *ev);

/* Incremental parser. Memory: one buffer of max_payload+1 bytes, allocated
 * at init, never grown. Fields are private. */
struct rsp_decoder {
    uint8_t *buf;
    size_t max_payload;
    size_t len;        /* decoded bytes so far */
    size_t seen;       /* decoded bytes counted (keeps counting past max) */
    int state;
    bool notification;
    bool oversized;
    bool malformed;
    bool escape;       /* a '}' is pending */
    bool have_last;    /* a raw char exists to repeat */
    uint8_t last_raw;  /* last raw (escaped) char, for run-length expansion */
    uint8_t sum;
    uint8_t cs_hi;
};

/* max_payload 0 means RSP_DEFAULT_MAX_PAYLOAD. */
enum rsp_status rsp_decoder_init(struct rsp_decoder *d, size_t max_payload);
void rsp_decoder_fini(struct rsp_decoder *d);
/* Forget a half-received frame (e.g. after a reconnect). */
void rsp_decoder_reset(struct rsp_decoder *d);
/* Feed raw bytes (any split, even one at a time). Calls fn for each event in
 * order. Returns how many bytes were consumed: len, unless fn returned
 * nonzero, in which case the bytes after that event's last byte are left for
 * the next call. Garbage between frames is skipped silently. A '$' inside a
 * frame restarts the frame (as gdb does). */
size_t rsp_decoder_feed(struct rsp_decoder *d, const void *bytes, size_t len,
                        rsp_event_fn fn, void *ctx);

/* ------------------------------------------------------------- connection */

struct rsp_conn;

struct rsp_conn_options {
    size_t max_payload; /* decoder bound; 0 = RSP_DEFAULT_MAX_PAYLOAD */
    bool noack;         /* start in no-ack mode */
    bool keep_fds_open; /* rsp_conn_close does not close the fds (stdio) */
};

/* Wrap already connected fds (read and write may be the same fd, or 0 and 1
 * for stdio). Sets them non-blocking. opts may be NULL for defaults. */
enum rsp_status rsp_conn_new(int read_fd, int write_fd,
                             const struct rsp_conn_options *opts,
                             struct rsp_conn **out);
void rsp_conn_close(struct rsp_conn *c); /* NULL-safe; frees everything */

int rsp_conn_fd(const struct rsp_conn *c);       /* poll for POLLIN */
int rsp_conn_write_fd(const struct rsp_conn *c); /* poll for POLLOUT when wants_write */
bool rsp_conn_wants_write(const struct rsp_conn *c);
/* What the last failing call was about, for the user ("read: Connection reset"). */
const char *rsp_conn_error(const struct rsp_conn *c);

/* Read what is available (non-blocking) and deliver events to fn. Acks are
 * handled here: a good packet is answered '+', a bad checksum '-' (both only
 * in ack mode); a '-' from the peer retransmits our last packet; an oversized
 * or malformed frame is acked '+' (retransmitting cannot fix it) and
 * delivered so the caller can reply with an error. Every event is also passed
 * to fn (ACK/NAK included). If fn returns nonzero, the rest of the input
 * stays buffered and is delivered by the next call (or rsp_conn_dispatch).
 * RSP_ERR_CLOSED when the peer hung up (after delivering what came before).
 * RSP_ERR_INVALID_ARG while a packet is being built (begin..end): finish it
 * first, or acks would land inside it. fn may send replies itself. */
enum rsp_status rsp_conn_on_readable(struct rsp_conn *c, rsp_event_fn fn, void *ctx);
/* Deliver events from input already buffered (left over after fn stopped)
 * without reading the fd. RSP_ERR_AGAIN if nothing was buffered. */
enum rsp_status rsp_conn_dispatch(struct rsp_conn *c, rsp_event_fn fn, void *ctx);
/* True if unread input is buffered (poll would not show it). */
bool rsp_conn_has_buffered_input(const struct rsp_conn *c);

/* Write as much queued output as the fd takes now. */
enum rsp_status rsp_conn_on_writable(struct rsp_conn *c);
/* Block (poll) until all output is written or timeout_ms (-1 = forever). */
enum rsp_status rsp_conn_flush(struct rsp_conn *c, int timeout_ms);

/* Queue a packet (payload escaped and framed here) and try to write it.
 * The frame is remembered for retransmission on '-' (ack mode). Output that
 * cannot be written yet stays queued (see wants_write); beyond 64 MiB queued
 * the peer is taken to have stopped reading: RSP_ERR_PROTOCOL, frame dropped.
 * RSP_ERR_CLOSED / RSP_ERR_IO when the write side failed. */
enum rsp_status rsp_conn_send_packet(struct rsp_conn *c, const void *payload, size_t len);
enum rsp_status rsp_conn_send_str(struct rsp_conn *c, const char *payload);
enum rsp_status rsp_conn_send_notification(struct rsp_conn *c, const void *payload, size_t len);
/* Build a packet in place in the output buffer: begin returns a buffer with
 * a frame begun ('$' or '%'); use rsp_frame_put* on it; end closes the frame
 * (flags as rsp_frame_end), queues and tries to write it. Only one packet may
 * be under construction at a time (begin returns NULL otherwise). */
struct rsp_buf *rsp_conn_begin_packet(struct rsp_conn *c);
struct rsp_buf *rsp_conn_begin_notification(struct rsp_conn *c);
enum rsp_status rsp_conn_end_packet(struct rsp_conn *c, unsigned flags);
/* Send raw bytes outside any frame: 0x03, or an explicit '+'/'-'. */
enum rsp_status rsp_conn_send_raw(struct rsp_conn *c, const void *bytes, size_t len);

/* No-ack mode (QStartNoAckMode). A server replies "OK" to the request in ack
 * mode, then calls set_noack(true); a stray '+' afterwards is harmless. */
void rsp_conn_set_noack(struct rsp_conn *c, bool noack);
bool rsp_conn_noack(const struct rsp_conn *c);
size_t rsp_conn_max_payload(const struct rsp_conn *c);

/* --------------------------------------------------------- server side */

struct rsp_listener;

/* spec:
 *   "PORT" or ":PORT"      TCP on 127.0.0.1 (the default: local only)
 *   "HOST:PORT"            TCP on HOST, e.g. "127.0.0.1:1234", "localhost:1234",
 *                          "0.0.0.0:1234" (all interfaces: only when asked)
 *   "[::1]:PORT", "[::]:PORT"   IPv6
 *   "unix:PATH"            unix stream socket (a stale socket file is replaced)
 *   "stdio"                the single client is stdin/stdout
 * PORT 0 picks a free port (see rsp_listener_address). On error, err (may be
 * NULL) gets a message saying what is wrong and how to write the spec. */
enum rsp_status rsp_listen(const char *spec, struct rsp_listener **out,
                           char *err, size_t errlen);
void rsp_listener_close(struct rsp_listener *l); /* removes a unix socket file */
/* fd to poll for POLLIN (a client is waiting); -1 for stdio. */
int rsp_listener_fd(const struct rsp_listener *l);
/* Where it listens, e.g. "127.0.0.1:40123", "[::1]:5000", "unix:/tmp/s", "stdio". */
const char *rsp_listener_address(const struct rsp_listener *l);
/* Actual TCP port (0 for unix/stdio). */
int rsp_listener_port(const struct rsp_listener *l);

/* Accept one pending client (non-blocking; RSP_ERR_AGAIN when none). For
 * stdio the first call returns the stdin/stdout connection, later calls
 * RSP_ERR_AGAIN. TCP_NODELAY is set. The listener itself keeps no record of
 * the client: the caller decides what "busy" means. */
enum rsp_status rsp_listener_accept(struct rsp_listener *l,
                                    const struct rsp_conn_options *opts,
                                    struct rsp_conn **out, char *err, size_t errlen);
/* Accept a pending client and turn it away cleanly while another session is
 * attached: it is sent "$E.<reason>#cs" (gdb shows the reason) and closed.
 * The current session is untouched. RSP_ERR_AGAIN if nobody was waiting. */
enum rsp_status rsp_listener_refuse(struct rsp_listener *l, const char *reason);

/* --------------------------------------------------------- client side */

struct rsp_client;

/* spec as for rsp_listen ("HOST:PORT", ":PORT", "[::1]:PORT", "unix:PATH");
 * HOST defaults to 127.0.0.1. timeout_ms bounds the connect (-1 = forever).
 * Starts in ack mode. opts may be NULL. */
enum rsp_status rsp_client_connect(const char *spec, int timeout_ms,
                                   const struct rsp_conn_options *opts,
                                   struct rsp_client **out, char *err, size_t errlen);
/* Take over an already connected fd pair (e.g. a pipe to `qemu -gdb stdio`). */
enum rsp_status rsp_client_from_fds(int read_fd, int write_fd,
                                    const struct rsp_conn_options *opts,
                                    struct rsp_client **out);
void rsp_client_close(struct rsp_client *cli); /* NULL-safe */
int rsp_client_fd(const struct rsp_client *cli); /* poll for POLLIN */
struct rsp_conn *rsp_client_conn(struct rsp_client *cli);
const char *rsp_client_error(const struct rsp_client *cli);

/* Send one packet and wait for its reply packet (acks handled; a NAK makes
 * the packet go again). reply gets the decoded payload (reset first; also
 * NUL-terminated past len). Notifications that arrive meanwhile are queued
 * (rsp_client_next_notification). RSP_ERR_TIMEOUT if no reply in time;
 * RSP_ERR_TOO_BIG if the reply exceeded max_payload. A packet that was
 * already queued unclaimed (e.g. a stop reply nobody waited for) would be
 * taken as the reply: claim those with wait_stop first. */
enum rsp_status rsp_client_request(struct rsp_client *cli, const void *payload, size_t len,
                                   struct rsp_buf *reply, int timeout_ms);
enum rsp_status rsp_client_request_str(struct rsp_client *cli, const char *payload,
                                       struct rsp_buf *reply, int timeout_ms);
/* Send a packet without waiting for a reply (e.g. 'c', 's', 'vCont;c'). */
enum rsp_status rsp_client_send(struct rsp_client *cli, const void *payload, size_t len);
/* Wait for the next packet from the peer (a stop reply after 'c', or the
 * reply to a packet sent with rsp_client_send). timeout_ms 0 polls:
 * RSP_ERR_TIMEOUT if none is ready. Packets received while no one waited are
 * kept in order, so nothing is lost between calls. */
enum rsp_status rsp_client_wait_stop(struct rsp_client *cli, struct rsp_buf *pkt, int timeout_ms);
/* Next queued '%' notification (e.g. "Stop:T05..."), RSP_ERR_AGAIN if none.
 * Reads nothing: call wait_stop/request or rsp_client_pump to receive. */
enum rsp_status rsp_client_next_notification(struct rsp_client *cli, struct rsp_buf *out);
/* Read whatever is available now into the queues (for poll() loops). */
enum rsp_status rsp_client_pump(struct rsp_client *cli);
/* True if packets or notifications are already received and waiting (so
 * poll() on rsp_client_fd would not show them): check it before sleeping
 * in poll, and take them with wait_stop(.., 0) / next_notification. */
bool rsp_client_pending(const struct rsp_client *cli);
/* Send the 0x03 interrupt byte (the peer answers with a stop reply). */
enum rsp_status rsp_client_interrupt(struct rsp_client *cli);
/* Negotiate QStartNoAckMode: on "OK" both sides drop acks; on an empty
 * reply (unsupported) stays in ack mode and returns RSP_OK with *enabled
 * false. enabled may be NULL. */
enum rsp_status rsp_client_start_noack(struct rsp_client *cli, int timeout_ms, bool *enabled);

#ifdef __cplusplus
}
#endif

#endif /* MICROVMI_RSP_H */
