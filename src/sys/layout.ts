/**
 * C structure layouts per operating system and processor, as named byte
 * offsets. Every struct the core reads or writes is described here and
 * nowhere else; `src/sys/sockaddr.ts`, `msghdr.ts`, `poll.ts` and `stat.ts` encode and decode with these tables.
 *
 * Sources: glibc and musl `<bits/socket.h>`, `<linux/vm_sockets.h>`,
 * `<sys/epoll.h>`, `<linux/stat.h>` (statx), and Darwin's `<sys/socket.h>`,
 * `<sys/un.h>`, `<sys/stat.h>`.
 *
 * @module
 */

import type { Platform } from "./platform.ts";

/** `struct sockaddr_un`. */
export interface SockaddrUnLayout {
  readonly size: number;
  /** Offset of `sun_len`, or -1 where there is none (Linux). */
  readonly len: number;
  readonly family: number;
  /** 2 on Linux (`sa_family_t` is 16 bits), 1 on Darwin. */
  readonly familySize: 1 | 2;
  readonly path: number;
  /** Bytes in `sun_path`. */
  readonly pathSize: number;
}

/** `struct sockaddr_in`. */
export interface SockaddrInLayout {
  readonly size: number;
  readonly len: number;
  readonly family: number;
  readonly familySize: 1 | 2;
  /** Big-endian. */
  readonly port: number;
  readonly addr: number;
}

/** `struct sockaddr_in6`. */
export interface SockaddrIn6Layout {
  readonly size: number;
  readonly len: number;
  readonly family: number;
  readonly familySize: 1 | 2;
  readonly port: number;
  readonly flowinfo: number;
  readonly addr: number;
  readonly scopeId: number;
}

/** `struct sockaddr_vm` (Linux only). */
export interface SockaddrVmLayout {
  readonly size: number;
  readonly family: number;
  readonly port: number;
  readonly cid: number;
}

/** `struct msghdr`. */
export interface MsghdrLayout {
  readonly size: number;
  readonly name: number;
  readonly namelen: number;
  readonly iov: number;
  readonly iovlen: number;
  /** 8 (`size_t`, glibc) or 4 (`int`, Darwin; musl pads it to 8 with zeros). */
  readonly iovlenSize: 4 | 8;
  readonly control: number;
  readonly controllen: number;
  readonly controllenSize: 4 | 8;
  readonly flags: number;
}

/** `struct iovec`. */
export interface IovecLayout {
  readonly size: number;
  readonly base: number;
  readonly len: number;
}

/** `struct cmsghdr` and the `CMSG_*` macros. */
export interface CmsghdrLayout {
  /** `CMSG_LEN(0)`: the header before the data. */
  readonly header: number;
  readonly len: number;
  readonly lenSize: 4 | 8;
  readonly level: number;
  readonly type: number;
  /** The alignment `CMSG_ALIGN` rounds to. */
  readonly align: number;
}

