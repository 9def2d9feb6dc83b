/**
 * errno numbers and their names, per operating system (`<errno.h>` of Linux
 * and of Darwin differ above 34).
 *
 * @module
 */

import { HandoverError } from "./errors.ts";
import type { OperatingSystem } from "./platform.ts";

/** The names handover gives errno values, with a short description each. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EINTR: "interrupted system call",
  EIO: "input/output error",
  ENXIO: "no such device or address",
  E2BIG: "argument list too long",
  EBADF: "bad file descriptor",
  ECHILD: "no child processes",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  ENODEV: "no such device",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EINVAL: "invalid argument",
  ENFILE: "too many open files in system",
  EMFILE: "too many open files",
  ENOTTY: "inappropriate ioctl for device",
  ENOSPC: "no space left on device",
  ESPIPE: "illegal seek",
  EPIPE: "broken pipe",
  ERANGE: "numerical result out of range",
  EDEADLK: "resource deadlock avoided",
  ENAMETOOLONG: "file name too long",
  ENOSYS: "function not implemented",
  ENOTEMPTY: "directory not empty",
  ELOOP: "too many levels of symbolic links",
  ENOTSOCK: "socket operation on non-socket",
  EDESTADDRREQ: "destination address required",
  EMSGSIZE: "message too long",
  EPROTOTYPE: "protocol wrong type for socket",
  ENOPROTOOPT: "protocol not available",
  EPROTONOSUPPORT: "protocol not supported",
  ESOCKTNOSUPPORT: "socket type not supported",
  EOPNOTSUPP: "operation not supported",
  ENOTSUP: "operation not supported",
  EPFNOSUPPORT: "protocol family not supported",
  EAFNOSUPPORT: "address family not supported by protocol",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "cannot assign requested address",
  ENETDOWN: "network is down",
  ENETUNREACH: "network is unreachable",
  ECONNABORTED: "software caused connection abort",
  ECONNRESET: "connection reset by peer",
  ENOBUFS: "no buffer space available",
  EISCONN: "transport endpoint is already connected",
  ENOTCONN: "transport endpoint is not connected",
  ETIMEDOUT: "connection timed out",
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "no route to host",
  EALREADY: "operation already in progress",
  EINPROGRESS: "operation now in progress",
  ECANCELED: "operation canceled",
  ELIBACC: "can not access a needed shared library",
};

const LINUX_ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ESPIPE: 29,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ELIBACC: 79,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ECANCELED: 125,
};

const DARWIN_ERRNO: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ECHILD: 10,
  EDEADLK: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ESPIPE: 29,
  EPIPE: 32,
  ERANGE: 34,
  EAGAIN: 35,
  EINPROGRESS: 36,
  EALREADY: 37,
  ENOTSOCK: 38,
  EDESTADDRREQ: 39,
  EMSGSIZE: 40,
  EPROTOTYPE: 41,
  ENOPROTOOPT: 42,
  EPROTONOSUPPORT: 43,
  ESOCKTNOSUPPORT: 44,
  ENOTSUP: 45,
  EPFNOSUPPORT: 46,
  EAFNOSUPPORT: 47,
  EADDRINUSE: 48,
  EADDRNOTAVAIL: 49,
  ENETDOWN: 50,
  ENETUNREACH: 51,
  ECONNABORTED: 53,
  ECONNRESET: 54,
  ENOBUFS: 55,
  EISCONN: 56,
  ENOTCONN: 57,
  ETIMEDOUT: 60,
  ECONNREFUSED: 61,
  ELOOP: 62,
  ENAMETOOLONG: 63,
  EHOSTUNREACH: 65,
  ENOTEMPTY: 66,
  ENOSYS: 78,
  ECANCELED: 89,
  EOPNOTSUPP: 102,
};

function invert(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map(Object.entries(table).map(([name, value]) => [value, name]));
}

// Built at the first failure, not at start-up: most processes never need them.
const names: Partial<Record<OperatingSystem, ReadonlyMap<number, string>>> = {};

const NUMBERS: Readonly<Record<OperatingSystem, Readonly<Record<string, number>>>> = {
  linux: LINUX_ERRNO,
  darwin: DARWIN_ERRNO,
};

/**
 * The symbolic name of an errno value, `E<number>` when handover does not know it.
 *
 * @param os The operating system whose numbering applies.
 * @param errno The positive errno value.
 * @returns Its name, like `ENOENT`.
 *
 * @example Linux's 24
 * ```ts
 * import { errnoName } from "./errno.ts";
 * errnoName("linux", 24); // "EMFILE"
 * ```
 */
export function errnoName(os: OperatingSystem, errno: number): string {
  names[os] ??= invert(NUMBERS[os]);
  return names[os].get(errno) ?? `E${errno}`;
}

/**
 * The errno value of a name on an operating system, or undefined.
 *
 * @param os The operating system whose numbering applies.
 * @param name The name, like `EALREADY`.
 * @returns The positive value.
 *
 * @example Darwin's EAGAIN
 * ```ts
 * import { errnoNumber } from "./errno.ts";
 * errnoNumber("darwin", "EAGAIN"); // 35
 * ```
 */
export function errnoNumber(os: OperatingSystem, name: string): number | undefined {
  return NUMBERS[os][name];
}

/**
 * A short lower-case description of an errno name, like strerror(3).
 *
 * @param name The errno name.
 * @returns The description, or the name itself when unknown.
 *
 * @example
 * ```ts
 * import { describeErrno } from "./errno.ts";
 * describeErrno("EMFILE"); // "too many open files"
 * ```
 */
export function describeErrno(name: string): string {
  return DESCRIPTIONS[name] ?? name;
}

/**
 * Builds the error for a C call that failed with `errno`.
 *
 * @param os The operating system whose errno numbering applies.
 * @param syscall The C function that failed.
 * @param errno Its errno.
 * @param context Words about what was being done, appended to the message.
 * @returns The error, with `code`, `errno` and `syscall` set.
 *
 * @example
 * ```ts
 * import { errnoError } from "./errno.ts";
 * const error = errnoError("linux", "socket", 24);
 * error.code; // "EMFILE"
 * ```
 */
export function errnoError(
  os: OperatingSystem,
  syscall: string,
  errno: number,
  context?: string,
): HandoverError {
  const code = errnoName(os, errno);
  const where = context === undefined ? "" : ` (${context})`;
  return new HandoverError(code, `${syscall}() failed with ${code}: ${describeErrno(code)}${where}`, {
    errno,
    syscall,
  });
}
