/**
 * The C functions socket activation calls at start-up, the only ones the
 * start-up path (`runtimes/*_startup.ts`) binds: `fcntl` to mark the passed
 * fds close-on-exec, `unsetenv` where the runtime's environment does not
 * reach C's (Bun), and the errno location. `src/symbols.ts` takes `fcntl` and
 * `unsetenv` from here.
 *
 * @module
 */

import type { SymbolTable } from "./ffi.ts";

/** The start-up table, in the neutral types of `src/ffi.ts`. */
export const STARTUP_SYMBOLS = {
  fcntl: {
    parameters: [
      "i32", // int fd
      "i32", // int cmd
      "i32", // ... int arg
    ],
    result: "i32",
    variadic: 2,
  },
  unsetenv: {
    parameters: [
      "buffer", // const char *name
    ],
    result: "i32",
  },
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
} as const;

// A valid symbol table; `satisfies` would hide its literal types from isolated declarations.
const _startupIsATable: SymbolTable = STARTUP_SYMBOLS;
void _startupIsATable;

/** The start-up table's type. */
export type StartupSymbols = typeof STARTUP_SYMBOLS;

/**
 * The F_GETFD/F_SETFD commands, the FD_CLOEXEC flag and EBADF, the one errno
 * those commands fail with: the same numbers on Linux and macOS (a test
 * checks them against `src/constants.ts` and `src/errno.ts`).
 */
export const FD_FLAG_COMMANDS: {
  readonly F_GETFD: 1;
  readonly F_SETFD: 2;
  readonly FD_CLOEXEC: 1;
  readonly EBADF: 9;
} = Object.freeze({ F_GETFD: 1, F_SETFD: 2, FD_CLOEXEC: 1, EBADF: 9 });
