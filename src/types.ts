/**
 * The types the core and the runtimes share: the contract each runtime
 * implements (`Backend`, the stream and serving adapters), the neutral C
 * types of the symbol tables, and the values that cross between them. It
 * imports nothing.
 *
 * @module
 */

/** An operating system whose C structures and constants handover knows. */
export type OperatingSystem = "linux" | "darwin";

/** A processor whose C structure layouts handover knows. */
export type Architecture = "x86_64" | "aarch64";

/** The pair that decides every struct layout and constant. */
export interface Platform {
  /** The kernel: `linux` or `darwin` (macOS). */
  readonly os: OperatingSystem;
  /** The processor. */
  readonly arch: Architecture;
}

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
  /**
   * Called a few times in a process's life (adopting a socket, describing an
   * fd), never in a loop of requests or messages: a backend may bind it the
   * cheapest way at the cost of slower calls (Deno: no trampoline compiled
   * until its 64th call).
   */
  readonly rare?: true;
}

/** A table of C functions by name. */
export type SymbolTable = Readonly<Record<string, SymbolDefinition>>;

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
  /** See {@link SymbolDefinition.rare}. */
  readonly rare?: true;
}

/** A socket address, as handover reports and accepts it. */
export type SocketAddress =
  | {
    readonly family: "unix";
    /** A filesystem path, `@name` for Linux's abstract namespace, or "" when unnamed. */
    readonly path: string;
  }
  | { readonly family: "inet"; readonly address: string; readonly port: number }
  | {
    readonly family: "inet6";
    readonly address: string;
    readonly port: number;
    readonly flowinfo?: number;
    readonly scopeId?: number;
  }
  | { readonly family: "vsock"; readonly cid: number; readonly port: number }
  | { readonly family: "netlink" }
  | {
    readonly family: "other";
    /** The `AF_*` number. */
    readonly code: number;
  };

/** Credentials of a process, as in `struct ucred`. */
export interface Credentials {
  /** The process id. */
  readonly pid: number;
  /** The user id. */
  readonly uid: number;
  /** The group id. */
  readonly gid: number;
}

/** The kinds of fds handover tells apart. */
export type FdType = "stream" | "dgram" | "seqpacket" | "fifo" | "file" | "other";

/** The address families handover reports. */
export type FdFamily = "inet" | "inet6" | "unix" | "vsock" | "netlink" | "other";

/** What an fd is. */
export interface FdDescription {
  /** The file descriptor. */
  readonly fd: number;
  /** Socket type, or `fifo`, `file`, `other` for non-sockets. */
  readonly type: FdType;
  /** The address family, for sockets. */
  readonly family: FdFamily | undefined;
  /** True for a listening socket (`SO_ACCEPTCONN`). */
  readonly listening: boolean;
  /** The local address, for sockets. */
  readonly address: SocketAddress | undefined;
  /** The inode number (the fd store and `LISTEN_PIDFDID` compare these). */
  readonly inode: bigint;
}

/** What a server serves: HTTP and stream listeners take stream sockets, datagram sockets take datagram ones. */
export type ServerKind = "http" | "stream" | "dgram";

/** What an adopted socket is, once a server serves it. */
export interface AdoptedSocket {
  /** The fd number the server now serves the inherited socket on. */
  readonly fd: number;
  /** The inherited socket's local address (what clients connect to). */
  readonly address: SocketAddress;
  /** `stream` or `dgram`. */
  readonly type: "stream" | "dgram";
  /**
   * How it was done: `native` (the runtime took the fd itself, like Node's
   * `listen({ fd })`), `adopted` (SPEC §2.1), or `proxy` (the fallback accept
   * loop that forwards each connection to the server).
   */
  readonly method: "native" | "adopted" | "proxy";
}

/** The JavaScript runtimes handover has a backend for. */
export type RuntimeName = "deno" | "bun" | "node";

/** The environment of the process, as the runtime and its children see it. */
export interface ProcessEnvironment {
  /** The value of a variable, or undefined. */
  get(name: string): string | undefined;
  /**
   * The value of a variable when it can be read without asking (in Deno:
   * only with `--allow-env` for it already granted), else undefined. Never
   * throws and never prompts.
   */
  peek(name: string): string | undefined;
  /**
   * Removes a variable from the runtime's view and from the C environment,
   * so that children spawned afterwards by any API do not inherit it.
   */
  delete(name: string): void;
}

/** A C function as a runtime's FFI returns it, before {@link ResolvedSymbol}'s adaptation. */
// deno-lint-ignore no-explicit-any
export type RawFunction = (...args: any[]) => any;

/**
 * One runtime's FFI, reduced to what the core needs: bind one C function,
 * read errno, take the address of a buffer; and the few process facts the
 * runtime knows without a C call. The core (`src/ffi/`) builds the tables on it.
 */
