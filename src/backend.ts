/**
 * The contract every runtime backend (`runtimes/deno.ts`, `runtimes/bun.ts`,
 * `runtimes/node.ts`) implements: bind a neutral symbol table through the
 * runtime's FFI, read errno, take the address of a buffer. Nothing else.
 *
 * @module
 */

import type { Platform } from "./platform.ts";
import type { ForeignFunctions, LibcSymbols, SymbolTable } from "./symbols.ts";

/** The JavaScript runtimes handover has a backend for. */
export type RuntimeName = "deno" | "bun" | "node";

/** The environment of the process, as the runtime and its children see it. */
export interface ProcessEnvironment {
  /** The value of a variable, or undefined. */
  get(name: string): string | undefined;
  /**
   * Removes a variable from the runtime's view and from the C environment,
   * so that children spawned afterwards by any API do not inherit it.
   */
  delete(name: string): void;
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
