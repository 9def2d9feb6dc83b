/**
 * The one error class of handover, shaped like Node's system errors. (A
 * failed C call becomes one in `src/sys/errno.ts`, with the errno tables, which
 * the start-up path does not load.)
 *
 * @module
 */

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
