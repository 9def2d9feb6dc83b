/**
 * Whether an app has connections, seen from outside without proxying: the
 * kernel's socket tables (`/proc/net/tcp`, `tcp6` and `unix`, see proc(5))
 * list every established connection; one whose local end is a listener's
 * address was accepted from it. The launcher never accepts, so each such
 * connection belongs to the app. With the listener's own queue (a
 * connection not accepted yet), this tells when an on-demand app is idle.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import type { Listener } from "./listeners.ts";

/** TCP states that count as a connection in use: ESTABLISHED, SYN_RECV (include/net/tcp_states.h). */
const TCP_BUSY = new Set(["01", "03"]);
/** SS_CONNECTED in /proc/net/unix's St column. */
const UNIX_CONNECTED = "03";

function read(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n").slice(1);
  } catch {
    return [];
  }
}

/**
 * How many connections accepted from these listeners are open now (Linux;
 * elsewhere 0). TCP counts by the listener's port, unix stream and seqpacket
 * sockets by path; datagram sockets have no connections.
 *
 * @param listeners The app's listeners.
 * @returns The number of open connections.
 *
 * @example
 * ```ts ignore
 * if (openConnections(listeners) === 0) idleFor += tick;
 * ```
 */
export function openConnections(listeners: readonly Listener[]): number {
  const ports = new Set<string>();
  const paths = new Set<string>();
  for (const listener of listeners) {
    if (listener.spec.type === "dgram") continue;
    const address = listener.address;
    if (address.family === "unix") {
      if (address.path !== "") paths.add(address.path);
    } else if (address.family === "inet" || address.family === "inet6") {
      ports.add(address.port.toString(16).toUpperCase().padStart(4, "0"));
    }
  }
  let count = 0;
  if (ports.size > 0) {
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      for (const line of read(file)) {
        const columns = line.trim().split(/\s+/);
        const local = columns[1];
        if (local === undefined || !TCP_BUSY.has(columns[3] ?? "")) continue;
        if (ports.has(local.slice(local.lastIndexOf(":") + 1))) count++;
      }
    }
  }
  if (paths.size > 0) {
    for (const line of read("/proc/net/unix")) {
      // Num RefCount Protocol Flags Type St Inode Path
      const columns = line.trim().split(/\s+/);
      if (columns[5] !== UNIX_CONNECTED || columns.length < 8) continue;
      if (paths.has(columns.slice(7).join(" "))) count++;
    }
  }
  return count;
}
