/**
 * The one table of C functions handover calls, written once in neutral types
 * and mapped by each backend (`runtimes/*.ts`) into its FFI dialect.
 *
 * @module
 */

import { HandoverError } from "./errors.ts";
import type { Architecture, OperatingSystem, Platform } from "./platform.ts";

/**
 * The C types of the table, one per family the FFI dialects tell apart:
 * - `i32`, `u32`: `int`, `unsigned`, `socklen_t`, `pid_t`;
 * - `usize`, `isize`: `size_t`, `ssize_t`, `long`, passed and returned as JS numbers;
 * - `buffer`: a pointer to memory the caller owns, passed as a `Uint8Array` (or null);
 * - `pointer`: a raw address, passed and returned as a bigint (0n is NULL);
 * - `void`: no result.
 */
export type NativeType = "i32" | "u32" | "usize" | "isize" | "buffer" | "pointer" | "void";

/** One C function of a table. */
export interface SymbolDefinition {
  readonly parameters: readonly NativeType[];
  readonly result: NativeType;
  /** The function exists only on this operating system. */
  readonly os?: OperatingSystem;
  /** The exported name where it differs from the key, per `os-arch`. */
  readonly symbol?: Readonly<Partial<Record<`${OperatingSystem}-${Architecture}`, string>>>;
  /**
   * Index of the first variadic parameter (fcntl). Apple's arm64 ABI passes
   * variadic arguments on the stack, so there the backend pads the call with
   * unused register arguments until the variadic ones land on the stack.
   */
  readonly variadic?: number;
}

/** A table of C functions by name. */
export type SymbolTable = Readonly<Record<string, SymbolDefinition>>;

/**
 * The libc functions the core needs. Each parameter carries its C type.
 */
