/*
 * ws.c — a small WebSocket client (RFC 6455) on one epoll loop, for load
 * generation. Design: each connection has one output buffer (frames are
 * masked in place, 8 bytes at a time) written as far as the socket takes
 * it, with EPOLLOUT armed only while bytes remain; and one input buffer
 * parsed frame by frame, whole unfragmented text messages handed out in
 * place and fragments assembled in a second buffer. Server frames must not
 * be masked. Ping gets pong, close gets its echo. Both buffers have
 * ceilings. Everything runs on the thread that calls bench_loop_run_once.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_OUT_MAX (64u << 20) /* queued output per connection */
#define WS_IN_MAX (32u << 20)  /* one frame or one assembled message */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum ws_state { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_CLOSED };

struct bench_loop {
    int ep;
    struct bench_rng rng; /* masking keys: unpredictability does not matter here */
    int has_source;        /* connects bind to source first (bench_loop_set_source) */
    struct in_addr source;
};

struct wbuf {
    char *p;
    size_t off; /* consumed bytes at the front */
    size_t len; /* valid bytes after off */
    size_t cap;
    size_t max;
};

struct bench_ws {
    struct bench_loop *loop;
    int fd;
    enum ws_state state;
    int want_out; /* EPOLLOUT armed */
    const struct bench_ws_ops *ops;
    void *user;
    char accept[32];   /* expected Sec-WebSocket-Accept */
    char proto[64];    /* the subprotocol we asked for */
    struct wbuf out;
    struct wbuf in;
    struct wbuf frag;  /* a fragmented message being assembled */
    int frag_active;
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- buffers ------------------------------------------------------------ */

/* Makes room for n more bytes after the valid ones; -1 past the ceiling. */
static int wbuf_reserve(struct wbuf *b, size_t n)
{
    if (b->off > 0 && b->off + b->len + n > b->cap) {
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
    }
    if (b->off + b->len + n <= b->cap)
        return 0;
    if (b->len + n > b->max)
        return -1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void wbuf_consume(struct wbuf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

/* ---- the loop ------------------------------------------------------------ */

int bench_loop_new(struct bench_loop **out)
{
    struct bench_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) {
        free(l);
        return -1;
    }
    l->rng.s = bench_now_ns();
    *out = l;
    return 0;
}

int bench_loop_set_source(struct bench_loop *loop, const char *addr)
{
    struct in_addr a;

    if (addr == NULL) {
        loop->has_source = 0;
        return 0;
    }
    if (inet_pton(AF_INET, addr, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
        return -1;
    loop->source = a;
    loop->has_source = 1;
    return 0;
}

void bench_loop_free(struct bench_loop *loop)
{
    if (!loop)
        return;
    close(loop->ep);
    free(loop);
}

static void ws_arm(struct bench_ws *ws, int want_out)
{
    if (ws->fd < 0 || ws->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = ws};
    epoll_ctl(ws->loop->ep, EPOLL_CTL_MOD, ws->fd, &ev);
    ws->want_out = want_out;
}

/* Drops the socket and tells the owner once. */
static void ws_fail(struct bench_ws *ws, int code, const char *why)
{
    if (ws->state == WS_CLOSED)
        return;
    ws->state = WS_CLOSED;
    if (ws->fd >= 0) {
        epoll_ctl(ws->loop->ep, EPOLL_CTL_DEL, ws->fd, NULL);
        close(ws->fd);
        ws->fd = -1;
    }
    if (ws->ops->on_close)
        ws->ops->on_close(ws, ws->user, code, why);
}

/* Writes as much queued output as the socket takes. -1 when it broke. */
static int ws_flush(struct bench_ws *ws)
{
    while (ws->out.len > 0) {
        ssize_t w = send(ws->fd, ws->out.p + ws->out.off, ws->out.len, MSG_NOSIGNAL);
        if (w > 0) {
            wbuf_consume(&ws->out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ws_arm(ws, 1);
            return 0;
        }
        return -1;
    }
    ws_arm(ws, 0);
    return 0;
}

/* Queues one frame from the client: FIN set, masked 8 bytes at a time. */
static int ws_queue_frame(struct bench_ws *ws, int opcode, const void *data, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t key32 = (uint32_t)bench_rng_next(&ws->loop->rng);
    unsigned char key[4];
    memcpy(key, &key32, 4);
    memcpy(hdr + h, key, 4);
    h += 4;
    if (wbuf_reserve(&ws->out, h + len) != 0)
        return -1;
    char *dst = ws->out.p + ws->out.off + ws->out.len;
    memcpy(dst, hdr, h);
    unsigned char *pl = (unsigned char *)dst + h;
    memcpy(pl, data, len);
    /* The key repeats every 4 bytes, so an 8-byte word of it masks 8 at once. */
    uint64_t k8;
    memcpy(&k8, key, 4);
    memcpy((char *)&k8 + 4, key, 4);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, pl + i, 8);
        w ^= k8;
        memcpy(pl + i, &w, 8);
    }
    for (; i < len; i++)
        pl[i] ^= key[i & 3];
    ws->out.len += h + len;
    return 0;
}

/* Queues one unfragmented frame of opcode and tries to write it at once. */
static int ws_send(struct bench_ws *ws, int opcode, const void *data, size_t len)
{
    if (ws->state != WS_OPEN)
        return -1;
    if (ws_queue_frame(ws, opcode, data, len) != 0)
        return -1;
    if (!ws->want_out && ws_flush(ws) != 0) {
        ws_fail(ws, 1006, "write failed");
        return -1;
    }
    return 0;
}

int bench_ws_send_text(struct bench_ws *ws, const char *data, size_t len)
{
    return ws_send(ws, 0x1, data, len);
}

int bench_ws_send_binary(struct bench_ws *ws, const void *data, size_t len)
{
    return ws_send(ws, 0x2, data, len);
}

int bench_ws_is_open(const struct bench_ws *ws)
{
    return ws && ws->state == WS_OPEN;
}

/* ---- the handshake -------------------------------------------------------- */

static void b64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int ws_send_handshake(struct bench_ws *ws, const char *host, int port, const char *path)
{
    unsigned char raw[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = bench_rng_next(&ws->loop->rng);
        memcpy(raw + i, &r, 8);
    }
    char key[32];
    b64(raw, 16, key);
    char cat[96];
    snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int shalen = 0;
    if (!EVP_Digest(cat, strlen(cat), sha, &shalen, EVP_sha1(), NULL))
        return -1;
    b64(sha, shalen, ws->accept);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     path, host, port, key, ws->proto);
    if (n < 0 || (size_t)n >= sizeof(req) || wbuf_reserve(&ws->out, (size_t)n) != 0)
        return -1;
    memcpy(ws->out.p + ws->out.off + ws->out.len, req, (size_t)n);
    ws->out.len += (size_t)n;
    return 0;
}

/* Finds header name's value in the response head (case-insensitive name). */
static int head_value(const char *head, size_t n, const char *name, char *val, size_t size)
{
    size_t nl = strlen(name);
    const char *p = head, *end = head + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            size_t vl = (size_t)(ve - v);
            if (vl >= size)
                return -1;
            memcpy(val, v, vl);
            val[vl] = '\0';
            return 0;
        }
        p = eol + 1;
    }
    return -1;
}

