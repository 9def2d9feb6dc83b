/**
 * errno numbers and their names, per operating system (`<errno.h>` of Linux
 * and of Darwin differ above 34), from the generated tables of
 * `./errno_table.ts`, which hold every name of both.
 *
 * @module
 */

import { DARWIN_ERRNO, ERRNO_DESCRIPTIONS, LINUX_ERRNO } from "./errno_table.ts";
import { HandoverError } from "./errors.ts";
import type { OperatingSystem } from "./platform.ts";

/** Number to name; the table lists each number's canonical name before its aliases, and the first one wins. */
function invert(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(table)) if (!names.has(value)) names.set(value, name);
  return names;
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
  const table = NUMBERS[os];
  return Object.hasOwn(table, name) ? table[name] : undefined;
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
  return Object.hasOwn(ERRNO_DESCRIPTIONS, name) ? ERRNO_DESCRIPTIONS[name]! : name;
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