export const LIBC_SYMBOLS = {
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
  },
  syscall: {
    // Used only for pidfd_open(2), which musl does not wrap.
    parameters: [
      "isize", // long number
      "i32", // ... pid_t pid
      "u32", // ... unsigned int flags
    ],
    result: "isize",
    os: "linux",
  },
  open: {
    parameters: [
      "buffer", // const char *pathname
      "i32", // int flags
      "u32", // ... mode_t mode
    ],
    result: "i32",
    variadic: 2,
  },
  unlink: {
    parameters: [
      "buffer", // const char *pathname
    ],
    result: "i32",
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

type ParameterValue<T> = T extends "buffer" ? Uint8Array | null
  : T extends "pointer" ? bigint
  : number;

type ResultValue<T> = T extends "void" ? void : T extends "pointer" ? bigint : number;

type ParameterValues<P extends readonly NativeType[]> = { -readonly [I in keyof P]: ParameterValue<P[I]> };

/** The callable JS functions of a table, as every backend returns them. */
export type ForeignFunctions<T extends SymbolTable> = {
  readonly [K in keyof T]: (...args: ParameterValues<T[K]["parameters"]>) => ResultValue<T[K]["result"]>;
};

/** A function of a table resolved for one platform: what a backend binds. */
export interface ResolvedSymbol {
  /** The key in the table (what the core calls). */
  readonly name: string;
  /** The exported name in the library. */
  readonly symbol: string;
  /** The parameters to declare, padding included. */
  readonly parameters: readonly NativeType[];
  readonly result: NativeType;
  /** Where padding goes: index of the first variadic argument, or -1. */
  readonly padAt: number;
  /** How many zero arguments to insert at `padAt`. */
  readonly padCount: number;
}

/**
 * The functions of a table that exist on a platform, with their exported
 * names and the stack padding Apple's arm64 ABI needs for variadic calls.
 *
 * @param table The neutral table.
 * @param platform The platform to bind for.
 * @returns What a backend declares to its FFI.
 *
 * @example
 * ```ts
 * import { LIBC_SYMBOLS, resolveSymbols } from "./symbols.ts";
 * const linux = resolveSymbols(LIBC_SYMBOLS, { os: "linux", arch: "x86_64" });
 * linux.some((s) => s.name === "accept4"); // true
 * ```
 */
export function resolveSymbols(table: SymbolTable, platform: Platform): ResolvedSymbol[] {
  const resolved: ResolvedSymbol[] = [];
  for (const [name, definition] of Object.entries(table)) {
    if (definition.os !== undefined && definition.os !== platform.os) continue;
    const symbol = definition.symbol?.[`${platform.os}-${platform.arch}`] ?? name;
    let parameters: readonly NativeType[] = definition.parameters;
    let padAt = -1;
    let padCount = 0;
    if (definition.variadic !== undefined && platform.os === "darwin" && platform.arch === "aarch64") {
      // x0..x7 carry register arguments; fill them so the variadic ones go to the stack.
      padAt = definition.variadic;
      padCount = Math.max(0, 8 - definition.variadic);
      const padding: NativeType[] = new Array(padCount).fill("usize");
      parameters = [
        ...definition.parameters.slice(0, padAt),
        ...padding,
        // Each variadic argument takes a whole 8-byte stack slot.
        ...definition.parameters.slice(padAt).map((): NativeType => "usize"),
      ];
    }
    resolved.push({ name, symbol, parameters, result: definition.result, padAt, padCount });
  }
  return resolved;
}

/**
 * Wraps the raw functions a backend bound so that they follow the table's
 * JS types in every dialect: `isize` results as numbers, `pointer` results
 * as bigints, padding inserted where {@link resolveSymbols} asked for it.
 * Functions that need none of this are returned as they are (no extra call).
 *
 * @param resolved What the backend bound.
 * @param raw The functions its FFI returned, by name.
 * @returns The functions, typed by the table.
 *
 * @example
 * ```ts ignore
 * const libc = adaptFunctions<LibcSymbols>(resolveSymbols(LIBC_SYMBOLS, platform), lib.symbols);
 * ```
 */
export function adaptFunctions<T extends SymbolTable>(
  resolved: readonly ResolvedSymbol[],
  // deno-lint-ignore no-explicit-any
  raw: Readonly<Record<string, (...args: any[]) => any>>,
): ForeignFunctions<T> {
  // deno-lint-ignore no-explicit-any
  const functions: Record<string, (...args: any[]) => any> = {};
  for (const s of resolved) {
    const call = raw[s.name];
    if (typeof call !== "function") throw new TypeError(`The backend did not bind ${s.symbol}`);
    let fn = call;
    if (s.padCount > 0) {
      const { padAt, padCount } = s;
      const inner = fn;
      fn = (...args: unknown[]) =>
        inner(
          ...args.slice(0, padAt),
          ...new Array(padCount).fill(0),
          ...args.slice(padAt).map((a) => BigInt(a as number)),
        );
    }
    if (s.result === "isize") {
      const inner = fn;
      fn = (...args: unknown[]) => Number(inner(...args));
    } else if (s.result === "pointer") {
      const inner = fn;
      fn = (...args: unknown[]) => BigInt(inner(...args) ?? 0);
    }
    functions[s.name] = fn;
  }
  return functions as unknown as ForeignFunctions<T>;
}

/**
 * The functions of a table, each bound through `bindOne` the first time it
 * is used and adapted like {@link adaptFunctions}. A process that calls five
 * functions pays for five bindings, not for the whole table: in Deno each
 * binding compiles a trampoline (about 0.1 ms), which made loading the
 * backend the largest part of `collect()`'s start-up time.
 *
 * @param resolved The functions to offer (from {@link resolveSymbols}).
 * @param bindOne Binds one function through the runtime's FFI; may throw.
 * @param where The runtime and library, for the error when binding fails.
 * @returns The functions, typed by the table.
 * @throws {HandoverError} `ELIBACC` when a function is first used and cannot be bound.
 *
 * @example Bind libc lazily
 * ```ts ignore
 * const libc = lazyFunctions<LibcSymbols>(resolveSymbols(LIBC_SYMBOLS, platform), bindWithFfi, { runtime, path });
 * ```
 */
export function lazyFunctions<T extends SymbolTable>(
  resolved: readonly ResolvedSymbol[],
  // deno-lint-ignore no-explicit-any
  bindOne: (symbol: ResolvedSymbol) => (...args: any[]) => any,
  where: { readonly runtime: string; readonly path: string },
): ForeignFunctions<T> {
  const functions: Record<string, unknown> = {};
  for (const s of resolved) {
    Object.defineProperty(functions, s.name, {
      configurable: true,
      enumerable: true,
      get() {
        let bound;
        try {
          bound = adaptFunctions([s], { [s.name]: bindOne(s) })[s.name];
        } catch (cause) {
          throw new HandoverError(
            "ELIBACC",
            `handover's ${where.runtime} backend could not bind ${s.symbol} from ${where.path}: ${cause}`,
            { cause },
          );
        }
        Object.defineProperty(functions, s.name, {
          value: bound,
          enumerable: true,
          writable: false,
          configurable: false,
        });
        return bound;
      },
    });
  }
  return functions as ForeignFunctions<T>;
}

/**
 * Binds every function of a lazily bound table now, so that a library that
 * lacks one of them fails at once (for libraries other than libc, like
 * launchd's, which have only a few functions).
 *
 * @param functions What {@link lazyFunctions} returned.
 * @returns The same functions, all bound.
 * @throws {HandoverError} `ELIBACC` when one cannot be bound.
 *
 * @example
 * ```ts ignore
 * const launchd = bindAll(lazyFunctions<LaunchdSymbols>(resolved, bindOne, { runtime, path }));
 * ```
 */
export function bindAll<T extends SymbolTable>(functions: ForeignFunctions<T>): ForeignFunctions<T> {
  for (const name of Object.keys(functions)) void functions[name as keyof typeof functions];
  return functions;
}
