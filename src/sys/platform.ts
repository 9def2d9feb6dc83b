/**
 * The operating systems and processors handover knows the C structures of.
 *
 * @module
 */

import { HandoverError } from "./errors.ts";
import type { Architecture, OperatingSystem, Platform } from "../types.ts";

export type { Architecture, OperatingSystem, Platform };

const OS_NAMES: Readonly<Record<string, OperatingSystem>> = {
  linux: "linux",
  darwin: "darwin",
  macos: "darwin",
};

const ARCH_NAMES: Readonly<Record<string, Architecture>> = {
  x86_64: "x86_64",
  x64: "x86_64",
  amd64: "x86_64",
  aarch64: "aarch64",
  arm64: "aarch64",
};

/**
 * Turns a runtime's own OS and CPU names (`process.platform`/`process.arch`,
 * `Deno.build.os`/`Deno.build.arch`) into a {@link Platform}.
 *
 * @param os The runtime's name for the operating system.
 * @param arch The runtime's name for the processor.
 * @returns The platform.
 * @throws {HandoverError} `ENOTSUP` on an operating system or processor handover has no layouts for.
 *
 * @example Linux on x86_64
 * ```ts
 * import { platformOf } from "./platform.ts";
 * platformOf("linux", "x64"); // { os: "linux", arch: "x86_64" }
 * ```
 */
export function platformOf(os: string, arch: string): Platform {
  const knownOs = OS_NAMES[os];
  const knownArch = ARCH_NAMES[arch];
  if (knownOs === undefined || knownArch === undefined) {
    throw new HandoverError(
      "ENOTSUP",
      `handover supports Linux and macOS on x86_64 and aarch64, but this is ${os} on ${arch}`,
    );
  }
  return { os: knownOs, arch: knownArch };
}
