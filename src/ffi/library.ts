/**
 * Finding the C library, the same way in every backend.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import type { Platform } from "../sys/platform.ts";

/**
 * The names to try for the C library, in order: glibc's soname, musl's
 * (Alpine), then the musl loader path, or libSystem on macOS.
 *
 * @param platform The platform.
 * @returns Library names or paths for dlopen.
 *
 * @example
 * ```ts
 * import { libcCandidates } from "./library.ts";
 * libcCandidates({ os: "linux", arch: "x86_64" })[0]; // "libc.so.6"
 * ```
 */
export function libcCandidates(platform: Platform): readonly string[] {
  if (platform.os === "darwin") return ["/usr/lib/libSystem.B.dylib", "libSystem.B.dylib"];
  return [
    "libc.so.6",
    `libc.musl-${platform.arch}.so.1`,
    `/lib/ld-musl-${platform.arch}.so.1`,
    "libc.so",
  ];
}

/**
 * Opens the first library of `candidates` that loads.
 *
 * @param runtime Which backend is loading, for the error message.
 * @param what What the library is, for the error message ("the C library").
 * @param candidates Names or paths to try in order.
 * @param open The runtime's dlopen; throws when a candidate does not load.
 * @returns The opened library and the candidate that worked.
 * @throws {HandoverError} `ELIBACC` naming the runtime, every candidate and why each failed.
 *
 * @example
 * ```ts
 * import { openFirst } from "./library.ts";
 * const { path } = openFirst("node", "a test library", ["a", "b"], (p) => {
 *   if (p === "a") throw new Error("not here");
 *   return p;
 * });
 * path; // "b"
 * ```
 */
export function openFirst<L>(
  runtime: string,
  what: string,
  candidates: readonly string[],
  open: (path: string) => L,
): { library: L; path: string } {
  const failures: string[] = [];
  const causes: unknown[] = [];
  for (const path of candidates) {
    try {
      return { library: open(path), path };
    } catch (error) {
      causes.push(error);
      failures.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new HandoverError(
    "ELIBACC",
    `handover's ${runtime} backend could not load ${what}; tried ${failures.join("; ")}`,
    { cause: causes.length === 1 ? causes[0] : new AggregateError(causes) },
  );
}
