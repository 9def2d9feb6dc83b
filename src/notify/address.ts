/**
 * Parsing `NOTIFY_SOCKET`, the address systemd (or any service manager)
 * gives a service for its notifications. The accepted forms and their limits
 * follow systemd's `socket_address_parse_unix()`, `sockaddr_un_set_path()` and
 * `socket_address_parse_vsock()` (src/basic/socket-util.c), which
 * `sd_notify()` uses (src/libsystemd/sd-daemon/sd-daemon.c).
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";

/** The socket types a vsock `NOTIFY_SOCKET` can ask for. */
export type VsockNotifyType = "dgram" | "stream" | "seqpacket";

/** Where notifications go, as parsed from `NOTIFY_SOCKET`. */
export type NotifySocketAddress =
  | {
    readonly family: "unix";
    /** A filesystem path, or `@name` for a name in Linux's abstract namespace. */
    readonly path: string;
  }
  | {
    readonly family: "vsock";
    /** The peer's context id (`host` is 2, `local` 1, `hypervisor` 0). */
    readonly cid: number;
    readonly port: number;
    /**
     * The socket type the prefix asked for; undefined for plain `vsock:`,
     * which tries `dgram`, then `seqpacket`, then `stream`, as libsystemd does.
     */
    readonly type: VsockNotifyType | undefined;
  };

// sizeof(((struct sockaddr_un *) 0)->sun_path) on Linux; systemd insists on a
// terminating NUL inside it for paths and abstract names alike.
const SUN_PATH_SIZE = 108;
const UINT32_MAX = 0xffffffff;
const VSOCK_PREFIXES: readonly (readonly [string, VsockNotifyType | undefined])[] = [
  ["vsock:", undefined],
  ["vsock-dgram:", "dgram"],
  ["vsock-seqpacket:", "seqpacket"],
  ["vsock-stream:", "stream"],
];
const VSOCK_CID_NAMES: Readonly<Record<string, number>> = { hypervisor: 0, local: 1, host: 2 };

function invalid(value: string, why: string): HandoverError {
  return new HandoverError(
    "EINVAL",
    `NOTIFY_SOCKET must be an absolute path, an @abstract name or vsock:CID:PORT, got ${JSON.stringify(value)}: ${why}`,
  );
}

function parseUint32(value: string, text: string, what: string): number {
  if (!/^[0-9]+$/.test(text)) throw invalid(value, `the ${what} ${JSON.stringify(text)} is not a decimal number`);
  const n = Number(text);
  if (n > UINT32_MAX) throw invalid(value, `the ${what} ${text} is above ${UINT32_MAX}`);
  return n;
}

/**
 * Parses a `NOTIFY_SOCKET` value.
 *
 * - `/path/to/socket`: a filesystem socket (at most 107 bytes);
 * - `@name`: a Linux abstract socket; the address is the family, a NUL and
 *   the name, with no padding (at most 107 bytes including the `@`);
 * - `vsock:CID:PORT`, `vsock-dgram:`, `vsock-seqpacket:`, `vsock-stream:`: an
 *   AF_VSOCK peer; CID is a number or `hypervisor`, `local`, `host`, and must
 *   be given (systemd refuses `VMADDR_CID_ANY`); PORT is a number below
 *   4294967295.
 *
 * @param value The variable's value.
 * @returns The address.
 * @throws {HandoverError} `EINVAL` naming the value for anything else;
 * `ENAMETOOLONG` for a path that does not fit `sun_path`.
 *
 * @example The three forms
 * ```ts
 * import { parseNotifySocket } from "./address.ts";
 * parseNotifySocket("/run/systemd/notify"); // { family: "unix", path: "/run/systemd/notify" }
 * parseNotifySocket("@hello"); // { family: "unix", path: "@hello" }
 * parseNotifySocket("vsock-stream:host:1024"); // { family: "vsock", cid: 2, port: 1024, type: "stream" }
 * ```
 */
export function parseNotifySocket(value: string): NotifySocketAddress {
  if (typeof value !== "string") throw new TypeError(`Expected NOTIFY_SOCKET to be a string, got ${typeof value}`);
  if (value.startsWith("/") || value.startsWith("@")) {
    if (value.length < 2) throw invalid(value, "the name is empty");
    if (value.includes("\0")) throw invalid(value, "it contains a NUL character");
    const bytes = new TextEncoder().encode(value).length;
    if (bytes + 1 > SUN_PATH_SIZE) {
      const why = `it is ${bytes} bytes, but sun_path holds at most ${SUN_PATH_SIZE - 1}`;
      if (value.startsWith("@")) throw invalid(value, why);
      throw new HandoverError("ENAMETOOLONG", `NOTIFY_SOCKET ${JSON.stringify(value)} is too long: ${why}`);
    }
    return { family: "unix", path: value };
  }
  const prefix = VSOCK_PREFIXES.find(([p]) => value.startsWith(p));
  if (prefix === undefined) throw invalid(value, "it starts with neither / nor @ nor a vsock prefix");
  const rest = value.slice(prefix[0].length);
  const colon = rest.indexOf(":");
  if (colon < 0) throw invalid(value, "the port is missing");
  const cidText = rest.slice(0, colon);
  const port = parseUint32(value, rest.slice(colon + 1), "port");
  // VMADDR_PORT_ANY cannot be connected to.
  if (port === UINT32_MAX) throw invalid(value, `the port ${port} is VMADDR_PORT_ANY`);
  if (cidText === "") throw invalid(value, "the CID is empty, and notifications need a specific one");
  const cid = VSOCK_CID_NAMES[cidText] ?? parseUint32(value, cidText, "CID");
  if (cid === UINT32_MAX) {
    throw invalid(value, `the CID ${cid} is VMADDR_CID_ANY, and notifications need a specific one`);
  }
  return { family: "vsock", cid, port, type: prefix[1] };
}
