/**
 * Whether an app has connections, seen from outside without proxying: the
 * kernel's socket tables (`/proc/net/tcp`, `tcp6` and `unix`, see proc(5))
 * list every established connection with its inode; one whose local end is a
 * listener's address was accepted from it, and the app's `/proc/PID/fd`
 * shows which of those it holds. With the listener's own queue (a
 * connection not accepted yet), this tells when an on-demand app is idle.
 *
 * @module
 */

import { readdirSync, readlinkSync } from "node:fs";
import type { Listener } from "./listeners.ts";
import { eachChunk } from "./proc.ts";

/** TCP states that count as a connection in use: ESTABLISHED, SYN_RECV (include/net/tcp_states.h). */
const TCP_BUSY = new Set(["01", "03"]);
/** SS_CONNECTED in /proc/net/unix's St column. */
const UNIX_CONNECTED = "03";

/**
 * Calls `each` with every line of a `/proc` table but the header, read in chunks: on a host with many connections
 * `/proc/net/tcp` runs to megabytes, which as one string would grow the launcher's heap for good.
 */
function eachLine(path: string, each: (line: string) => void): void {
  let rest = "";
  let header = true;
  try {
    eachChunk(path, (chunk) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        if (header) header = false;
        else each(line);
      }
    });
  } catch {
    return; // the table cannot be read: no connections seen
  }
  if (rest !== "" && !header) each(rest);
}

/**
 * The socket inodes of the connections accepted from these listeners that are open now (Linux; elsewhere none),
 * from the kernel's tables: TCP by the listener's port, unix stream and seqpacket sockets by path. Reading the
 * tables costs time on a host with many connections: {@link ConnectionWatch} reads them only when a process has a
 * socket it has not seen before.
 *
 * @param listeners The app's listeners.
 * @returns The inodes, as the decimal strings `/proc/PID/fd` shows in `socket:[N]`.
 *
 * @example
 * ```ts ignore
 * const open = connectionInodes(listeners).size;
 * ```
 */
export function connectionInodes(listeners: readonly Listener[]): Set<string> {
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
  const inodes = new Set<string>();
  if (ports.size > 0) {
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      eachLine(file, (line) => {
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        const columns = line.trim().split(/\s+/);
        const local = columns[1];
        if (local === undefined || !TCP_BUSY.has(columns[3] ?? "")) return;
        if (ports.has(local.slice(local.lastIndexOf(":") + 1))) inodes.add(columns[9] ?? "");
      });
    }
  }
  if (paths.size > 0) {
    eachLine("/proc/net/unix", (line) => {
      // Num RefCount Protocol Flags Type St Inode Path
      const columns = line.trim().split(/\s+/);
      if (columns[5] !== UNIX_CONNECTED || columns.length < 8) return;
      if (paths.has(columns.slice(7).join(" "))) inodes.add(columns[6] ?? "");
    });
  }
  return inodes;
}

/** The socket inodes a process holds, from `/proc/PID/fd` (empty when it cannot be read). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const entry of entries) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${entry}`));
      if (match !== null) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * Whether an app's main process holds a connection accepted from its listeners, cheaply enough to ask every
 * second: its sockets are read from `/proc/PID/fd`, and only a socket not seen before is looked up in the
 * kernel's tables (a connection, or something else the app holds, like a database connection, remembered and
 * not looked up again).
 */
export class ConnectionWatch {
  private readonly listeners: readonly Listener[];
  private pid: number | undefined;
  /** Sockets of the process that are not connections from the listeners (the listeners, the notify socket, …). */
  private others = new Set<string>();
  /** Sockets of the process found to be connections from the listeners. */
  private connections = new Set<string>();

  /**
   * Watches the connections from these listeners.
   *
   * @param listeners The app's listeners.
   */
  constructor(listeners: readonly Listener[]) {
    this.listeners = listeners;
  }

  /**
   * How many connections from the listeners the process holds now.
   *
   * @param pid The app's main process.
   * @returns The number of open connections (0 where `/proc` cannot be read).
   *
   * @example
   * ```ts ignore
   * if (watch.open(pid) === 0) idleSince ??= Date.now();
   * ```
   */
  open(pid: number): number {
    if (pid !== this.pid) {
      this.pid = pid;
      this.others = new Set();
      this.connections = new Set();
    }
    const held = socketInodes(pid);
    const unknown = [...held].filter((inode) => !this.others.has(inode) && !this.connections.has(inode));
    if (unknown.length > 0) {
      const accepted = connectionInodes(this.listeners);
      for (const inode of unknown) (accepted.has(inode) ? this.connections : this.others).add(inode);
    }
    for (const set of [this.others, this.connections]) {
      for (const inode of set) if (!held.has(inode)) set.delete(inode);
    }
    return this.connections.size;
  }
}
