/*
 * The cheapest backend there can be, for measuring a path's ceiling: it
 * answers every request with the same hello-world response and does nothing
 * else (no parsing beyond finding the end of a request, no Python, no
 * logging). What nginx, the kernel and wrk carry in front of it is the most
 * any server behind them can reach on this machine.
 *
 *   nullbackend uwsgi HOST:PORT|/path.sock WORKERS   a connection per request,
 *                                                     as nginx's uwsgi_pass
 *   nullbackend http  HOST:PORT WORKERS               HTTP/1.1 keep-alive
 *
 * Built by bench/prod_bench.py with cc; not part of uwsgo.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nHello World";

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int listen_on(const char *addr) {
    int fd, one = 1;
    if (addr[0] == '/') {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        unlink(addr);
        strncpy(sun.sun_path, addr, sizeof(sun.sun_path) - 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
            die("bind");
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        char host[64];
        const char *colon = strrchr(addr, ':');
        if (!colon || colon - addr >= (long)sizeof(host))
            die("address");
        memcpy(host, addr, colon - addr);
        host[colon - addr] = 0;
        sin.sin_port = htons(atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            die("address");
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* as uWSGI and uwsgo do by default: accept returns with the request */
        int secs = 4;
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            die("bind");
    }
    if (listen(fd, 1024) < 0)
        die("listen");
    return fd;
}

static int ep; /* this process's epoll set */
static char buf[8192];

static void watch(int fd, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* uwsgi_pass: one request per connection; the whole packet is small enough
 * to arrive at once, so a read that finds it answers and closes. */
static void uwsgi_readable(int fd) {
    if (read(fd, buf, sizeof(buf)) > 0 && write(fd, RESPONSE, sizeof(RESPONSE) - 1) < 0) { /* client gone */ }
    close(fd); /* close removes it from the epoll set */
}

static void uwsgi_accepted(int c) {
    ssize_t r = read(c, buf, sizeof(buf));
    if (r > 0) {
        if (write(c, RESPONSE, sizeof(RESPONSE) - 1) < 0) { /* client gone */ }
        close(c);
    } else if (r < 0 && errno == EAGAIN) {
        watch(c, EPOLLIN);
    } else {
        close(c);
    }
}

/* HTTP/1.1 keep-alive: one response per request head seen (wrk sends GETs
 * without bodies, one at a time per connection). */
static void http_readable(int fd) {
    ssize_t r = read(fd, buf, sizeof(buf) - 1);
    if (r <= 0) {
        if (!(r < 0 && errno == EAGAIN))
            close(fd);
        return;
    }
    buf[r] = 0;
    for (char *p = buf; (p = strstr(p, "\r\n\r\n")) != NULL; p += 4)
        if (write(fd, RESPONSE, sizeof(RESPONSE) - 1) < 0)
            break;
}

static void http_accepted(int c) {
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    watch(c, EPOLLIN);
}

/* The one loop: take every pending connection when the listener is ready,
 * else serve the connection that is. */
static void serve(int lfd, uint32_t listen_events, void (*accepted)(int), void (*readable)(int)) {
    ep = epoll_create1(0);
    watch(lfd, listen_events);
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != lfd) {
                readable(fd);
                continue;
            }
            int c;
            while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
                accepted(c);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "uwsgi") && strcmp(argv[1], "http"))) {
        fprintf(stderr, "usage: %s uwsgi|http ADDRESS WORKERS\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(argv[2]);
    int workers = atoi(argv[3]);
    int http = strcmp(argv[1], "http") == 0;
    for (int w = 1; w < workers; w++)
        if (fork() == 0)
            break; /* a child serves; the parent starts the rest */
    /* workers sharing a uwsgi listener wake one at a time, as uwsgo's and
     * uWSGI's do; keep-alive HTTP clients stay where they were accepted */
    if (http)
        serve(lfd, EPOLLIN, http_accepted, http_readable);
    else
        serve(lfd, EPOLLIN | EPOLLEXCLUSIVE, uwsgi_accepted, uwsgi_readable);
    return 0;
}
