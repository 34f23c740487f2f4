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

/* uwsgi_pass: one request per connection; the whole packet is small enough
 * to arrive at once, so a read that finds it answers and closes. */
static void serve_uwsgi(int lfd) {
    char buf[8192];
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (read(c, buf, sizeof(buf)) > 0) {
                        if (write(c, RESPONSE, sizeof(RESPONSE) - 1) < 0) { /* client gone */ }
                        close(c);
                    } else if (errno == EAGAIN) {
                        struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    } else {
                        close(c);
                    }
                }
            } else {
                if (read(fd, buf, sizeof(buf)) > 0 && write(fd, RESPONSE, sizeof(RESPONSE) - 1) < 0) { }
                close(fd); /* close removes it from the epoll set */
            }
        }
    }
}

/* HTTP/1.1 keep-alive: one response per request head seen (wrk sends GETs
 * without bodies, one at a time per connection). */
static void serve_http(int lfd) {
    char buf[8192];
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof(buf) - 1);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                close(fd);
                continue;
            }
            buf[r] = 0;
            for (char *p = buf; (p = strstr(p, "\r\n\r\n")) != NULL; p += 4)
                if (write(fd, RESPONSE, sizeof(RESPONSE) - 1) < 0)
                    break;
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
    for (int w = 1; w < workers; w++) {
        if (fork() == 0) {
            http ? serve_http(lfd) : serve_uwsgi(lfd);
        }
    }
    http ? serve_http(lfd) : serve_uwsgi(lfd);
    return 0;
}
