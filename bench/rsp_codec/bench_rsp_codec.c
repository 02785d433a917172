/* bench_rsp_codec: MB/s of memory payload through the RSP codec, and the
 * ratio to memcpy of the same buffer measured in the same run.
 *   reply : guest memory -> "$<hex>#cs" ('m' reply as it goes on the wire)
 *   M     : "$Maddr,len:<hex>#cs" on the wire -> decoded into memory
 *   X     : "$Xaddr,len:<escaped binary>#cs" on the wire -> memory
 * Figures are printed, never asserted. --quick: a tiny run (smoke test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rsp.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps the compiler from dropping work whose result is unused. */
static volatile uint8_t sink;

struct wire_ctx {
    uint8_t *mem;
    size_t len;
    int ok;
};

static int on_M(void *c, const struct rsp_event *ev)
{
    struct wire_ctx *w = c;
    if (ev->kind != RSP_EV_PACKET || ev->data[0] != 'M')
        return 0;
    const char *p = (const char *)ev->data + 1, *end = (const char *)ev->data + ev->len;
    uint64_t addr, len;
    if (!rsp_parse_hex_u64(&p, end, &addr) || !rsp_parse_expect(&p, end, ',') ||
        !rsp_parse_hex_u64(&p, end, &len) || !rsp_parse_expect(&p, end, ':') ||
        len != w->len || (size_t)(end - p) != 2 * len)
        return 0;
    w->ok = rsp_hex_decode(w->mem, p, len);
    return 0;
}

static int on_X(void *c, const struct rsp_event *ev)
{
    struct wire_ctx *w = c;
    if (ev->kind != RSP_EV_PACKET || ev->data[0] != 'X')
        return 0;
    const char *p = (const char *)ev->data + 1, *end = (const char *)ev->data + ev->len;
    uint64_t addr, len;
    if (!rsp_parse_hex_u64(&p, end, &addr) || !rsp_parse_expect(&p, end, ',') ||
        !rsp_parse_hex_u64(&p, end, &len) || !rsp_parse_expect(&p, end, ':') ||
        len != w->len || (size_t)(end - p) != len)
        return 0;
    /* the decoder already undid the escapes: the body is the bytes */
    memcpy(w->mem, p, len);
    w->ok = 1;
    return 0;
}

/* Run fn until at least min_time has passed; MB/s of `len` bytes per call. */
#define MEASURE(result, len, min_time, body)                                      \
    do {                                                                          \
        size_t reps_ = 0;                                                         \
        double t0_ = now(), t_;                                                   \
        do {                                                                      \
            body;                                                                 \
            reps_++;                                                              \
        } while ((t_ = now() - t0_) < (min_time));                                \
        (result) = (double)(len) * (double)reps_ / t_ / 1e6;                      \
    } while (0)

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    double min_time = quick ? 0.01 : 0.4;
    const size_t sizes[] = {4096, 65536, 1u << 20};
    size_t max = sizes[2];
    uint8_t *mem = malloc(max), *dst = malloc(max);
    if (!mem || !dst)
        return 1;
    srand(42);
    for (size_t i = 0; i < max; i++)
        mem[i] = (uint8_t)rand();

    struct rsp_decoder dec;
    if (rsp_decoder_init(&dec, 3 * max) != RSP_OK)
        return 1;
    struct rsp_buf frame = RSP_BUF_INIT, wire = RSP_BUF_INIT;

    printf("rsp codec throughput (MB/s of memory payload; ratio = codec / memcpy of the same "
           "buffer, this run)\n");
    printf("%-8s %10s | %10s %6s | %10s %6s | %10s %6s\n", "payload", "memcpy", "m reply",
           "ratio", "M write", "ratio", "X write", "ratio");
    int status = 0;
    for (int s = 0; s < 3; s++) {
        size_t len = sizes[s];
        double mc, reply, mw, xw;
        MEASURE(mc, len, min_time, {
            memcpy(dst, mem, len);
            sink = dst[len - 1];
        });
        /* memory -> 'm' reply frame, as the stub builds it */
        MEASURE(reply, len, min_time, {
            rsp_buf_reset(&frame);
            rsp_frame_begin(&frame, '$');
            rsp_frame_put_hex(&frame, mem, len);
            rsp_frame_end(&frame, 0);
            sink = frame.data[frame.len - 1];
        });
        /* an M packet on the wire -> memory */
        rsp_buf_reset(&wire);
        rsp_frame_begin(&wire, '$');
        rsp_frame_printf(&wire, "M%x,%zx:", 0x100000, len);
        rsp_frame_put_hex(&wire, mem, len);
        rsp_frame_end(&wire, 0);
        struct wire_ctx w = {.mem = dst, .len = len};
        MEASURE(mw, len, min_time, {
            w.ok = 0;
            rsp_decoder_feed(&dec, wire.data, wire.len, on_M, &w);
        });
        if (!w.ok || memcmp(dst, mem, len) != 0) {
            fprintf(stderr, "M round trip failed at %zu bytes\n", len);
            status = 1;
        }
        /* an X packet (binary, escaped) on the wire -> memory */
        rsp_buf_reset(&wire);
        rsp_frame_begin(&wire, '$');
        rsp_frame_printf(&wire, "X%x,%zx:", 0x100000, len);
        rsp_frame_put(&wire, mem, len);
        rsp_frame_end(&wire, 0);
        MEASURE(xw, len, min_time, {
            w.ok = 0;
            rsp_decoder_feed(&dec, wire.data, wire.len, on_X, &w);
        });
        if (!w.ok || memcmp(dst, mem, len) != 0) {
            fprintf(stderr, "X round trip failed at %zu bytes\n", len);
            status = 1;
        }
        printf("%5zu KiB %10.0f | %10.0f %6.2f | %10.0f %6.2f | %10.0f %6.2f\n", len / 1024, mc,
               reply, reply / mc, mw, mw / mc, xw, xw / mc);
    }
    printf("goal: m reply >= 1000 MB/s of memory payload\n");
    rsp_buf_free(&frame);
    rsp_buf_free(&wire);
    rsp_decoder_fini(&dec);
    free(mem);
    free(dst);
    return status;
}
