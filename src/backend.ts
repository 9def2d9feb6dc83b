/**
 * The contract every runtime backend (`runtimes/deno.ts`, `runtimes/bun.ts`,
 * `runtimes/node.ts`) implements: bind a neutral symbol table through the
 * runtime's FFI, read errno, take the address of a buffer. Nothing else.
 *
 * @module
 */

import type { AdoptedSocket, ServerKind } from "./adopt.ts";
import type { FdDescription } from "./inspect.ts";
import type { OperatingSystem, Platform } from "./platform.ts";
import type { SocketAddress } from "./structs.ts";
import type { ForeignFunctions, LibcSymbols, SymbolTable } from "./symbols.ts";

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

/**
 * The few C calls socket activation makes at start-up (`src/collect.ts`):
 * what the start-up path (`handover/activation`) loads instead of a whole
 * backend. `runtimes/*_startup.ts` implement it with the C library opened for
 * `fcntl` alone; a full {@link Backend} provides it too (`src/system.ts`).
 */
export interface StartupCalls {
  /** Which runtime this is. */
  readonly runtime: RuntimeName;
  /** The operating system. */
  readonly os: OperatingSystem;
  /** This process's id, from the runtime (no C call). */
  readonly pid: number;
  /** The process environment. */
  readonly env: ProcessEnvironment;
  /** `fcntl(2)` with an `int` argument. */
  fcntl(fd: number, command: number, argument: number): number;
  /** The calling thread's errno, read right after a failed call. */
  errno(): number;
}

/** What a start-up module (`runtimes/*_startup.ts`) exports. */
export interface StartupModule {
  /** Opens the C library for the start-up calls (called once). */
  createStartupCalls(): StartupCalls;
}

/** One runtime's FFI, reduced to what the core needs. */
export interface Backend {
  /** Which runtime this is. */
  readonly runtime: RuntimeName;
  /** The operating system and processor. */
  readonly platform: Platform;
  /** The path or name the C library was loaded from. */
  readonly libcPath: string;
  /** The libc functions of {@link LIBC_SYMBOLS} that exist on this platform. */
  readonly libc: ForeignFunctions<LibcSymbols>;
  /**
   * Binds a table from another library (launchd's in libSystem, or a test's stand-in).
   *
   * @throws {HandoverError} `ELIBACC` when the library or a symbol cannot be loaded.
   */
  open<T extends SymbolTable>(path: string, table: T): ForeignFunctions<T>;
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

/** A server's handle, from a runtime's serving adapter. */
export interface ServerHandle {
  readonly socket: ServedSocket;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets running requests end, releases the socket. */
  close(): Promise<void>;
}

/** What a runtime's serving adapter (`runtimes/*_serve.ts`) exports. */
export interface ServeAdapterModule {
  /** Makes `server` serve the inherited socket; closes `server` when that fails. */
  adopt(server: unknown, inherited: FdDescription, mode: AdoptMode): Promise<AdoptedSocket>;
  /** Stops a server (after a failed adoption, so that its temporary listener does not stay open). */
  closeServer(server: unknown): Promise<void>;
  /** What kind of server `server` is, or undefined when the adapter does not know it. */
  kindOf(server: unknown): ServerKind | undefined;
  /** Serves `handler` on an inherited stream socket. */
  serveInherited(handler: FetchHandler, inherited: FdDescription, mode: AdoptMode): Promise<ServerHandle>;
  /** Serves `handler` on a port of its own. */
  serveAddress(handler: FetchHandler, hostname: string, port: number): Promise<ServerHandle>;
}
