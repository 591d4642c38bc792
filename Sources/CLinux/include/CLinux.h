// Linux system calls and glibc functions that Glibc's Swift module does not expose: epoll,
// eventfd, accept4, mallopt.
#ifndef CLINUX_H
#define CLINUX_H

#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// accept4(2) with no peer address, needing _GNU_SOURCE, which the shim defines.
int clinux_accept4(int listener, int flags);

#endif
