/*
 * mock_server.c — a stand-in for `visitsync serve` that speaks just enough
 * of visitsync.v1 (hello → welcome, push → ack, pull → changes) to test the
 * benchmark client without the real server: the upgrade handshake, masked
 * client frames, 16- and 64-bit lengths, fragmented replies (every changes
 * reply is sent in two fragments) and a ping before every welcome. It
 * stores nothing but a count of records per grid. Loopback only, one
 * thread, and it exits by itself after --lifetime seconds.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX (8u << 20)

struct peer {
    int fd;
    int upgraded;
    char *in;
    size_t in_len, in_cap;
    char grid[16];
    int has_grid;
};

static int64_t grid_count[BENCH_GRIDS + 1];
static int64_t total_acked;

/* Writes all of buf, blocking briefly when the socket is full (test only). */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            usleep(200);
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_frame(int fd, int fin, int op, const char *p, size_t n)
{
    unsigned char h[10];
    size_t hl = 0;
    h[hl++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        h[hl++] = (unsigned char)n;
    } else if (n < 65536) {
        h[hl++] = 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    return write_all(fd, (const char *)h, hl) || write_all(fd, p, n) ? -1 : 0;
}

static int on_message(struct peer *pe, const char *m, size_t n)
{
    static const char *const keys[] = {"type", "changes", "since", "device"};
    struct bench_span v[4];
    char out[4096];
    if (bench_json_members(m, n, keys, v, 4) != 0)
        return -1;
    if (bench_json_str_eq(v[0], "hello")) {
        /* The device's grid is the one bench/setup gave it: by its number. */
        char dev[65] = "";
        bench_json_str_copy(v[3], dev, sizeof(dev));
        const char *num = strrchr(dev, '-');
        bench_grid_name(num ? atoi(num + 1) - 1 : 0, pe->grid);
        if (send_frame(pe->fd, 1, 0x9, "hi", 2))
            return -1;
        int k = snprintf(out, sizeof(out),
                         "{\"type\":\"welcome\",\"user\":\"u\",\"role\":\"cadre\",\"grids\":[\"%s\"],"
                         "\"time\":%lld,\"max_batch\":500,\"max_message\":1048576,\"cursor\":\"0\","
                         "\"protocol\":1,\"schema_version\":\"x\"}",
                         pe->grid, (long long)bench_wall_ms());
        return send_frame(pe->fd, 1, 0x1, out, (size_t)k);
    }
    if (bench_json_str_eq(v[0], "push")) {
        static char ack[1 << 20];
        size_t al = (size_t)snprintf(ack, sizeof(ack), "{\"type\":\"ack\",\"req\":\"r\",\"cursor\":\"1\",\"results\":[");
        struct bench_span el, sv[2];
        static const char *const ck[] = {"seq", "id"};
        size_t pos = 0;
        int i = 0;
        while (bench_json_array_next(v[1], &pos, &el) == 1) {
            if (bench_json_members(el.p, el.n, ck, sv, 2) != 0)
                return -1;
            al += (size_t)snprintf(ack + al, sizeof(ack) - al,
                                   "%s{\"seq\":%.*s,\"id\":%.*s,\"status\":\"applied\",\"rev\":1}",
                                   i++ ? "," : "", (int)sv[0].n, sv[0].p, (int)sv[1].n, sv[1].p);
            grid_count[atoi(pe->grid + 1)]++;
            total_acked++;
        }
        al += (size_t)snprintf(ack + al, sizeof(ack) - al, "]}");
        return send_frame(pe->fd, 1, 0x1, ack, al);
    }
    if (bench_json_str_eq(v[0], "pull")) {
        char since[32] = "0";
        bench_json_str_copy(v[2], since, sizeof(since));
        int64_t from = atoll(since), have = grid_count[atoi(pe->grid + 1)];
        int64_t to = from + 1000 < have ? from + 1000 : have;
        static char ch[2 << 20];
        size_t cl = (size_t)snprintf(ch, sizeof(ch), "{\"type\":\"changes\",\"req\":\"p\",\"cursor\":\"%lld\","
                                     "\"more\":%s,\"changes\":[", (long long)to, to < have ? "true" : "false");
        for (int64_t i = from; i < to; i++)
            cl += (size_t)snprintf(ch + cl, sizeof(ch) - cl,
                                   "%s{\"collection\":\"visits\",\"id\":\"v%lld\",\"rev\":1,"
                                   "\"fields\":{\"notes\":\"今日入户走访，[{\\\"}]\"}}",
                                   i > from ? "," : "", (long long)i);
        cl += (size_t)snprintf(ch + cl, sizeof(ch) - cl, "]}");
        size_t half = cl / 2;
        return send_frame(pe->fd, 0, 0x1, ch, half) || send_frame(pe->fd, 1, 0x0, ch + half, cl - half)
                   ? -1 : 0;
    }
    return 0;
}

static int handshake(struct peer *pe)
{
    char *end = memmem(pe->in, pe->in_len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hl = (size_t)(end - pe->in) + 4;
    char *k = memmem(pe->in, hl, "Sec-WebSocket-Key: ", 19);
    if (!k)
        return -1;
    k += 19;
    char key[64] = "", cat[128], acc[64];
    size_t kl = strcspn(k, "\r");
    if (kl >= sizeof(key))
        return -1;
    memcpy(key, k, kl);
    snprintf(cat, sizeof(cat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int sl = 0;
    EVP_Digest(cat, strlen(cat), sha, &sl, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)acc, sha, (int)sl);
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: visitsync.v1\r\n\r\n", acc);
    if (write_all(pe->fd, resp, (size_t)n))
        return -1;
    memmove(pe->in, pe->in + hl, pe->in_len - hl);
    pe->in_len -= hl;
    pe->upgraded = 1;
    return 1;
}

/* Parses client frames (masked, unfragmented). -1 closes the peer. */
static int frames(struct peer *pe)
{
    size_t off = 0;
    int rc = 0;
    for (;;) {
        unsigned char *s = (unsigned char *)pe->in + off;
        size_t n = pe->in_len - off;
        if (n < 2)
            break;
        if (!(s[1] & 0x80)) {
            rc = -1; /* a client must mask */
            break;
        }
        uint64_t len = s[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (n < 4)
                break;
            len = ((uint64_t)s[2] << 8) | s[3];
            h = 4;
        } else if (len == 127) {
            if (n < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | s[2 + i];
            h = 10;
        }
        if (n < h + 4 + len)
            break;
        unsigned char *key = s + h, *pl = s + h + 4;
        for (uint64_t i = 0; i < len; i++)
            pl[i] ^= key[i & 3];
        int op = s[0] & 0x0f;
        if (op == 0x8) {
            rc = -1;
            break;
        }
        if (op == 0x1 && on_message(pe, (const char *)pl, (size_t)len) != 0) {
            rc = -1;
            break;
        }
        off += h + 4 + (size_t)len;
    }
    memmove(pe->in, pe->in + off, pe->in_len - off);
    pe->in_len -= off;
    return rc;
}

static void drop(int ep, struct peer *pe)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, pe->fd, NULL);
    close(pe->fd);
    free(pe->in);
    free(pe);
}

int main(int argc, char **argv)
{
    int lifetime = 30;
    static const struct option lo[] = {{"lifetime", 1, 0, 'l'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c != 'l') {
            fprintf(stderr, "usage: mock_server [--lifetime 30]\n");
            return 2;
        }
        lifetime = atoi(optarg);
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4096) ||
        getsockname(ls, (struct sockaddr *)&sa, &sl)) {
        perror("mock_server: listen");
        return 1;
    }
    printf("visitsync listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    uint64_t end = bench_now_ns() + (uint64_t)lifetime * 1000000000u;
    while (bench_now_ns() < end) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            struct peer *pe = evs[i].data.ptr;
            if (!pe) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct peer *np = calloc(1, sizeof(*np));
                    np->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = np};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2);
                }
                continue;
            }
            if (pe->in_cap - pe->in_len < 65536) {
                size_t cap = pe->in_cap ? pe->in_cap * 2 : 131072;
                if (cap > IN_MAX) {
                    drop(ep, pe);
                    continue;
                }
                pe->in = realloc(pe->in, cap);
                pe->in_cap = cap;
            }
            ssize_t r = recv(pe->fd, pe->in + pe->in_len, pe->in_cap - pe->in_len, 0);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0) {
                drop(ep, pe);
                continue;
            }
            pe->in_len += (size_t)r;
            if (!pe->upgraded) {
                int hs = handshake(pe);
                if (hs < 0) {
                    drop(ep, pe);
                    continue;
                }
                if (hs == 0)
                    continue;
            }
            if (frames(pe) != 0)
                drop(ep, pe);
        }
    }
    fprintf(stderr, "mock_server: %lld records acked\n", (long long)total_acked);
    return 0;
}