/* Consumes the 101 response; 1 when done, 0 when more is needed, -1 bad. */
static int ws_read_handshake(struct bench_ws *ws)
{
    const char *s = ws->in.p + ws->in.off;
    size_t n = ws->in.len;
    const char *end = memmem(s, n, "\r\n\r\n", 4);
    if (!end)
        return n > 16384 ? -1 : 0;
    size_t hl = (size_t)(end - s) + 4;
    char val[128];
    if (hl < 12 || memcmp(s, "HTTP/1.1 101", 12) != 0)
        return -1;
    if (head_value(s, hl, "Sec-WebSocket-Accept", val, sizeof(val)) != 0 ||
        strcmp(val, ws->accept) != 0)
        return -1;
    if (head_value(s, hl, "Sec-WebSocket-Protocol", val, sizeof(val)) != 0 ||
        strcmp(val, ws->proto) != 0)
        return -1;
    wbuf_consume(&ws->in, hl);
    return 1;
}

/* ---- frames from the server ------------------------------------------------ */

static int ws_control(struct bench_ws *ws, int op, const unsigned char *pl, size_t len)
{
    if (op == 0x9) /* ping */
        return ws_queue_frame(ws, 0xA, pl, len) == 0 ? ws_flush(ws) : -1;
    if (op == 0xA)
        return 0;
    /* close: echo it, then drop the socket */
    int code = len >= 2 ? (pl[0] << 8) | pl[1] : 1005;
    char why[128] = "";
    if (len > 2) {
        size_t wl = len - 2 < sizeof(why) - 1 ? len - 2 : sizeof(why) - 1;
        memcpy(why, pl + 2, wl);
        why[wl] = '\0';
    }
    unsigned char echo[2] = {(unsigned char)(code >> 8), (unsigned char)code};
    if (ws_queue_frame(ws, 0x8, echo, len >= 2 ? 2 : 0) == 0)
        (void)ws_flush(ws);
    ws_fail(ws, code, why);
    return 1;
}

