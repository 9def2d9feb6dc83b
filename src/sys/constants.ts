/**
 * Socket, fcntl and poll constants per operating system, with the numbers
 * from Linux's and Darwin's headers. Where Darwin lacks a flag (`SOCK_CLOEXEC`,
 * `MSG_NOSIGNAL`) its value is 0 and the code takes the Darwin road instead.
 *
 * @module
 */

import type { OperatingSystem } from "./platform.ts";

/** The C constants the core uses, for one operating system. */
export interface SystemConstants {
  readonly AF_UNSPEC: number;
  readonly AF_UNIX: number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  /** 0 where the family does not exist. */
  readonly AF_NETLINK: number;
  /** 0 where the family does not exist. */
  readonly AF_VSOCK: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_RAW: number;
  readonly SOCK_SEQPACKET: number;
  /** 0 on Darwin: set with fcntl after the call. */
  readonly SOCK_NONBLOCK: number;
  /** 0 on Darwin: set with fcntl after the call. */
  readonly SOCK_CLOEXEC: number;
  readonly SOL_SOCKET: number;
  readonly SO_TYPE: number;
  readonly SO_ERROR: number;
  readonly SO_SNDBUF: number;
  readonly SO_RCVBUF: number;
  readonly SO_ACCEPTCONN: number;
  /** 0 where the option does not exist (Darwin). */
  readonly SO_PASSCRED: number;
  /** 0 where the option does not exist (Darwin). */
  readonly SO_PEERCRED: number;
  /** 0 where the option does not exist (Darwin). */
  readonly SO_SNDBUFFORCE: number;
  /** 0 where the option does not exist (Linux). */
  readonly SO_NOSIGPIPE: number;
  readonly SCM_RIGHTS: number;
  /** 0 where the message type does not exist (Darwin). */
  readonly SCM_CREDENTIALS: number;
  /** 0 on Darwin, which uses SO_NOSIGPIPE. */
  readonly MSG_NOSIGNAL: number;
  readonly MSG_DONTWAIT: number;
  readonly MSG_TRUNC: number;
  readonly MSG_CTRUNC: number;
  /** 0 on Darwin. */
  readonly MSG_CMSG_CLOEXEC: number;
  readonly SHUT_RD: number;
  readonly SHUT_WR: number;
  readonly SHUT_RDWR: number;
  readonly F_GETFD: number;
  readonly F_SETFD: number;
  readonly F_GETFL: number;
  readonly F_SETFL: number;
  readonly F_DUPFD_CLOEXEC: number;
  readonly FD_CLOEXEC: number;
  readonly O_NONBLOCK: number;
  readonly O_CLOEXEC: number;
  readonly POLLIN: number;
  readonly POLLOUT: number;
  readonly POLLERR: number;
  readonly POLLHUP: number;
  readonly POLLNVAL: number;
  /** 0 on Darwin (no epoll). */
  readonly EPOLL_CTL_ADD: number;
  /** 0 on Darwin (no epoll). */
  readonly EPOLL_CTL_DEL: number;
  readonly S_IFMT: number;
  readonly S_IFSOCK: number;
  readonly S_IFIFO: number;
  readonly S_IFREG: number;
  readonly S_IFCHR: number;
  readonly S_IFDIR: number;
  /** statx(2) flag; 0 on Darwin. */
  readonly AT_EMPTY_PATH: number;
  /** statx(2) mask bits for type, mode and inode; 0 on Darwin. */
  readonly STATX_BASIC: number;
  /** The pidfd_open(2) syscall number (the same on x86_64 and aarch64); 0 on Darwin. */
  readonly SYS_pidfd_open: number;
  /** The pidfd_getfd(2) syscall number (the same on x86_64 and aarch64); 0 on Darwin. */
  readonly SYS_pidfd_getfd: number;
  /** `f_type` of pidfs (Linux 6.9+), whose pidfd inodes tell processes apart; 0 on Darwin. */
  readonly PIDFS_MAGIC: number;
  /** `SOMAXCONN`, the default backlog. */
  readonly SOMAXCONN: number;
  /** clock_gettime(2)'s monotonic clock, the one systemd's `MONOTONIC_USEC` is read from. */
  readonly CLOCK_MONOTONIC: number;
  /** `VMADDR_CID_ANY` of `<linux/vm_sockets.h>`. */
  readonly VMADDR_CID_ANY: number;
  /** Let bind(2) reuse a local address in TIME_WAIT. */
  readonly SO_REUSEADDR: number;
  /** Let several sockets bind one address; the kernel spreads connections over their queues (socket(7)). */
  readonly SO_REUSEPORT: number;
  /** How long a blocking receive or accept(2) waits before `EAGAIN` (socket(7)); its value is a `struct timeval`. */
  readonly SO_RCVTIMEO: number;
  /** epoll_ctl(2): wake one of the epoll instances that wait on a shared fd; 0 on Darwin (no epoll). */
  readonly EPOLLEXCLUSIVE: number;
  /** epoll_ctl(2) events a listening socket never reports and `EPOLLEXCLUSIVE` refuses (`EPOLLRDHUP | EPOLLPRI`). */
  readonly EPOLL_NOT_EXCLUSIVE: number;
  /** fcntl(2): who gets the signal when an `O_ASYNC` fd becomes ready. */
  readonly F_SETOWN: number;
  /** fcntl(2): which signal an `O_ASYNC` fd sends; 0 on Darwin (always SIGIO). */
  readonly F_SETSIG: number;
  /** Signal-driven I/O (`FASYNC`). */
  readonly O_ASYNC: number;
  /** The signal number of `SIGURG` (default action: ignore), which `F_SETSIG` asks for. */
  readonly SIGURG: number;
  /** prctl(2): orphans of our descendants come back to us; 0 where it does not exist (Darwin). */
  readonly PR_SET_CHILD_SUBREAPER: number;
  /** waitpid(2): return at once when no child has changed state. */
  readonly WNOHANG: number;
}

