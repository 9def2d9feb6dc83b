/**
 * The launcher's own sockets: bound once, kept open across every restart of
 * the app (so connections wait in the backlog instead of being refused),
 * and removed from the filesystem when the launcher ends.
 *
 * @module
 */

import { lstatSync, readdirSync, readFileSync, readlinkSync, unlinkSync } from "node:fs";
import { resolve } from "node:path";
import { close } from "../fd/fd.ts";
import { HandoverError } from "../sys/errors.ts";
import {
  bindSocket,
  connectSocket,
  formatAddress,
  listenSocket,
  localAddress,
  openSocket,
  setIntOption,
} from "../fd/socket.ts";
import type { SocketAddress } from "../sys/../types.ts";
import { system } from "../ffi/system.ts";
import type { SocketSpec } from "./spec.ts";

/** A bound socket of the launcher. */
export interface Listener {
  readonly spec: SocketSpec;
  /** The launcher's fd (close-on-exec; children get a copy at 3, 4, …). */
  readonly fd: number;
  /** The address it is bound to (the port filled in when the spec said 0). */
  readonly address: SocketAddress;
  /** The absolute path of a unix socket file this launcher created, removed at the end. */
  readonly createdPath: string | undefined;
  /** The inode of the socket file, to remove only our own file. */
  readonly fileInode: bigint | undefined;
}

/** Why a socket could not be set up: one line for the user. */
export class ListenerError extends Error {
  /** The errno name when a call failed. */
  readonly code: string | undefined;

  /**
   * Creates the error.
   *
   * @param message The line to print.
   * @param code The errno name.
   */
  constructor(message: string, code?: string) {
    super(message);
    this.name = "ListenerError";
    this.code = code;
  }
}

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not available on this machine",
  EACCES: "permission denied",
  ENAMETOOLONG: "the path is too long",
  ENOENT: "the directory does not exist",
  EAFNOSUPPORT: "the address family is not supported",
};

function describeFailure(error: unknown, spec: SocketSpec): ListenerError {
  if (error instanceof HandoverError) {
    if (error.code === "ENAMETOOLONG" && error.syscall === undefined) {
      // structs.ts says how long the path is and what sun_path holds.
      return new ListenerError(`Cannot bind ${spec.text}: ${error.message}`, error.code);
    }
    const reason = REASONS[error.code] ?? error.message;
    return new ListenerError(`Cannot bind ${spec.text} (${formatAddress(spec.address)}): ${reason}`, error.code);
  }
  return new ListenerError(`Cannot bind ${spec.text}: ${error instanceof Error ? error.message : String(error)}`);
}

const PROBE_KINDS = ["stream", "dgram", "seqpacket"] as const;

/**
 * What a connect(2) of each socket type to `path` says, in the order tried:
 * the spec's own type first.
 */
function probeSocketFile(path: string, own: SocketSpec["type"]): Map<string, string> {
  const answers = new Map<string, string>();
  for (const kind of [own, ...PROBE_KINDS.filter((k) => k !== own)]) {
    let probe: number;
    try {
      probe = openSocket("unix", kind, { nonBlocking: true });
    } catch (error) {
      answers.set(kind, error instanceof HandoverError ? error.code : "EIO");
      continue;
    }
    try {
      connectSocket(probe, { family: "unix", path });
      answers.set(kind, "connected");
    } catch (error) {
      answers.set(kind, error instanceof HandoverError ? error.code : "EIO");
    } finally {
      close(probe);
    }
    // Anything but ECONNREFUSED means the file is not known to be dead: no need to ask further.
    if (answers.get(kind) !== "ECONNREFUSED") break;
  }
  return answers;
}

/**
 * Who holds the socket bound at `path`, from `/proc/net/unix` and the fds
 * of the processes this user can see: `pid 1234 (node)`, or undefined.
 */