/* Parses whole frames in the input buffer. -1 on a protocol fault, 1 when closed. */
static int ws_parse(struct bench_ws *ws)
{
    for (;;) {
        if (ws->state != WS_OPEN)
            return 1;
        const unsigned char *s = (const unsigned char *)ws->in.p + ws->in.off;
        size_t n = ws->in.len;
        if (n < 2)
            return 0;
        int fin = s[0] & 0x80, op = s[0] & 0x0f;
        if (s[1] & 0x80)
            return -1; /* a server must not mask */
        uint64_t len = s[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (n < 4)
                return 0;
            len = ((uint64_t)s[2] << 8) | s[3];
            h = 4;
        } else if (len == 127) {
            if (n < 10)
                return 0;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | s[2 + i];
            h = 10;
        }
        if (len > WS_IN_MAX)
            return -1;
        if (n < h + len) {
            if (wbuf_reserve(&ws->in, h + (size_t)len - n) != 0)
                return -1;
            return 0;
        }
        const unsigned char *pl = s + h;
        size_t pn = (size_t)len;
        if (op >= 0x8) {
            if (!fin || pn > 125)
                return -1;
            int rc = ws_control(ws, op, pl, pn);
            if (rc != 0)
                return rc;
        } else if (op == 0x1 && fin && !ws->frag_active) {
            ws->ops->on_text(ws, ws->user, (const char *)pl, pn);
        } else if (op == 0x1 || op == 0x2 || op == 0x0) {
            if ((op == 0x0) != (ws->frag_active != 0))
                return -1;
            if (op != 0x0) {
                ws->frag.len = 0;
                ws->frag.off = 0;
                ws->frag_active = op; /* 1 text, 2 binary */
            }
            if (wbuf_reserve(&ws->frag, pn) != 0)
                return -1;
            memcpy(ws->frag.p + ws->frag.len, pl, pn);
            ws->frag.len += pn;
            if (fin) {
                int text = ws->frag_active == 0x1;
                ws->frag_active = 0;
                if (text)
                    ws->ops->on_text(ws, ws->user, ws->frag.p, ws->frag.len);
                ws->frag.len = 0;
            }
        } else {
            return -1;
        }
        /* on_text may have freed nothing but may have closed: re-check state. */
        wbuf_consume(&ws->in, h + pn);
    }
}

static void ws_on_readable(struct bench_ws *ws)
{
    for (;;) {
        if (wbuf_reserve(&ws->in, 65536) != 0) {
            ws_fail(ws, 1009, "input over its ceiling");
            return;
        }
        char *dst = ws->in.p + ws->in.off + ws->in.len;
        size_t room = ws->in.cap - ws->in.off - ws->in.len;
        ssize_t r = recv(ws->fd, dst, room, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            ws_fail(ws, 1006, r == 0 ? "the server closed the socket" : "read failed");
            return;
        }
        ws->in.len += (size_t)r;
        if (ws->state == WS_HANDSHAKE) {
            int hs = ws_read_handshake(ws);
            if (hs < 0) {
                ws_fail(ws, 1002, "the upgrade was refused or malformed");
                return;
            }
            if (hs == 0)
                continue;
            ws->state = WS_OPEN;
            if (ws->ops->on_open)
                ws->ops->on_open(ws, ws->user);
        }
        if (ws->state == WS_OPEN) {
            int rc = ws_parse(ws);
            if (rc < 0) {
                ws_fail(ws, 1002, "malformed frame from the server");
                return;
            }
            if (rc > 0)
                return;
        }
        if ((size_t)r < room)
            return; /* drained: level-triggered epoll calls again if more */
    }
}

