/**
 * Reading `/proc` files through one buffer. `readFileSync()` of a file that
 * reports a size of 0, as every `/proc` file does, reads through a new 64 KiB
 * buffer each time, and malloc keeps that memory after the buffer is
 * collected: a launcher that reads the stat file of every process each second
 * grew by megabytes. Reads here go through one buffer, reused (they are
 * synchronous, so nothing else uses it meanwhile).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { closeSync, openSync, readSync } from "node:fs";

let shared: Buffer | undefined;

/**
 * Calls `each` with the file's text, chunk by chunk (`latin1`: `/proc` tables and stat files are ASCII).
 *
 * @param path The file.
 * @param each Called with each chunk, in order.
 * @throws {Error} As `openSync()` and `readSync()` do (`ENOENT` for a process that is gone).
 *
 * @example Count the lines of a table
 * ```ts
 * import { eachChunk } from "./proc.ts";
 * let text = "";
 * eachChunk("/proc/self/stat", (chunk) => text += chunk);
 * text.includes(")"); // true on Linux
 * ```
 */
export function eachChunk(path: string, each: (chunk: string) => void): void {
  const fd = openSync(path, "r");
  try {
    const buffer = shared ??= Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) return;
      each(buffer.toString("latin1", 0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A small `/proc` file's text (a stat, comm or fdinfo file), as `readFileSync(path, "latin1")` gives it.
 *
 * @param path The file.
 * @returns Its text.
 * @throws {Error} As `openSync()` and `readSync()` do (`ENOENT` for a process that is gone).
 *
 * @example This process's stat line
 * ```ts
 * import { readProcFile } from "./proc.ts";
 * readProcFile("/proc/self/stat").split(" ").length > 20; // true on Linux
 * ```
 */
export function readProcFile(path: string): string {
  let text = "";
  eachChunk(path, (chunk) => text += chunk);
  return text;
}
