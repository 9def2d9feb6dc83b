/**
 * The one table of C functions handover calls, written once in the neutral
 * types of `src/types.ts` and mapped by each runtime (`runtimes/<name>/ffi.ts`)
 * into its FFI dialect. Each function is bound at its first use, so a process
 * pays only for what it calls.
 *
 * @module
 */

import type { SymbolTable } from "../types.ts";

/**
 * The libc functions the core needs. Each parameter carries its C type.
 */
export const LIBC_SYMBOLS = {
  errnoLocation: {
    parameters: [],
    // int * (the calling thread's errno)
    result: "pointer",
    symbol: {
      "linux-x86_64": "__errno_location",
      "linux-aarch64": "__errno_location",
      "darwin-x86_64": "__error",
      "darwin-aarch64": "__error",
    },
  },
  getpid: { parameters: [], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  getegid: { parameters: [], result: "u32" },
  clock_gettime: {
    parameters: [
      "i32", // clockid_t clockid
      "buffer", // struct timespec *tp
    ],
    result: "i32",
  },
  socket: {
    parameters: [
      "i32", // int domain
      "i32", // int type
      "i32", // int protocol
    ],
    result: "i32",
  },
  socketpair: {
    parameters: [
      "i32", // int domain
      "i32", // int type
      "i32", // int protocol
      "buffer", // int sv[2]
    ],
    result: "i32",
  },
  bind: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const struct sockaddr *addr
      "u32", // socklen_t addrlen
    ],
    result: "i32",
  },
  listen: {
    parameters: [
      "i32", // int sockfd
      "i32", // int backlog
    ],
    result: "i32",
  },
  accept4: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
      "i32", // int flags
    ],
    result: "i32",
    os: "linux",
  },
  accept: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
    ],
    result: "i32",
  },
  connect: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const struct sockaddr *addr
      "u32", // socklen_t addrlen
    ],
    result: "i32",
  },
  shutdown: {
    parameters: [
      "i32", // int sockfd
      "i32", // int how
    ],
    result: "i32",
  },
  sendmsg: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const struct msghdr *msg
      "i32", // int flags
    ],
    result: "isize",
  },
  recvmsg: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct msghdr *msg
      "i32", // int flags
    ],
    result: "isize",
  },
  sendto: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const void *buf
      "usize", // size_t len
      "i32", // int flags
      "buffer", // const struct sockaddr *dest_addr
      "u32", // socklen_t addrlen
    ],
    result: "isize",
  },
  read: {
    parameters: [
      "i32", // int fd
      "buffer", // void *buf
      "usize", // size_t count
    ],
    result: "isize",
    rare: true,
  },
  getdents64: {
    parameters: [
      "i32", // int fd
      "buffer", // void *dirp
      "usize", // size_t count
    ],
    result: "isize",
    os: "linux",
    rare: true,
  },
  write: {
    parameters: [
      "i32", // int fd
      "buffer", // const void *buf
      "usize", // size_t count
    ],
    result: "isize",
  },
  close: {
    parameters: [
      "i32", // int fd
    ],
    result: "i32",
  },
  fcntl: {
    parameters: [
      "i32", // int fd
      "i32", // int cmd
      "i32", // ... int arg
    ],
    result: "i32",
    variadic: 2,
  },
  dup3: {
    parameters: [
      "i32", // int oldfd
      "i32", // int newfd
      "i32", // int flags
    ],
    result: "i32",
    os: "linux",
    rare: true,
  },
  dup2: {
    parameters: [
      "i32", // int oldfd
      "i32", // int newfd
    ],
    result: "i32",
  },
  pipe2: {
    parameters: [
      "buffer", // int pipefd[2]
      "i32", // int flags
    ],
    result: "i32",
    os: "linux",
  },
  pipe: {
    parameters: [
      "buffer", // int pipefd[2]
    ],
    result: "i32",
  },
  poll: {
    parameters: [
      "buffer", // struct pollfd *fds
      "usize", // nfds_t nfds
      "i32", // int timeout
    ],
    result: "i32",
  },
  getsockname: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
    ],
    result: "i32",
    rare: true,
  },
  getpeername: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
    ],
    result: "i32",
  },
  getsockopt: {
    parameters: [
      "i32", // int sockfd
      "i32", // int level
      "i32", // int optname
      "buffer", // void *optval
      "buffer", // socklen_t *optlen
    ],
    result: "i32",
    rare: true,
  },
  setsockopt: {
    parameters: [
      "i32", // int sockfd
      "i32", // int level
      "i32", // int optname
      "buffer", // const void *optval
      "u32", // socklen_t optlen
    ],
    result: "i32",
  },
  statx: {
    parameters: [
      "i32", // int dirfd
      "buffer", // const char *pathname
      "i32", // int flags
      "u32", // unsigned int mask
      "buffer", // struct statx *statxbuf
    ],
    result: "i32",
    os: "linux",
    rare: true,
  },
  fstat: {
    parameters: [
      "i32", // int fd
      "buffer", // struct stat *statbuf
    ],
    result: "i32",
    os: "darwin",
    symbol: { "darwin-x86_64": "fstat$INODE64" },
  },
  fstatfs: {
    parameters: [
      "i32", // int fd
      "buffer", // struct statfs *buf
    ],
    result: "i32",
    os: "linux",
  },
  epoll_ctl: {
    parameters: [
      "i32", // int epfd
      "i32", // int op
      "i32", // int fd
      "buffer", // struct epoll_event *event
    ],
    result: "i32",
    os: "linux",
    rare: true,
  },
  syscall: {
    // Used only for pidfd_open(2) and pidfd_getfd(2), which musl does not wrap; pidfd_open takes no fourth (0).
    parameters: [
      "isize", // long number
      "i32", // ... pid_t pid (pidfd_open), int pidfd (pidfd_getfd)
      "i32", // ... unsigned int flags (pidfd_open), int targetfd (pidfd_getfd)
      "u32", // ... unsigned int flags (pidfd_getfd)
    ],
    result: "isize",
    os: "linux",
  },
  prctl: {
    parameters: [
      "i32", // int option
      "usize", // ... unsigned long arg2
    ],
    result: "i32",
    os: "linux",
    variadic: 1,
  },
  waitpid: {
    parameters: [
      "i32", // pid_t pid
      "buffer", // int *wstatus
      "i32", // int options
    ],
    result: "i32",
  },
  open: {
    parameters: [
      "buffer", // const char *pathname
      "i32", // int flags
      "u32", // ... mode_t mode
    ],
    result: "i32",
    variadic: 2,
    rare: true,
  },
  unlink: {
    parameters: [
      "buffer", // const char *pathname
    ],
    result: "i32",
    rare: true,
  },
  unsetenv: {
    parameters: [
      "buffer", // const char *name
    ],
    result: "i32",
  },
  memcpy: {
    parameters: [
      "buffer", // void *dest
      "pointer", // const void *src
      "usize", // size_t n
    ],
    result: "void",
  },
  free: {
    parameters: [
      "pointer", // void *ptr
    ],
    result: "void",
  },
} as const;

/**
 * The launchd check-in function, in libSystem on macOS (or a stand-in library
 * in tests), and the `free` of the same library, which releases the array it
 * returns (on macOS libSystem is the C library, so this is libc's `free`).
 */
export const LAUNCHD_SYMBOLS = {
  launch_activate_socket: {
    parameters: [
      "buffer", // const char *name
      "buffer", // int **fds
      "buffer", // size_t *cnt
    ],
    result: "i32",
  },
  free: {
    parameters: [
      "pointer", // void *ptr
    ],
    result: "void",
  },
} as const;

// Both tables must be valid symbol tables; `satisfies` would hide their literal types from isolated declarations.
const _libcIsATable: SymbolTable = LIBC_SYMBOLS;
const _launchdIsATable: SymbolTable = LAUNCHD_SYMBOLS;
void _libcIsATable;
void _launchdIsATable;

/** The launchd table's type. */
export type LaunchdSymbols = typeof LAUNCHD_SYMBOLS;

/** The libc table's type. */
export type LibcSymbols = typeof LIBC_SYMBOLS;