function socketHolder(path: string): string | undefined {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readFileSync("/proc/net/unix", "latin1").split("\n").map((line) => line.trim().split(/\s+/))
        .filter((fields) => fields[7] === path).map((fields) => fields[6]!),
    );
  } catch {
    return undefined;
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^[0-9]+$/.test(name)).slice(0, 1 << 16);
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds.slice(0, 1 << 16)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[([0-9]+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        let name = "";
        try {
          name = ` (${readFileSync(`/proc/${pid}/comm`, "utf8").trim()})`;
        } catch {
          // gone meanwhile
        }
        return `pid ${pid}${name}`;
      }
    }
  }
  return undefined;
}

/**
 * Removes a stale unix socket file so that bind() can create it again. A
 * file is stale only when a connect(2) of every socket type is refused
 * (ECONNREFUSED): a live server of another type answers EPROTOTYPE, one of
 * another user EACCES, a full one EAGAIN. Anything else is refused, since
 * removing the file would cut a live server (syslog's `/dev/log`, another
 * launcher's app) off from its clients.
 */
function clearStaleSocket(path: string, spec: SocketSpec): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new ListenerError(`Cannot bind ${spec.text}: ${path} exists and is not a socket`, "EEXIST");
  const answers = probeSocketFile(path, spec.type);
  const [kind, answer] = [...answers].find(([, code]) => code !== "ECONNREFUSED") ?? [];
  if (kind !== undefined) {
    const holder = socketHolder(path);
    const by = holder === undefined ? "" : ` by ${holder}`;
    const why = answer === "connected" || answer === "EAGAIN"
      ? `a live ${kind} socket answers there${by}`
      : answer === "EPROTOTYPE"
      ? `a live socket of another type than ${kind} is bound there${by}`
      : answer === "EACCES" || answer === "EPERM"
      ? `it is a socket this user may not connect to${by}`
      : `a ${kind} connect to it failed with ${answer}, so it may be live${by}`;
    throw new ListenerError(`Cannot bind ${spec.text}: ${path} is in use (${why}); it was left as it is`, "EADDRINUSE");
  }
  unlinkSync(path);
}

function bindOne(spec: SocketSpec, backlog: number, reusePort = false): Listener {
  const family = spec.address.family === "unix" ? "unix" : spec.address.family === "inet6" ? "inet6" : "inet";
  const unixPath = spec.address.family === "unix" && !spec.address.path.startsWith("@")
    ? resolve(spec.address.path)
    : undefined;
  const { c } = system();
  if (unixPath !== undefined) clearStaleSocket(unixPath, spec);
  let fd: number;
  try {
    fd = openSocket(family, spec.type, { nonBlocking: false });
  } catch (error) {
    throw describeFailure(error, spec);
  }
  let created: string | undefined;
  try {
    if (family !== "unix") setIntOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
    if (reusePort) setIntOption(fd, c.SOL_SOCKET, c.SO_REUSEPORT, 1);
    bindSocket(fd, spec.address);
    let fileInode: bigint | undefined;
    if (unixPath !== undefined) {
      created = unixPath;
      fileInode = BigInt(lstatSync(unixPath).ino);
    }
    if (spec.type !== "dgram") listenSocket(fd, backlog);
    return { spec, fd, address: localAddress(fd), createdPath: created, fileInode };
  } catch (error) {
    close(fd);
    if (created !== undefined) removeSocketFile(created);
    throw error instanceof ListenerError ? error : describeFailure(error, spec);
  }
}