/** Linux, from `<sys/socket.h>`, `<fcntl.h>`, `<poll.h>`, `<sys/epoll.h>` (same on x86_64 and aarch64). */
export const LINUX: SystemConstants = Object.freeze({
  AF_UNSPEC: 0,
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
  AF_VSOCK: 40,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_ACCEPTCONN: 30,
  SO_PASSCRED: 16,
  SO_PEERCRED: 17,
  SO_SNDBUFFORCE: 32,
  SO_NOSIGPIPE: 0,
  SCM_RIGHTS: 1,
  SCM_CREDENTIALS: 2,
  MSG_NOSIGNAL: 0x4000,
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  MSG_CTRUNC: 0x8,
  MSG_CMSG_CLOEXEC: 0x40000000,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  F_DUPFD_CLOEXEC: 1030,
  FD_CLOEXEC: 1,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  S_IFMT: 0o170000,
  S_IFSOCK: 0o140000,
  S_IFIFO: 0o010000,
  S_IFREG: 0o100000,
  S_IFCHR: 0o020000,
  S_IFDIR: 0o040000,
  AT_EMPTY_PATH: 0x1000,
  // STATX_TYPE | STATX_MODE | STATX_INO
  STATX_BASIC: 0x1 | 0x2 | 0x100,
  SYS_pidfd_open: 434,
  SYS_pidfd_getfd: 438,
  PIDFS_MAGIC: 0x50494446,
  SOMAXCONN: 4096,
  CLOCK_MONOTONIC: 1,
  VMADDR_CID_ANY: 0xffffffff,
  SO_REUSEADDR: 2,
  SO_REUSEPORT: 15,
  SO_RCVTIMEO: 20,
  EPOLLEXCLUSIVE: 1 << 28,
  EPOLL_NOT_EXCLUSIVE: 0x2000 | 0x2,
  F_SETOWN: 8,
  F_SETSIG: 10,
  O_ASYNC: 0o20000,
  SIGURG: 23,
  PR_SET_CHILD_SUBREAPER: 36,
  WNOHANG: 1,
});

/** Darwin (macOS), from the SDK's `<sys/socket.h>`, `<sys/fcntl.h>`, `<poll.h>`. */
export const DARWIN: SystemConstants = Object.freeze({
  AF_UNSPEC: 0,
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 30,
  AF_NETLINK: 0,
  AF_VSOCK: 0,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0,
  SOCK_CLOEXEC: 0,
  SOL_SOCKET: 0xffff,
  SO_TYPE: 0x1008,
  SO_ERROR: 0x1007,
  SO_SNDBUF: 0x1001,
  SO_RCVBUF: 0x1002,
  SO_ACCEPTCONN: 0x0002,
  SO_PASSCRED: 0,
  SO_PEERCRED: 0,
  SO_SNDBUFFORCE: 0,
  SO_NOSIGPIPE: 0x1022,
  SCM_RIGHTS: 1,
  SCM_CREDENTIALS: 0,
  MSG_NOSIGNAL: 0,
  MSG_DONTWAIT: 0x80,
  MSG_TRUNC: 0x10,
  MSG_CTRUNC: 0x20,
  MSG_CMSG_CLOEXEC: 0,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  F_DUPFD_CLOEXEC: 67,
  FD_CLOEXEC: 1,
  O_NONBLOCK: 0x4,
  O_CLOEXEC: 0x1000000,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  EPOLL_CTL_ADD: 0,
  EPOLL_CTL_DEL: 0,
  S_IFMT: 0o170000,
  S_IFSOCK: 0o140000,
  S_IFIFO: 0o010000,
  S_IFREG: 0o100000,
  S_IFCHR: 0o020000,
  S_IFDIR: 0o040000,
  AT_EMPTY_PATH: 0,
  STATX_BASIC: 0,
  SYS_pidfd_open: 0,
  SYS_pidfd_getfd: 0,
  PIDFS_MAGIC: 0,
  SOMAXCONN: 128,
  CLOCK_MONOTONIC: 6,
  VMADDR_CID_ANY: 0xffffffff,
  SO_REUSEADDR: 0x4,
  SO_REUSEPORT: 0x200,
  SO_RCVTIMEO: 0x1006,
  EPOLLEXCLUSIVE: 0,
  EPOLL_NOT_EXCLUSIVE: 0,
  F_SETOWN: 6,
  F_SETSIG: 0,
  O_ASYNC: 0x40,
  SIGURG: 16,
  PR_SET_CHILD_SUBREAPER: 0,
  WNOHANG: 1,
});

/**
 * The constants for an operating system.
 *
 * @param os The operating system.
 * @returns Its constants.
 *
 * @example Linux's SOCK_CLOEXEC
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * constantsFor("linux").SOCK_CLOEXEC; // 0o2000000
 * ```
 */
export function constantsFor(os: OperatingSystem): SystemConstants {
  return os === "darwin" ? DARWIN : LINUX;
}
