/**
 * The one error class of handover, shaped like Node's system errors, and the
 * one place where a failed C call becomes one.
 *
 * @module
 */

import { describeErrno, errnoName } from "./errno.ts";
import type { OperatingSystem } from "./platform.ts";

/** What {@link HandoverError} takes besides its code and message. */
export interface HandoverErrorOptions {
  /** The C errno value (positive, as in `<errno.h>` and `os.constants.errno`), when a call failed. */
  readonly errno?: number;
  /** The C function that failed, like `socketpair`. */
  readonly syscall?: string;
  /** What led to this error. */
  readonly cause?: unknown;
}

/**
 * The error handover throws, shaped like Node's system errors: `code` is a
 * name like `"ENOENT"`, `errno` the C errno value when a call into libc
 * failed, and `syscall` the function that failed.
 *
 * Bad arguments throw the built-in `TypeError` or `RangeError` instead.
 *
 * @example Tell "not started by a service manager" apart
 * ```ts
 * import { HandoverError } from "./errors.ts";
 * try {
 *   throw new HandoverError("ESRCH", "not started by a service manager");
 * } catch (error) {
 *   if (error instanceof HandoverError && error.code === "ESRCH") {
 *     // serve on a port of our own instead
 *   }
 * }
 * ```
 */
export class HandoverError extends Error {
  /** The symbolic code, like `"ENOENT"` or `"EALREADY"`. */
  readonly code: string;
  /** The C errno value, when a call into libc failed. */
  readonly errno: number | undefined;
  /** The C function that failed, when one did. */
  readonly syscall: string | undefined;

  /**
   * Creates an error.
   *
   * @param code The symbolic code, like `"ENOENT"`.
   * @param message What was expected and what was found, in sentence case without a final period.
   * @param options The errno, the failed call and the cause.
   */
  constructor(code: string, message: string, options: HandoverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HandoverError";
    this.code = code;
    this.errno = options.errno;
    this.syscall = options.syscall;
  }
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
 * import { errnoError } from "./errors.ts";
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
