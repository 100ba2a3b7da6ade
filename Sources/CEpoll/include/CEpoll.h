// epoll and eventfd for the HTTP server's event loops. Swift's Glibc module does not export
// <sys/epoll.h> or <sys/eventfd.h>, and `struct epoll_event` is packed on x86-64, so the event
// arrays are exchanged as two plain arrays instead of Swift copies of the packed struct.
#ifndef CEPOLL_H
#define CEPOLL_H

#include <stdint.h>

enum {
    CEPOLL_IN = 0x001,
    CEPOLL_OUT = 0x004,
    CEPOLL_ERR = 0x008,
    CEPOLL_HUP = 0x010,
};

/// epoll_create1(EPOLL_CLOEXEC); -1 and errno on failure.
int cepoll_create(void);
/// epoll_ctl ADD / MOD / DEL of `fd` with `events`, the descriptor itself as the event's data.
int cepoll_add(int epfd, int fd, uint32_t events);
int cepoll_modify(int epfd, int fd, uint32_t events);
int cepoll_delete(int epfd, int fd);
/// epoll_wait of at most `capacity` (<= 256) events into fds[i], events[i]; returns the count or
/// -1 and errno. timeout_ms -1 waits forever.
int cepoll_wait(int epfd, int32_t *fds, uint32_t *events, int capacity, int timeout_ms);
/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK).
int cepoll_eventfd(void);

#endif
