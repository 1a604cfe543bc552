/* paced_load.c: a small open-loop HTTP/1.1 load generator for bench/gateway_latency.py.
 *
 * Request i is due at start + i / rate, whatever happened to earlier requests. It is sent on a free
 * keep-alive connection as soon as it is due; if every connection is busy it waits for one, and that wait
 * is part of its latency. Latency is measured from the due time (CLOCK_MONOTONIC) to the end of the
 * response, so a server (or generator) stall shows up in the figures instead of quietly lowering the rate
 * ("coordinated omission"). One thread, epoll, a timerfd armed at the next due time, no pipelining.
 *
 * Responses are parsed: status line, headers (Content-Length, Transfer-Encoding: chunked, Connection),
 * then the body by length, by chunks (with trailers) or until EOF. Bodies are discarded as they arrive.
 *
 * Build: gcc -O2 -Wall -o paced_load paced_load.c   (bench/gateway_latency.py does this into var/bench/)
 * Usage: paced_load -p PORT -u PATH -r RATE -d SECONDS [-a 127.0.0.1] [-c CONNECTIONS] [-H 'Name: value']...
 * Output (stdout): one JSON object: counts, and "latencies_us" (one per completed request, in due order).
 * Exit status 0 unless the arguments are wrong or the server cannot be reached at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 65536      /* per connection; a response head must fit in it */
#define MAX_CONNECTIONS 1024
#define TIMER_TAG (-1)      /* epoll data of the timerfd */

enum conn_state { C_CONNECTING, C_IDLE, C_BUSY };
enum parse_state { P_HEAD, P_LENGTH, P_UNTIL_EOF, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILERS };

struct conn {
    int fd;
    enum conn_state state;
    int in_free_ring;       /* queued in the ring of free connections */
    long request;           /* the request in flight, -1 if none */
    size_t sent;            /* bytes of the request written so far */
    enum parse_state parse;
    int status;
    int close_after;        /* the server will close after this response */
    uint64_t remaining;     /* body or chunk bytes still to come */
    size_t len;             /* bytes waiting in buf */
    char buf[BUF_SIZE];
};

static struct sockaddr_in addr;
static char *request_text;
static size_t request_len;
static int ep, timer_fd;
static struct conn *conns;
static int nconns;
static int *ring, ring_head, ring_count;   /* FIFO of free connections (round robin keeps all of them warm) */
static int64_t start_ns;
static double rate;
static int64_t *latency_ns;                 /* per request: -1 = not completed */
static long total, completed, errors, non2xx, late_sends, connect_errors, reconnects, busy, max_busy;
static int64_t max_send_lag_ns;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t due_ns(long i) { return start_ns + (int64_t)((double)i * 1e9 / rate); }

static void watch(struct conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(ep, op, c->fd, &ev) != 0 && op != EPOLL_CTL_DEL) { perror("epoll_ctl"); exit(2); }
}

static void push_free(struct conn *c) {
    if (c->in_free_ring) return;
    c->in_free_ring = 1;
    ring[(ring_head + ring_count++) % nconns] = (int)(c - conns);
}

static struct conn *pop_free(void) {  /* skips entries whose connection was lost since it was queued */
    while (ring_count > 0) {
        struct conn *c = &conns[ring[ring_head]];
        ring_head = (ring_head + 1) % nconns;
        ring_count--;
        c->in_free_ring = 0;
        if (c->state == C_IDLE) return c;
    }
    return NULL;
}

static void open_conn(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { perror("socket"); exit(2); }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->request = -1;
    c->len = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        c->state = C_IDLE;
        watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
        push_free(c);
    } else if (errno == EINPROGRESS) {
        c->state = C_CONNECTING;
        watch(c, EPOLLOUT, EPOLL_CTL_ADD);
    } else {
        perror("connect");
        exit(2);
    }
}

static void reopen(struct conn *c) {  /* close and connect again (a lost or closed connection) */
    watch(c, 0, EPOLL_CTL_DEL);
    close(c->fd);
    reconnects++;
    open_conn(c);
}