static void ws_on_writable(struct bench_ws *ws)
{
    if (ws->state == WS_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(ws->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            ws_fail(ws, 1006, "connect failed");
            return;
        }
        ws->state = WS_HANDSHAKE;
    }
    if (ws_flush(ws) != 0)
        ws_fail(ws, 1006, "write failed");
}

int bench_loop_run_once(struct bench_loop *loop, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(loop->ep, evs, 256, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        struct bench_ws *ws = evs[i].data.ptr;
        if (ws->state == WS_CLOSED)
            continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR))
            ws_on_writable(ws);
        if (ws->state != WS_CLOSED && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            ws_on_readable(ws);
    }
    return 0;
}

int bench_ws_connect(struct bench_loop *loop, const char *host, int port, const char *path,
                     const char *subprotocol, const struct bench_ws_ops *ops, void *user,
                     struct bench_ws **out, char *err, size_t errsize)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct bench_ws *ws = NULL;
    int fd = -1;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        snprintf(err, errsize, "%s is not a loopback IPv4 address; the benchmark runs on 127.0.0.0/8 only",
                 host);
        goto fail;
    }
    if (strlen(subprotocol) >= sizeof(ws->proto)) {
        snprintf(err, errsize, "subprotocol name too long");
        goto fail;
    }
    ws = calloc(1, sizeof(*ws));
    if (!ws) {
        snprintf(err, errsize, "out of memory");
        goto fail;
    }
    ws->loop = loop;
    ws->ops = ops;
    ws->user = user;
    ws->out.max = WS_OUT_MAX;
    ws->in.max = WS_IN_MAX + 16;
    ws->frag.max = WS_IN_MAX;
    snprintf(ws->proto, sizeof(ws->proto), "%s", subprotocol);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsize, "socket: %s (raise ulimit -n?)", strerror(errno));
        goto fail;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (loop->has_source) {
        /* The port is chosen at connect, per destination: each source has the whole range. */
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = loop->source};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            snprintf(err, errsize, "bind to source %s: %s", inet_ntoa(loop->source),
                     strerror(errno));
            goto fail;
        }
    }
    if (ws_send_handshake(ws, host, port, path) != 0) {
        snprintf(err, errsize, "could not build the upgrade request");
        goto fail;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc != 0 && errno != EINPROGRESS) {
        snprintf(err, errsize, "connect to %s:%d: %s", host, port, strerror(errno));
        goto fail;
    }
    ws->fd = fd;
    ws->state = WS_CONNECTING;
    ws->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = ws};
    if (epoll_ctl(loop->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, errsize, "epoll_ctl: %s", strerror(errno));
        ws->fd = -1;
        goto fail;
    }
    *out = ws;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (ws) {
        free(ws->out.p);
        free(ws);
    }
    return -1;
}

void bench_ws_free(struct bench_ws *ws, int code)
{
    if (!ws)
        return;
    if (ws->state == WS_OPEN) {
        unsigned char c[2] = {(unsigned char)(code >> 8), (unsigned char)code};
        if (ws_queue_frame(ws, 0x8, c, 2) == 0)
            (void)send(ws->fd, ws->out.p + ws->out.off, ws->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (ws->fd >= 0) {
        epoll_ctl(ws->loop->ep, EPOLL_CTL_DEL, ws->fd, NULL);
        close(ws->fd);
    }
    free(ws->out.p);
    free(ws->in.p);
    free(ws->frag.p);
    free(ws);
}
