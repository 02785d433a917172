/* Guest RAM straight from the file behind QEMU's memory backend
 * (memory-backend-file,share=on): reads and writes at memory speed, while
 * the VM runs. Without such a file, QEMU's gdbstub in physical mode (slow). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu.h"

static char *qom_string(struct qemu_ctx *q, const char *path, const char *prop)
{
    json_object *args = json_object_new_object(), *ret = NULL;
    if (!args)
        return NULL;
    json_object_object_add(args, "path", json_object_new_string(path));
    json_object_object_add(args, "property", json_object_new_string(prop));
    char err[256];
    if (qmp_execute(q->qmp, "qom-get", args, &ret, QEMU_QMP_TIMEOUT_MS, err, sizeof err) !=
        MICROVMI_OK)
        return NULL;
    char *s = NULL;
    if (json_object_is_type(ret, json_type_string))
        s = strdup(json_object_get_string(ret));
    else if (json_object_is_type(ret, json_type_boolean))
        s = strdup(json_object_get_boolean(ret) ? "true" : "false");
    json_object_put(ret);
    return s;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) || stat(b, &sb))
        return !strcmp(a, b);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Find the memory backend whose file is `want` (or, with want NULL, the
 * first shared file backend). Fills q->memdev and q->mem_path. */
static enum microvmi_status find_backend(struct qemu_ctx *q, const char *want, char *ids,
                                         size_t idslen)
{
    json_object *list = NULL;
    char err[256];
    ids[0] = 0;
    if (qmp_execute(q->qmp, "query-memdev", NULL, &list, QEMU_QMP_TIMEOUT_MS, err, sizeof err) !=
        MICROVMI_OK)
        return MICROVMI_NOT_SUPPORTED;
    enum microvmi_status st = MICROVMI_NOT_SUPPORTED;
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n && st != MICROVMI_OK; i++) {
        json_object *m = json_object_array_get_idx(list, i), *idv, *sharev;
        if (!json_object_object_get_ex(m, "id", &idv) || !json_object_is_type(idv, json_type_string))
            continue;
        const char *id = json_object_get_string(idv);
        size_t used = strlen(ids);
        snprintf(ids + used, idslen - used, "%s%s", used ? ", " : "", id);
        bool shared = json_object_object_get_ex(m, "share", &sharev) &&
                      json_object_get_boolean(sharev);
        char path[300];
        snprintf(path, sizeof path, "/objects/%s", id);
        char *file = qom_string(q, path, "mem-path");
        if (file && *file && ((want && same_file(want, file)) || (!want && shared))) {
            snprintf(q->memdev, sizeof q->memdev, "%s", id);
            snprintf(q->mem_path, sizeof q->mem_path, "%s", want ? want : file);
            st = shared ? MICROVMI_OK : MICROVMI_INVALID_ARG;
            if (!shared)
                microvmi_fail(q->vm, MICROVMI_INVALID_ARG,
                              "memory backend %s (%s) is not shared: start QEMU with "
                              "memory-backend-file,...,share=on so its RAM file shows the guest's "
                              "memory",
                              id, file);
        }
        free(file);
    }
    json_object_put(list);
    return st;
}

static enum microvmi_status load_layout(struct qemu_ctx *q, const char *region)
{
    char *text = NULL, err[256];
    enum microvmi_status st =
        qmp_hmp(q->qmp, "info mtree -f", -1, &text, QEMU_QMP_TIMEOUT_MS, err, sizeof err);
    if (st != MICROVMI_OK)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "cannot read QEMU's memory map: %s", err);
    bool ok = qemu_layout_parse_mtree(text, strlen(text), region, &q->layout);
    free(text);
    return ok ? MICROVMI_OK : MICROVMI_NOT_SUPPORTED;
}

enum microvmi_status qemu_mem_open(struct qemu_ctx *q, const char *mem_param)
{
    q->mem_fd = -1;
    char ids[256];
    enum microvmi_status st = find_backend(q, mem_param, ids, sizeof ids);
    if (st == MICROVMI_INVALID_ARG)
        return st;
    if (st != MICROVMI_OK) {
        if (mem_param)
            return microvmi_fail(q->vm, MICROVMI_INIT_FAILED,
                                 "mem=%s is not the mem-path of any memory backend of this VM "
                                 "(backends: %s); start QEMU with -object memory-backend-file,"
                                 "id=ram0,size=SIZE,mem-path=%s,share=on -machine memory-backend=ram0",
                                 mem_param, ids[0] ? ids : "none", mem_param);
        /* No RAM file: the gdbstub's physical mode. The layout still says
         * where RAM is (max_gfn, holes). */
        if (load_layout(q, "pc.ram") != MICROVMI_OK) {
            char first[64] = "";
            sscanf(ids, "%63[^,]", first);
            if (first[0])
                load_layout(q, first);
        }
        return MICROVMI_OK;
    }
    st = load_layout(q, q->memdev);
    if (st != MICROVMI_OK)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED,
                             "QEMU's memory map (info mtree -f) shows no RAM of backend %s",
                             q->memdev);
    q->mem_fd = open(q->mem_path, O_RDWR | O_CLOEXEC);
    q->mem_writable = q->mem_fd >= 0;
    if (q->mem_fd < 0)
        q->mem_fd = open(q->mem_path, O_RDONLY | O_CLOEXEC);
    if (q->mem_fd < 0)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "cannot open the RAM file %s: %s",
                             q->mem_path, strerror(errno));
    struct stat sb;
    if (fstat(q->mem_fd, &sb) || sb.st_size <= 0)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "RAM file %s is empty", q->mem_path);
    q->mem_size = (uint64_t)sb.st_size;
    void *m = mmap(NULL, q->mem_size, PROT_READ | (q->mem_writable ? PROT_WRITE : 0), MAP_SHARED,
                   q->mem_fd, 0);
    if (m == MAP_FAILED)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "cannot map the RAM file %s: %s",
                             q->mem_path, strerror(errno));
    q->mem = m;
    /* Keep only what the file really holds. */
    for (size_t i = 0; i < q->layout.count; i++) {
        struct qemu_ram_range *r = &q->layout.r[i];
        if (r->offset >= q->mem_size)
            r->size = 0;
        else if (r->size > q->mem_size - r->offset)
            r->size = q->mem_size - r->offset;
    }
    return MICROVMI_OK;
}