function removeSocketFile(path: string, inode?: bigint): void {
  try {
    if (inode !== undefined && BigInt(lstatSync(path).ino) !== inode) return; // somebody else's now
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Binds every spec in order; on the first failure closes what was bound,
 * removes the files it created, and throws.
 *
 * @param specs The parsed `-s` arguments.
 * @param backlog The listen(2) backlog.
 * @returns The listeners, in the order given.
 * @throws {ListenerError} With one line saying which spec failed and why.
 *
 * @example
 * ```ts ignore
 * const listeners = bindListeners([parseSocketSpec("0")], 4096);
 * ```
 */
export function bindListeners(specs: readonly SocketSpec[], backlog: number): Listener[] {
  const listeners: Listener[] = [];
  try {
    for (const spec of specs) listeners.push(bindOne(spec, backlog));
  } catch (error) {
    closeListeners(listeners);
    throw error;
  }
  return listeners;
}

/** True for the sockets `--workers-mode reuseport` binds once per worker: TCP. */
function reusable(spec: SocketSpec): boolean {
  return spec.type === "stream" && spec.address.family !== "unix";
}

/**
 * Binds one set of sockets per worker for `--workers-mode reuseport`: each TCP
 * spec gets `count` `SO_REUSEPORT` sockets on one address (the first fixes the
 * port when the spec says 0), so that each worker has an accept queue of its
 * own that outlives the worker's restarts; other sockets (unix, UDP) are one
 * socket shared by every set.
 *
 * @param specs The parsed `-s` arguments.
 * @param backlog The listen(2) backlog.
 * @param count The number of workers.
 * @returns One list of listeners per worker, each in the order of `specs`.
 * @throws {ListenerError} With one line saying which spec failed and why.
 *
 * @example
 * ```ts ignore
 * const sets = bindReusePortSets([parseSocketSpec("0")], 4096, 2); // two sockets on one port
 * ```
 */
export function bindReusePortSets(specs: readonly SocketSpec[], backlog: number, count: number): Listener[][] {
  const sets: Listener[][] = [];
  try {
    const first = specs.map((spec) => bindOne(spec, backlog, reusable(spec)));
    sets.push(first);
    for (let i = 1; i < count; i++) {
      sets.push(
        first.map((listener) =>
          reusable(listener.spec) ? bindOne({ ...listener.spec, address: listener.address }, backlog, true) : listener
        ),
      );
    }
  } catch (error) {
    closeListeners(distinctListeners(sets));
    throw error;
  }
  return sets;
}

/**
 * The listeners of several sets, each once (sets share their non-TCP sockets).
 *
 * @param sets What {@link bindReusePortSets} returned.
 * @returns Every listener once.
 *
 * @example
 * ```ts ignore
 * closeListeners(distinctListeners(sets));
 * ```
 */
export function distinctListeners(sets: readonly (readonly Listener[])[]): Listener[] {
  return [...new Set(sets.flat())];
}

/**
 * Closes the listeners and removes the unix socket files this launcher
 * created (only when the file there is still the one it created).
 *
 * @param listeners What {@link bindListeners} returned.
 *
 * @example
 * ```ts ignore
 * closeListeners(listeners);
 * ```
 */
export function closeListeners(listeners: readonly Listener[]): void {
  for (const listener of listeners) {
    try {
      close(listener.fd);
    } catch {
      // closed already
    }
    if (listener.createdPath !== undefined) removeSocketFile(listener.createdPath, listener.fileInode);
  }
}

/**
 * The line systemfd prints for a socket: `http://127.0.0.1:8080/`,
 * `127.0.0.1:8080 (tcp listener)`, `/run/app.sock (unix listener)`,
 * `127.0.0.1:5353 (udp)`.
 *
 * @param listener The listener.
 * @returns The description.
 *
 * @example An HTTP socket is printed as a URL
 * ```ts
 * import { describeListener } from "./listeners.ts";
 * import { parseSocketSpec } from "./spec.ts";
 * const spec = parseSocketSpec("web=http::8080");
 * describeListener({ spec, fd: 3, address: spec.address, createdPath: undefined, fileInode: undefined });
 * // "http://127.0.0.1:8080/"
 * ```
 */
export function describeListener(listener: Listener): string {
  const where = listener.createdPath ?? formatAddress(listener.address);
  switch (listener.spec.kind) {
    case "http":
    case "https":
      return `${listener.spec.kind}://${formatAddress(listener.address)}/`;
    case "tcp":
      return `${where} (tcp listener)`;
    case "unix":
      return `${where} (unix listener)`;
    case "seqpacket":
      return `${where} (seqpacket listener)`;
    case "udp":
      return `${where} (udp)`;
  }
}