export interface Backend {
  /** Which runtime this is. */
  readonly runtime: RuntimeName;
  /** The operating system and processor. */
  readonly platform: Platform;
  /** The path or name the C library was loaded from. */
  readonly libcPath: string;
  /**
   * Binds one function from a library (the C library at {@link libcPath}, or
   * another one, like launchd's stand-in).
   *
   * @throws {Error} When the library or the symbol cannot be loaded.
   */
  bind(path: string, symbol: ResolvedSymbol): RawFunction;
  /** The calling thread's errno, read right after a failed call. */
  errno(): number;
  /** The address of a buffer's first byte (its `byteOffset` included). */
  address(buffer: Uint8Array): bigint;
  /** The process environment. */
  readonly env: ProcessEnvironment;
  /** This process's id, from the runtime (no C call). */
  readonly pid: number;
  /** Ends the process with `code` (`Deno.exit`, `process.exit`). */
  exit(code: number): never;
  /**
   * Lets the process exit while a timer is pending: `timer.unref()` in Node
   * and Bun, `Deno.unrefTimer(id)` in Deno.
   *
   * @param timer What `setTimeout()` or `setInterval()` returned.
   */
  unrefTimer(timer: unknown): void;
  /**
   * Calls `listener` when the process gets `signal` (`process.on`,
   * `Deno.addSignalListener`); the listener does not keep the process alive.
   *
   * @returns A function that removes the listener.
   */
  onSignal(signal: "SIGTERM" | "SIGINT", listener: () => void): () => void;
}

/** What a backend module exports. */
export interface BackendModule {
  /** Loads the C library and returns the backend (called once). */
  createBackend(): Backend;
}

/** A connected socket as web streams. */
export interface SocketStream {
  /** Bytes from the peer; ends when the peer shuts down its side. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; closing it shuts down our sending side (the peer sees end of stream). */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the socket (and its fd) at once. */
  close(): Promise<void>;
}

/** What a runtime's stream adapter module exports. */
export interface StreamAdapterModule {
  /** Wraps a connected socket fd; the stream owns the fd afterwards. */
  openSocketStream(fd: number): Promise<SocketStream>;
}

/** A fetch-style request handler, as `Deno.serve`, `Bun.serve` and srvx take. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * How {@link adopt} and {@link serve} put a server on an inherited socket:
 * - `auto` (default): the runtime's native way where it has one (Node's
 *   `listen({ fd })`), else adoption (SPEC §2.1), else the fallback;
 * - `adopt`: adoption or the native way, never the fallback;
 * - `fallback`: the fallback only (for measuring it, or where adoption misbehaves).
 */
export type AdoptMode = "auto" | "adopt" | "fallback";

/** One socket a server from {@link serve} listens on. */
export interface ServedSocket {
  /** Its local address. */
  readonly address: SocketAddress;
  /** `native`, `adopted`, `proxy` or `node-http` for an inherited socket; `direct` for a port of its own. */
  readonly method: AdoptedSocket["method"] | "node-http" | "direct";
}

/** The requests a server is answering, as a drain sees them (see `src/serve/drain.ts`). */
export interface RequestCounts {
  /** Requests being answered now. */
  inflight: number;
  /** When the last request started (`Date.now()`). */
  lastStart: number;
  /** True once a drain began: responses from then on close their connection. */
  draining: boolean;
}

/**
 * What a runtime's serving adapter (`runtimes/<name>/serve.ts`) answers:
 * small questions about its own server objects. The sequence — adopt the
 * inherited socket, fall back where that cannot run, close on failure — is
 * written once, in the core (`src/serve/policy.ts`).
 */
export interface ServeAdapter {
  /** What kind of server `server` is, or undefined when this adapter does not know it. */
  kindOf(server: unknown): ServerKind | undefined;
  /**
   * The adapter that handles `server` instead of this one (`node:net`, `node:http` and `node:dgram` objects in
   * Deno and Bun go to the Node adapter), or undefined.
   */
  delegate?(server: unknown): Promise<ServeAdapter> | undefined;
  /** The server's local address, or undefined while it does not listen yet. */
  addressOf(server: unknown): SocketAddress | undefined;
  /** Makes a server that does not listen yet listen on `address` (port 0, or a temporary unix path). */
  listen?(server: unknown, address: SocketAddress): Promise<void>;
  /** The runtime's own `listen({ fd })`, where it has one that serves the fd (Node's, Deno's `node:net`). */
  listenFd?(server: unknown, fd: number): Promise<void>;
  /**
   * Stops the server: `force` after a failed adoption (its temporary socket must go now), otherwise gracefully
   * (running requests end).
   */
  close(server: unknown, force: boolean): Promise<void>;
  /** Resolves when the server has stopped, where the runtime tells. */
  finished?(server: unknown): Promise<void>;
  /**
   * Counts the requests of a server the application made, where the runtime
   * has a hook for them (`node:http`'s `request` event), and marks responses
   * `Connection: close` once a drain began.
   */
  trackRequests?(server: unknown): RequestCounts | undefined;
  /**
   * A server for a fetch handler, listening on `address`; or, when `address` is undefined (only where
   * {@link listenFd} exists), not listening yet.
   */
  createServer(handler: FetchHandler, address: SocketAddress | undefined): Promise<unknown>;
  /** Wraps a connected socket fd as streams (for the forwarder). */
  openSocketStream(fd: number): Promise<SocketStream>;
  /**
   * For a handler where adoption cannot run: the adapter whose {@link listenFd} serves the fd instead of a
   * forwarder (Deno: `node:http`).
   */
  fallbackAdapter?(): Promise<ServeAdapter>;
}