void qemu_mem_close(struct qemu_ctx *q)
{
    if (q->mem)
        munmap(q->mem, q->mem_size);
    if (q->mem_fd >= 0)
        close(q->mem_fd);
    q->mem = NULL;
    q->mem_fd = -1;
}

static uint8_t *host_of(struct qemu_ctx *q, uint64_t gpa, size_t len)
{
    const struct qemu_ram_range *r = qemu_layout_find(&q->layout, gpa);
    if (!r || len > r->size - (gpa - r->gpa))
        return NULL;
    return q->mem + r->offset + (gpa - r->gpa);
}

/* The slow path needs the VM stopped for the duration of the access. */
static enum microvmi_status through_gdb(struct qemu_ctx *q, uint64_t gpa, void *rbuf,
                                        const void *wbuf, size_t len)
{
    if (!q->have_gdb)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "no RAM file and no gdbstub: give mem=PATH (memory-backend-file,"
                             "share=on) or gdb=ADDRESS");
    if (q->layout.count && !qemu_layout_find(&q->layout, gpa))
        return microvmi_fail(q->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                             "no RAM at guest-physical %#" PRIx64, gpa);
    enum microvmi_status st = qemu_stop_now(q);
    if (st != MICROVMI_OK)
        return st;
    st = rbuf ? qgdb_read_phys(&q->gdb, gpa, rbuf, len) : qgdb_write_phys(&q->gdb, gpa, wbuf, len);
    enum microvmi_status st2 = qemu_sync_run(q);
    if (st == MICROVMI_NO_MEMORY_AT_ADDRESS)
        return microvmi_fail(q->vm, st, "QEMU has no memory at guest-physical %#" PRIx64, gpa);
    if (st != MICROVMI_OK)
        return qemu_fail_gdb(q, st);
    return st2;
}

/* The mapped RAM behind [gpa, gpa+len), or NULL with the handle's message set. */
static uint8_t *ram_at(struct qemu_ctx *q, uint64_t gpa, size_t len)
{
    uint8_t *h = host_of(q, gpa, len);
    if (!h)
        microvmi_fail(q->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                      "no RAM at guest-physical %#" PRIx64 " (hole or MMIO)", gpa);
    return h;
}

enum microvmi_status qemu_read_physical(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct qemu_ctx *q = ctx;
    if (!q->mem)
        return through_gdb(q, gpa, buf, NULL, len);
    uint8_t *h = ram_at(q, gpa, len);
    if (!h)
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    memcpy(buf, h, len);
    return MICROVMI_OK;
}

enum microvmi_status qemu_write_physical(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    struct qemu_ctx *q = ctx;
    if (!q->mem)
        return through_gdb(q, gpa, NULL, buf, len);
    if (!q->mem_writable)
        return microvmi_fail(q->vm, MICROVMI_READ_ONLY, "RAM file %s is not writable by us",
                             q->mem_path);
    uint8_t *h = ram_at(q, gpa, len);
    if (!h)
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    /* TCG caches translated code: a write into code QEMU already translated
     * is seen by the guest's data accesses, not necessarily by execution. */
    memcpy(h, buf, len);
    return MICROVMI_OK;
}

enum microvmi_status qemu_map_physical(void *ctx, uint64_t gpa, size_t len, bool writable,
                                       void **host)
{
    struct qemu_ctx *q = ctx;
    if (!q->mem)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "foreign mapping needs the RAM file (mem=PATH)");
    if (writable && !q->mem_writable)
        return microvmi_fail(q->vm, MICROVMI_READ_ONLY, "RAM file %s is read-only for us",
                             q->mem_path);
    uint8_t *h = host_of(q, gpa, len ? len : 1);
    if (!h)
        return microvmi_fail(q->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                             "[%#" PRIx64 ", +%#zx) is not one contiguous RAM range", gpa, len);
    *host = h;
    return MICROVMI_OK;
}

enum microvmi_status qemu_unmap_physical(void *ctx, void *host, size_t len)
{
    (void)ctx;
    (void)host;
    (void)len;
    return MICROVMI_OK; /* a view into the one mapping kept for the handle's life */
}

enum microvmi_status qemu_max_gfn(void *ctx, uint64_t *max_gfn)
{
    struct qemu_ctx *q = ctx;
    uint64_t end = qemu_layout_end(&q->layout);
    if (!end)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED, "QEMU's RAM layout is unknown");
    *max_gfn = (end - 1) >> MICROVMI_PAGE_SHIFT;
    return MICROVMI_OK;
}
