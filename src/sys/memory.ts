/**
 * C memory from JavaScript: buffers off V8's moving heap, NUL-terminated strings, and the integers C reads and writes.
 *
 * @module
 */

/**
 * A zero-filled buffer for C to read or write. Never smaller than 128 bytes,
 * so that V8 keeps it off its moving heap and its address stays put.
 *
 * @param size The bytes needed.
 * @returns A view of exactly `size` bytes.
 *
 * @example
 * ```ts
 * import { cBuffer } from "./memory.ts";
 * cBuffer(8).byteLength; // 8
 * ```
 */
export function cBuffer(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(Math.max(size, 128)), 0, size);
}
/** A `DataView` over exactly the bytes of `bytes`. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
/** UTF-8 for C strings. */
export const encoder: TextEncoder = new TextEncoder();
/** UTF-8 from C strings. */
export const decoder: TextDecoder = new TextDecoder();
/**
 * Encodes `text` as a NUL-terminated C string.
 *
 * @param text The string; must not contain NUL.
 * @returns Its UTF-8 bytes and a final NUL.
 * @throws {TypeError} When `text` contains a NUL character.
 *
 * @example
 * ```ts
 * import { cString } from "./memory.ts";
 * cString("ab"); // Uint8Array [97, 98, 0]
 * ```
 */
export function cString(text: string): Uint8Array {
  if (text.includes("\0")) throw new TypeError(`Expected a string without NUL characters, got ${JSON.stringify(text)}`);
  const encoded = encoder.encode(text);
  const bytes = cBuffer(encoded.length + 1);
  bytes.set(encoded);
  return bytes;
}
/**
 * Reads a native-endian `int` at `offset`.
 *
 * @param bytes The buffer.
 * @param offset The byte offset.
 * @returns The value.
 *
 * @example
 * ```ts
 * import { readInt32 } from "./memory.ts";
 * readInt32(new Uint8Array([7, 0, 0, 0]), 0); // 7
 * ```
 */
export function readInt32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getInt32(offset, true);
}
/**
 * Writes a native-endian `int` at `offset`.
 *
 * @param bytes The buffer.
 * @param offset The byte offset.
 * @param value The value.
 *
 * @example
 * ```ts
 * import { writeInt32 } from "./memory.ts";
 * const b = new Uint8Array(4);
 * writeInt32(b, 0, 7);
 * ```
 */
export function writeInt32(bytes: Uint8Array, offset: number, value: number): void {
  view(bytes).setInt32(offset, value, true);
}
/**
 * Reads a native-endian 64-bit unsigned value at `offset`.
 *
 * @param bytes The buffer.
 * @param offset The byte offset.
 * @returns The value.
 *
 * @example
 * ```ts
 * import { readUint64 } from "./memory.ts";
 * readUint64(new Uint8Array(8), 0); // 0n
 * ```
 */
export function readUint64(bytes: Uint8Array, offset: number): bigint {
  return view(bytes).getBigUint64(offset, true);
}
