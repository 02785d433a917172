/* Small OS helpers: time, deadlines, fd flags, error text. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "rsp_internal.h"

void rsp_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int64_t rsp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rsp_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : rsp_now_ms() + timeout_ms;
}

int rsp_remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - rsp_now_ms();
    if (left <= 0)
        return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

int rsp_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return flags;
}

void rsp_restore_flags(int fd, int flags)
{
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags);
}