/** `struct ucred` (Linux SCM_CREDENTIALS). */
export interface UcredLayout {
  readonly size: number;
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** `struct timespec` (64-bit `time_t` and `long` on every supported platform). */
export interface TimespecLayout {
  readonly size: number;
  readonly sec: number;
  readonly nsec: number;
}

/** `struct pollfd`. */
export interface PollfdLayout {
  readonly size: number;
  readonly fd: number;
  readonly events: number;
  readonly revents: number;
}

/** `struct epoll_event` (packed on x86_64, padded on aarch64). */
export interface EpollEventLayout {
  readonly size: number;
  readonly events: number;
  readonly data: number;
}

/** The file status structure: `struct statx` on Linux, `struct stat` (64-bit inodes) on Darwin. */
export interface StatLayout {
  readonly size: number;
  readonly mode: number;
  readonly ino: number;
}

/** `struct statfs` (Linux fstatfs(2); only `f_type` is read). */
export interface StatfsLayout {
  readonly size: number;
  /** `f_type`, a `__fsword_t` (8 bytes on 64-bit Linux). */
  readonly type: number;
}

/** Every layout of one platform. */
export interface StructLayouts {
  readonly pointerSize: 8;
  readonly sockaddrStorageSize: number;
  readonly sockaddrUn: SockaddrUnLayout;
  readonly sockaddrIn: SockaddrInLayout;
  readonly sockaddrIn6: SockaddrIn6Layout;
  /** Undefined where there is no AF_VSOCK (Darwin). */
  readonly sockaddrVm: SockaddrVmLayout | undefined;
  readonly msghdr: MsghdrLayout;
  readonly iovec: IovecLayout;
  readonly cmsghdr: CmsghdrLayout;
  /** Undefined where there is no SCM_CREDENTIALS (Darwin). */
  readonly ucred: UcredLayout | undefined;
  readonly pollfd: PollfdLayout;
  readonly timespec: TimespecLayout;
  /** Undefined where there is no epoll (Darwin). */
  readonly epollEvent: EpollEventLayout | undefined;
  readonly stat: StatLayout;
  /** Undefined where handover does not call fstatfs(2) (Darwin). */
  readonly statfs: StatfsLayout | undefined;
}

const LINUX_COMMON = {
  pointerSize: 8,
  sockaddrStorageSize: 128,
  sockaddrUn: { size: 110, len: -1, family: 0, familySize: 2, path: 2, pathSize: 108 },
  sockaddrIn: { size: 16, len: -1, family: 0, familySize: 2, port: 2, addr: 4 },
  sockaddrIn6: { size: 28, len: -1, family: 0, familySize: 2, port: 2, flowinfo: 4, addr: 8, scopeId: 24 },
  sockaddrVm: { size: 16, family: 0, port: 4, cid: 8 },
  msghdr: {
    size: 56,
    name: 0,
    namelen: 8,
    iov: 16,
    iovlen: 24,
    iovlenSize: 8,
    control: 32,
    controllen: 40,
    controllenSize: 8,
    flags: 48,
  },
  iovec: { size: 16, base: 0, len: 8 },
  cmsghdr: { header: 16, len: 0, lenSize: 8, level: 8, type: 12, align: 8 },
  ucred: { size: 12, pid: 0, uid: 4, gid: 8 },
  pollfd: { size: 8, fd: 0, events: 4, revents: 6 },
  timespec: { size: 16, sec: 0, nsec: 8 },
  // struct statx: stx_mode (u16) at 0x1c, stx_ino (u64) at 0x20; 256 bytes in all.
  stat: { size: 256, mode: 0x1c, ino: 0x20 },
  statfs: { size: 120, type: 0 },
} as const;

const LINUX_X86_64: StructLayouts = Object.freeze<StructLayouts>({
  ...LINUX_COMMON,
  // __attribute__((packed)) on x86_64: the 64-bit data follows the events at 4.
  epollEvent: { size: 12, events: 0, data: 4 },
});

const LINUX_AARCH64: StructLayouts = Object.freeze<StructLayouts>({
  ...LINUX_COMMON,
  epollEvent: { size: 16, events: 0, data: 8 },
});

const DARWIN_64: StructLayouts = Object.freeze<StructLayouts>({
  pointerSize: 8,
  sockaddrStorageSize: 128,
  sockaddrUn: { size: 106, len: 0, family: 1, familySize: 1, path: 2, pathSize: 104 },
  sockaddrIn: { size: 16, len: 0, family: 1, familySize: 1, port: 2, addr: 4 },
  sockaddrIn6: { size: 28, len: 0, family: 1, familySize: 1, port: 2, flowinfo: 4, addr: 8, scopeId: 24 },
  sockaddrVm: undefined,
  msghdr: {
    size: 48,
    name: 0,
    namelen: 8,
    iov: 16,
    iovlen: 24,
    iovlenSize: 4,
    control: 32,
    controllen: 40,
    controllenSize: 4,
    flags: 44,
  },
  iovec: { size: 16, base: 0, len: 8 },
  // Darwin aligns control messages to 4 bytes and its cmsg_len is a 32-bit socklen_t.
  cmsghdr: { header: 12, len: 0, lenSize: 4, level: 4, type: 8, align: 4 },
  ucred: undefined,
  pollfd: { size: 8, fd: 0, events: 4, revents: 6 },
  timespec: { size: 16, sec: 0, nsec: 8 },
  epollEvent: undefined,
  // struct stat with 64-bit inodes: st_dev (i32) at 0, st_mode (u16) at 4, st_ino (u64) at 8.
  stat: { size: 144, mode: 4, ino: 8 },
  statfs: undefined,
});

/**
 * The struct layouts of a platform.
 *
 * @param platform The operating system and processor.
 * @returns The layouts.
 *
 * @example The size of `struct epoll_event` on x86_64
 * ```ts
 * import { layoutsFor } from "./layout.ts";
 * layoutsFor({ os: "linux", arch: "x86_64" }).epollEvent?.size; // 12
 * ```
 */
export function layoutsFor(platform: Platform): StructLayouts {
  if (platform.os === "darwin") return DARWIN_64;
  return platform.arch === "aarch64" ? LINUX_AARCH64 : LINUX_X86_64;
}