static void finish(struct conn *c, int ok) {  /* the request in flight on c is over */
    long i = c->request;
    if (i >= 0) {
        busy--;
        if (ok) {
            latency_ns[i] = now_ns() - due_ns(i);
            completed++;
            if (c->status < 200 || c->status > 299) non2xx++;
        } else {
            errors++;
        }
    }
    c->request = -1;
    if (!ok || c->close_after || c->len > 0) {  /* bytes after the response: out of step, start over */
        reopen(c);
    } else {
        c->state = C_IDLE;
        push_free(c);
    }
}

static void write_more(struct conn *c) {
    while (c->sent < request_len) {
        ssize_t n = send(c->fd, request_text + c->sent, request_len - c->sent, MSG_NOSIGNAL);
        if (n > 0) { c->sent += (size_t)n; continue; }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
            return;
        }
        finish(c, 0);
        return;
    }
    watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
}

static void start_request(struct conn *c, long i) {
    c->state = C_BUSY;
    c->request = i;
    c->sent = 0;
    c->parse = P_HEAD;
    c->status = 0;
    c->close_after = 0;
    c->remaining = 0;
    if (++busy > max_busy) max_busy = busy;
    write_more(c);
}

static void consume(struct conn *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* The value of header `name` in the head's line starting at `line` (ending at `end`), or NULL. */
static const char *header_value(const char *line, const char *end, const char *name) {
    size_t n = strlen(name);
    if ((size_t)(end - line) <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') return NULL;
    const char *v = line + n + 1;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    return v;
}

static int contains_token(const char *v, const char *end, const char *token) {  /* case-insensitive */
    size_t n = strlen(token);
    for (; v + n <= end; v++)
        if (strncasecmp(v, token, n) == 0) return 1;
    return 0;
}

/* Parse the head in buf[0, head_len): status, framing, keep-alive. Returns 0 if it is not HTTP/1.x. */
static int parse_head(struct conn *c, size_t head_len) {
    const char *p = c->buf, *end = c->buf + head_len;
    if (head_len < 12 || strncmp(p, "HTTP/1.", 7) != 0) return 0;
    int http10 = p[7] == '0', keep_alive_10 = 0, chunked = 0, have_length = 0;
    uint64_t length = 0;
    c->status = atoi(p + 9);
    for (const char *line = memchr(p, '\n', head_len) + 1; line < end;) {
        const char *eol = memchr(line, '\r', (size_t)(end - line));
        if (eol == NULL) eol = end;
        const char *v;
        if ((v = header_value(line, eol, "content-length"))) { have_length = 1; length = strtoull(v, NULL, 10); }
        else if ((v = header_value(line, eol, "transfer-encoding"))) chunked = contains_token(v, eol, "chunked");
        else if ((v = header_value(line, eol, "connection"))) {
            if (contains_token(v, eol, "close")) c->close_after = 1;
            if (contains_token(v, eol, "keep-alive")) keep_alive_10 = 1;
        }
        line = eol + 2;
    }
    if (http10 && !keep_alive_10) c->close_after = 1;
    if ((c->status >= 100 && c->status < 200) || c->status == 204 || c->status == 304) {
        c->parse = P_LENGTH, c->remaining = 0;
    } else if (chunked) {
        c->parse = P_CHUNK_SIZE;
    } else if (have_length) {
        c->parse = P_LENGTH, c->remaining = length;
    } else {
        c->parse = P_UNTIL_EOF, c->close_after = 1;
    }
    return 1;
}

/* Advance c's response parser over the bytes in buf; finishes the request when the response is complete. */
static void parse(struct conn *c) {
    for (;;) {
        switch (c->parse) {
        case P_HEAD: {
            char *head_end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (head_end == NULL) {
                if (c->len == BUF_SIZE) finish(c, 0);  /* a head larger than the buffer */
                return;
            }
            size_t head_len = (size_t)(head_end - c->buf) + 4;
            if (!parse_head(c, head_len)) { finish(c, 0); return; }
            consume(c, head_len);
            if (c->status >= 100 && c->status < 200) { c->parse = P_HEAD; continue; }  /* interim: skip */
            if (c->parse == P_LENGTH && c->remaining == 0) { finish(c, 1); return; }
            break;
        }
        case P_LENGTH: {
            size_t take = c->len < c->remaining ? c->len : (size_t)c->remaining;
            consume(c, take);
            c->remaining -= take;
            if (c->remaining == 0) finish(c, 1);
            return;  /* finished, or waiting for more */
        }
        case P_UNTIL_EOF:
            c->len = 0;  /* finished by the EOF (on_readable) */
            return;
        case P_CHUNK_SIZE:
        case P_TRAILERS: {
            char *eol = memmem(c->buf, c->len, "\r\n", 2);
            if (eol == NULL) {
                if (c->len == BUF_SIZE) finish(c, 0);
                return;
            }
            size_t line_len = (size_t)(eol - c->buf);
            if (c->parse == P_TRAILERS) {
                consume(c, line_len + 2);
                if (line_len == 0) { finish(c, 1); return; }  /* the empty line ends the message */
                break;
            }
            char *digits_end;
            c->remaining = strtoull(c->buf, &digits_end, 16);  /* stops at ';' of a chunk extension */
            if (digits_end == c->buf) { finish(c, 0); return; }
            consume(c, line_len + 2);
            c->parse = c->remaining == 0 ? P_TRAILERS : P_CHUNK_DATA;
            break;
        }
        case P_CHUNK_DATA: {
            size_t take = c->len < c->remaining ? c->len : (size_t)c->remaining;
            consume(c, take);
            c->remaining -= take;
            if (c->remaining > 0) return;
            c->parse = P_CHUNK_CRLF;
            break;
        }
        case P_CHUNK_CRLF:
            if (c->len < 2) return;
            if (c->buf[0] != '\r' || c->buf[1] != '\n') { finish(c, 0); return; }
            consume(c, 2);
            c->parse = P_CHUNK_SIZE;
            break;
        }
    }
}

static void on_readable(struct conn *c) {
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            if (c->state != C_BUSY) { reopen(c); return; }  /* bytes nobody asked for */
            parse(c);
            if (c->state != C_BUSY) return;  /* done: leave the rest (if any) to the next readiness */
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        /* EOF or error */
        if (c->state == C_BUSY) finish(c, n == 0 && c->parse == P_UNTIL_EOF);
        else reopen(c);  /* the server closed an idle connection (keep-alive timeout) */
        return;
    }
}

static void on_event(struct conn *c, uint32_t events) {
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            if (++connect_errors > 100) { fprintf(stderr, "paced_load: cannot connect\n"); exit(2); }
            reopen(c);
            return;
        }
        c->state = C_IDLE;
        watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
        push_free(c);
        return;
    }
    if (c->state == C_BUSY && (events & EPOLLOUT) && c->sent < request_len) write_more(c);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
}

