/* A byte pipe in C for bench/dra.py's latency floor: what any relay, even a compiled one, adds on this
 * machine (tcp-proxy is the same pipe in Python's asyncio). One thread, epoll, each client connection gets
 * its own upstream connection to the target; bytes are copied both ways as they come, no Diameter.
 *
 * Build: cc -O2 -o c_pipe bench/c_pipe.c     Usage: c_pipe LISTEN_PORT TARGET_PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

struct end {
    int fd;
    struct end *other;
    char *pending; /* bytes read from `other` not yet written to fd */
    size_t len;
};

static int ep;
static struct end *dead[128]; /* dropped in this batch of events: freed after it (events may still name them) */
static int ndead;

static void nonblock(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void watch(struct end *e, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = e};
    epoll_ctl(ep, op, e->fd, &ev);
}

static void drop(struct end *e) {
    struct end *o = e->other;
    if (e->fd < 0) {
        return;
    }
    close(e->fd);
    close(o->fd);
    e->fd = o->fd = -1;
    if (ndead + 2 <= 128) {
        dead[ndead++] = e;
        dead[ndead++] = o;
    } /* else leaked: a bench tool */
}

/* Write what `to` has pending; returns -1 on a dead connection. */
static int flush(struct end *to) {
    while (to->len) {
        ssize_t n = send(to->fd, to->pending, to->len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                return 0;
            }
            return -1;
        }
        memmove(to->pending, to->pending + n, to->len - (size_t)n);
        to->len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: c_pipe LISTEN_PORT TARGET_PORT\n");
        return 2;
    }
    struct sockaddr_in listen_at = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, "127.0.0.1", &listen_at.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &target.sin_addr);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&listen_at, sizeof listen_at) || listen(lfd, 1024)) {
        perror("c_pipe: listen");
        return 1;
    }
    ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    static char buf[BUF];
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; i++) {
            struct end *e = events[i].data.ptr;
            if (e != NULL && e->fd < 0) {
                continue;
            }
            if (e == NULL) { /* a client: connect its upstream (blocking: loopback) */
                int cfd = accept(lfd, NULL, NULL);
                if (cfd < 0) {
                    continue;
                }
                int ufd = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(ufd, (struct sockaddr *)&target, sizeof target)) {
                    close(cfd);
                    close(ufd);
                    continue;
                }
                struct end *c = calloc(1, sizeof *c), *u = calloc(1, sizeof *u);
                c->fd = cfd;
                u->fd = ufd;
                c->other = u;
                u->other = c;
                c->pending = malloc(BUF * 4);
                u->pending = malloc(BUF * 4);
                nonblock(cfd);
                nonblock(ufd);
                watch(c, EPOLLIN, EPOLL_CTL_ADD);
                watch(u, EPOLLIN, EPOLL_CTL_ADD);
                continue;
            }
            if (events[i].events & EPOLLOUT) {
                if (flush(e) < 0) {
                    drop(e);
                    continue;
                }
                if (!e->len) { /* drained: read the other side again */
                    watch(e, EPOLLIN, EPOLL_CTL_MOD);
                    watch(e->other, EPOLLIN, EPOLL_CTL_MOD);
                }
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t got = recv(e->fd, buf, sizeof buf, 0);
                if (got == 0 || (got < 0 && errno != EAGAIN)) {
                    drop(e);
                    continue;
                }
                if (got < 0) {
                    continue;
                }
                struct end *to = e->other;
                memcpy(to->pending + to->len, buf, (size_t)got);
                to->len += (size_t)got;
                if (flush(to) < 0) {
                    drop(e);
                    continue;
                }
                if (to->len) { /* stop reading until the other side drains */
                    watch(e, 0, EPOLL_CTL_MOD);
                    watch(to, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                }
            }
        }
        for (int i = 0; i < ndead; i++) {
            free(dead[i]->pending);
            free(dead[i]);
        }
        ndead = 0;
    }
}
