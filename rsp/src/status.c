/* Names for statuses and decoder events. */
#include "rsp.h"

const char *rsp_status_str(enum rsp_status status)
{
    static const char *const names[RSP_STATUS_COUNT] = {
        [RSP_OK] = "ok",
        [RSP_ERR_INVALID_ARG] = "invalid argument",
        [RSP_ERR_NO_MEMORY] = "out of memory",
        [RSP_ERR_IO] = "i/o error",
        [RSP_ERR_CLOSED] = "connection closed",
        [RSP_ERR_TIMEOUT] = "timeout",
        [RSP_ERR_AGAIN] = "try again",
        [RSP_ERR_PROTOCOL] = "protocol error",
        [RSP_ERR_TOO_BIG] = "packet too big",
        [RSP_ERR_BUSY] = "busy",
    };
    if ((unsigned)status >= RSP_STATUS_COUNT)
        return "unknown status";
    return names[status];
}

const char *rsp_event_kind_str(enum rsp_event_kind kind)
{
    switch (kind) {
    case RSP_EV_PACKET: return "packet";
    case RSP_EV_NOTIFICATION: return "notification";
    case RSP_EV_ACK: return "ack";
    case RSP_EV_NAK: return "nak";
    case RSP_EV_INTERRUPT: return "interrupt";
    case RSP_EV_BAD_CHECKSUM: return "bad checksum";
    case RSP_EV_OVERSIZED: return "oversized";
    case RSP_EV_MALFORMED: return "malformed";
    }
    return "unknown event";
}
