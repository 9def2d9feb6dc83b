/**
 * Socket specifications of the `handover` CLI, `[NAME=][TYPE::]VALUE`, with
 * the types and value forms of systemfd (`src/fd.rs` there) plus names and
 * `seqpacket`. Parsing is pure: nothing here touches a socket.
 *
 * @module
 */

import type { SocketAddress } from "../sys/../types.ts";

/** The socket types a spec may name. `http` and `https` are TCP listeners printed as URLs. */
export type SpecKind = "tcp" | "http" | "https" | "unix" | "udp" | "seqpacket";

/** A parsed `-s` argument. */
export interface SocketSpec {
  /** What the user wrote. */
  readonly text: string;
  /** The `FileDescriptorName`/`LISTEN_FDNAMES` entry (default `unknown`, libsystemd's word for unnamed). */
  readonly name: string;
  /** True when the spec carried `NAME=`. */
  readonly named: boolean;
  readonly kind: SpecKind;
  /** The socket type to create. */
  readonly type: "stream" | "dgram" | "seqpacket";
  /** Where to bind; a unix path is kept as written (relative paths are relative to the launcher's directory). */
  readonly address: SocketAddress;
}

/** A spec that cannot be parsed; the message is one line for the user. */
export class SpecError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was expected and what was found.
   */
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

const KINDS: readonly SpecKind[] = ["tcp", "http", "https", "unix", "udp", "seqpacket"];
const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;

function parsePort(text: string, spec: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
    throw new SpecError(`Expected a port from 0 to 65535 in socket spec ${JSON.stringify(spec)}, got ${text}`);
  }
  return Number(text);
}

function isIPv6(text: string): boolean {
  // Enough to tell an address from a typo; structs.ts parses it for real when binding.
  return /^[0-9a-fA-F:.]+$/.test(text) && text.includes(":");
}

function inetAddress(value: string, spec: string): SocketAddress | undefined {
  if (/^[0-9]+$/.test(value)) return { family: "inet", address: "127.0.0.1", port: parsePort(value, spec) };
  const v6 = /^\[([^\]]*)\]:([^:]*)$/.exec(value);
  if (v6 !== null) {
    if (!isIPv6(v6[1]!)) throw new SpecError(`Expected an IPv6 address in [] in socket spec ${JSON.stringify(spec)}`);
    return { family: "inet6", address: v6[1]!, port: parsePort(v6[2]!, spec) };
  }
  const v4 = /^([^:/]+):([^:]*)$/.exec(value);
  if (v4 !== null) {
    const host = v4[1] === "localhost" ? "127.0.0.1" : v4[1]!;
    if (!IPV4.test(host)) {
      throw new SpecError(
        `Expected an IPv4 address, localhost or [IPv6] before the port in socket spec ${JSON.stringify(spec)}, got ${
          JSON.stringify(v4[1])
        }`,
      );
    }
    return { family: "inet", address: host, port: parsePort(v4[2]!, spec) };
  }
  return undefined;
}

/**
 * Parses one `-s/--socket` argument: `[NAME=][TYPE::]VALUE` where TYPE is
 * `tcp` (the default for a port), `http`, `https`, `unix` (the default for a
 * path), `udp` or `seqpacket`, and VALUE is `PORT` (on 127.0.0.1),
 * `HOST:PORT`, `[IPV6]:PORT`, a path, or `@name` (Linux abstract).
 *
 * @param text The argument.
 * @returns The spec.
 * @throws {SpecError} When the argument is malformed.
 *
 * @example
 * ```ts
 * import { parseSocketSpec } from "./spec.ts";
 * parseSocketSpec("web=http::8080").address; // { family: "inet", address: "127.0.0.1", port: 8080 }
 * ```
 */
export function parseSocketSpec(text: string): SocketSpec {
  let rest = text;
  let name = "unknown";
  let named = false;
  const withName = /^([^=:/@[]+)=(.*)$/.exec(rest);
  if (withName !== null) {
    name = withName[1]!;
    rest = withName[2]!;
    named = true;
    // systemd's FileDescriptorName= rules (fdname_is_valid): printable ASCII, no ':', at most 255.
    if (!/^[\x21-\x7e]{1,255}$/.test(name)) {
      throw new SpecError(
        `Expected a socket name of 1 to 255 printable ASCII characters without spaces, got ${JSON.stringify(name)}`,
      );
    }
  }
  let kind: SpecKind | undefined;
  const typed = /^([a-zA-Z][a-zA-Z0-9-]*)::(.*)$/.exec(rest);
  if (typed !== null) {
    const word = typed[1]!.toLowerCase();
    if (!(KINDS as readonly string[]).includes(word)) {
      throw new SpecError(
        `Unknown socket type ${JSON.stringify(typed[1])} in ${JSON.stringify(text)}: expected ${KINDS.join(", ")}`,
      );
    }
    kind = word as SpecKind;
    rest = typed[2]!;
  }
  if (rest === "") throw new SpecError(`Expected a port, HOST:PORT or path in socket spec ${JSON.stringify(text)}`);
  const isPath = rest.includes("/") || rest.startsWith("@");
  if (kind === undefined) kind = isPath ? "unix" : "tcp";
  if (kind === "unix" || kind === "seqpacket") {
    if (!isPath) {
      throw new SpecError(
        `Expected a path (with a /) or @name for a ${kind} socket in ${JSON.stringify(text)}, got ${
          JSON.stringify(rest)
        }`,
      );
    }
    if (rest.startsWith("@") && rest.length === 1) {
      throw new SpecError(`Expected a name after @ in socket spec ${JSON.stringify(text)}`);
    }
    return {
      text,
      name,
      named,
      kind,
      type: kind === "unix" ? "stream" : "seqpacket",
      address: { family: "unix", path: rest },
    };
  }
  const address = inetAddress(rest, text);
  if (address === undefined) {
    throw new SpecError(
      `Unsupported socket spec ${
        JSON.stringify(text)
      }: expected PORT, HOST:PORT, [IPV6]:PORT or a unix path, optionally after TYPE:: (${KINDS.join(", ")})`,
    );
  }
  return { text, name, named, kind, type: kind === "udp" ? "dgram" : "stream", address };
}
