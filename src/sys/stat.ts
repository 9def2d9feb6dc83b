/**
 * The two fields of `struct stat` handover reads: the file type and the inode.
 *
 * @module
 */

import type { StructLayouts } from "./layout.ts";
import { view } from "./memory.ts";

/**
 * Reads the file type bits and inode from a filled `struct statx` (Linux) or `struct stat` (Darwin).
 *
 * @param layout The platform's layouts.
 * @param bytes The struct the call filled in.
 * @returns `st_mode` and `st_ino`.
 *
 * @example A socket's mode, as statx(2) fills it in
 * ```ts
 * import { layoutsFor } from "./layout.ts";
 * import { decodeStat } from "./stat.ts";
 * const layout = layoutsFor({ os: "linux", arch: "x86_64" });
 * const bytes = new Uint8Array(layout.stat.size);
 * new DataView(bytes.buffer).setUint16(layout.stat.mode, 0o140777, true); // S_IFSOCK | 0777
 * decodeStat(layout, bytes); // { mode: 0o140777, ino: 0n }
 * ```
 */
export function decodeStat(layout: StructLayouts, bytes: Uint8Array): { mode: number; ino: bigint } {
  const dv = view(bytes);
  return { mode: dv.getUint16(layout.stat.mode, true), ino: dv.getBigUint64(layout.stat.ino, true) };
}