static void arm_timer(int64_t at) {  /* absolute CLOCK_MONOTONIC time; 0 disarms */
    struct itimerspec spec = {0};
    if (at > 0) spec.it_value = (struct timespec){.tv_sec = at / 1000000000, .tv_nsec = at % 1000000000};
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

static void usage(void) {
    fprintf(stderr, "usage: paced_load -p PORT -u PATH -r RATE -d SECONDS [-a ADDR] [-c CONNECTIONS] "
                    "[-H 'Name: value']... [-w DRAIN_SECONDS]\n");
    exit(1);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = NULL;
    int port = 0, opt;
    double seconds = 0, drain = 10;
    char headers[16384] = "";
    nconns = 32;
    while ((opt = getopt(argc, argv, "a:p:u:r:d:c:H:w:")) != -1) {
        switch (opt) {
        case 'a': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'w': drain = atof(optarg); break;
        case 'H':
            if (strlen(headers) + strlen(optarg) + 3 >= sizeof headers) usage();
            strcat(headers, optarg);
            strcat(headers, "\r\n");
            break;
        default: usage();
        }
    }
    if (!path || port <= 0 || rate <= 0 || seconds <= 0 || nconns < 1 || nconns > MAX_CONNECTIONS) usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage();

    size_t cap = strlen(path) + strlen(host) + strlen(headers) + 64;
    request_text = malloc(cap);
    request_len = (size_t)snprintf(request_text, cap, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", path, host,
                                   port, headers);
    total = (long)(rate * seconds);
    latency_ns = malloc(sizeof *latency_ns * (size_t)total);
    for (long i = 0; i < total; i++) latency_ns[i] = -1;
    conns = calloc((size_t)nconns, sizeof *conns);
    ring = calloc((size_t)nconns, sizeof *ring);
    prctl(PR_SET_TIMERSLACK, 1UL);  /* wake at the due time, not up to 50 µs later */

    ep = epoll_create1(EPOLL_CLOEXEC);
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = (uint32_t)TIMER_TAG};
    epoll_ctl(ep, EPOLL_CTL_ADD, timer_fd, &tev);
    for (int k = 0; k < nconns; k++) open_conn(&conns[k]);

    struct epoll_event events[64];
    int64_t ready_deadline = now_ns() + 5000000000LL;
    while (ring_count < nconns && now_ns() < ready_deadline) {  /* every connection open before the start */
        int n = epoll_wait(ep, events, 64, 100);
        for (int k = 0; k < n; k++)
            if (events[k].data.u32 != (uint32_t)TIMER_TAG) on_event(&conns[events[k].data.u32], events[k].events);
    }

    start_ns = now_ns() + 10000000;  /* 10 ms from now */
    int64_t end_ns = due_ns(total) + (int64_t)(drain * 1e9), armed = -1;
    long next_due = 0, next_sent = 0;  /* requests [0, next_due) are due; [0, next_sent) were sent */
    while (completed + errors < total) {
        int64_t now = now_ns();
        if (now > end_ns) break;
        while (next_due < total && due_ns(next_due) <= now) next_due++;
        struct conn *c;
        while (next_sent < next_due && (c = pop_free()) != NULL) {
            int64_t lag = now_ns() - due_ns(next_sent);
            if (lag > 1000000) late_sends++;  /* sent > 1 ms after it was due (no free connection, or we were late) */
            if (lag > max_send_lag_ns) max_send_lag_ns = lag;
            start_request(c, next_sent++);
        }
        int64_t want = next_due < total ? due_ns(next_due) : 0;
        if (want != armed) { arm_timer(want); armed = want; }
        int n = epoll_wait(ep, events, 64, 100);
        for (int k = 0; k < n; k++) {
            if (events[k].data.u32 == (uint32_t)TIMER_TAG) {
                uint64_t expirations;
                if (read(timer_fd, &expirations, sizeof expirations) < 0) { /* spurious: nothing to do */ }
                armed = -1;
                continue;
            }
            on_event(&conns[events[k].data.u32], events[k].events);
        }
    }

    long unfinished = total - completed - errors;  /* still in flight, or never sent, at the drain deadline */
    printf("{\"requests\": %ld, \"completed\": %ld, \"errors\": %ld, \"unfinished\": %ld, \"non2xx\": %ld, "
           "\"late_sends\": %ld, \"max_send_lag_us\": %.1f, \"max_in_flight\": %ld, \"connections\": %d, "
           "\"reconnects\": %ld, \"rate\": %g, \"latencies_us\": [",
           total, completed, errors, unfinished, non2xx, late_sends, (double)max_send_lag_ns / 1e3, max_busy,
           nconns, reconnects, rate);
    int first = 1;
    for (long i = 0; i < total; i++) {
        if (latency_ns[i] < 0) continue;
        printf(first ? "%.1f" : ",%.1f", (double)latency_ns[i] / 1e3);
        first = 0;
    }
    printf("]}\n");
    return 0;
}
