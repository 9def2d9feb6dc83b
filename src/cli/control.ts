/**
 * The control socket: `handover status`, `restart NAME`, `stop NAME` and
 * `logs NAME` reach a running launcher over a unix stream socket, one per
 * launcher, at `$XDG_RUNTIME_DIR/handover/NAME.sock` (or
 * `/tmp/handover-UID/NAME.sock`), in a directory only its user can enter,
 * mode 0600. Every connection's peer is checked with `SO_PEERCRED`
 * (unix(7)): another uid than the launcher's (or root) is refused before a
 * byte is read, so a socket whose mode was widened by mistake still answers
 * no one else. The protocol is one JSON request line, then JSON lines back.
 *
 * @module
 */

import { chmodSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { close } from "../fd/fd.ts";
import { acceptConnection, bindSocket, connectSocket, listenSocket, openSocket } from "../fd/socket.ts";
import { openSocketStream } from "../fd/stream.ts";
import { check, system } from "../ffi/system.ts";
import { HandoverError } from "../sys/errors.ts";
import { cBuffer, cString, view, writeInt32 } from "../sys/memory.ts";
import type { AppState } from "./app_state.ts";
import { printable } from "./text.ts";
import { readableNow, setSignalDriven, Wakeup } from "./wakeup.ts";

/** What the control socket reaches in the launcher. */
export interface ControlTarget {
  /** A snapshot of the app. */
  state(): AppState;
  /** Restarts (overlapped) or stops the app. */
  request(action: "restart" | "stop", why: string): void;
}

/** One app a control socket answers for. */
export interface ControlEntry {
  /** The app's name, as `handover restart NAME` gives it. */
  readonly name: string;
  readonly target: ControlTarget;
  /** Its sockets, described, for `status`. */
  readonly sockets: readonly string[];
  /** Its log lines, for `logs`. */
  readonly book: LogBook;
}

/** The credentials of a unix socket's peer (`struct ucred`). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** How many log lines `handover logs` gets from before it connected. */
const LOG_BACKLOG = 200;
/** The longest request line. */
const MAX_REQUEST = 4096;
/** How long a client has to send its request. */
const REQUEST_TIMEOUT_MS = 5_000;
/** How long a refused client gets to send its request before the socket is closed. */
const REFUSAL_LINGER_MS = 200;
/** At most this many connections are taken per wake-up. */
const ACCEPTS_PER_WAKE = 16;

/**
 * The directory of the control sockets: `$XDG_RUNTIME_DIR/handover`, else
 * `/tmp/handover-UID`, created mode 0700; one owned by another user or open
 * to others is refused.
 *
 * @param create Create it when missing (the launcher), or not (a client).
 * @returns Its path.
 * @throws {HandoverError} `EPERM` when it belongs to another user or others may enter it.
 *
 * @example
 * ```ts
 * import { controlDirectory } from "./control.ts";
 * controlDirectory(true); // "/run/user/1000/handover", or /tmp/handover-UID without XDG_RUNTIME_DIR
 * ```
 */
export function controlDirectory(create: boolean): string {
  const uid = process.getuid?.() ?? 0;
  const runtime = process.env.XDG_RUNTIME_DIR;
  const directory = runtime !== undefined && runtime.startsWith("/")
    ? join(runtime, "handover")
    : `/tmp/handover-${uid}`;
  if (create) mkdirSync(directory, { recursive: true, mode: 0o700 });
  const stat = lstatSync(directory);
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
    throw new HandoverError(
      "EPERM",
      `Expected ${directory} to be a directory of uid ${uid} with mode 0700, found uid ${stat.uid} and mode ${
        (stat.mode & 0o777).toString(8).padStart(4, "0")
      }`,
    );
  }
  return directory;
}

/**
 * The peer of a connected unix socket, as the kernel saw it at connect(2)
 * (getsockopt `SO_PEERCRED`, unix(7)).
 *
 * @param fd A connected unix stream socket.
 * @returns Its pid, uid and gid.
 * @throws {HandoverError} `ENOTSUP` where there is no `SO_PEERCRED` (macOS), or getsockopt's error.
 *
 * @example
 * ```ts
 * import { close, socketpair } from "../../mod.ts";
 * import { peerCredentials } from "./control.ts";
 * const [a, b] = socketpair();
 * peerCredentials(a).uid === process.getuid!(); // true: the other end is our own process
 * peerCredentials(a).pid === process.pid; // true
 * close(a);
 * close(b);
 * ```
 */
export function peerCredentials(fd: number): PeerCredentials {
  const { libc, c, layout } = system();
  const ucred = layout.ucred;
  if (ucred === undefined || c.SO_PEERCRED === 0) {
    throw new HandoverError("ENOTSUP", "SO_PEERCRED is not available on this platform");
  }
  const value = cBuffer(ucred.size);
  const length = cBuffer(4);
  writeInt32(length, 0, ucred.size);
  check(libc.getsockopt(fd, c.SOL_SOCKET, c.SO_PEERCRED, value, length), "getsockopt", `SO_PEERCRED of fd ${fd}`);
  const data = view(value);
  return {
    pid: data.getInt32(ucred.pid, true),
    uid: data.getUint32(ucred.uid, true),
    gid: data.getUint32(ucred.gid, true),
  };
}

/** Log lines kept for `handover logs`, and the clients following them. */
export class LogBook {
  private readonly lines: string[] = [];
  private readonly followers = new Set<(line: string) => void>();

  /**
   * Keeps a line (with its time) and hands it to every follower.
   *
   * @param line The line, as the launcher printed it.
   */
  add(line: string): void {
    const stamped = `${new Date().toISOString()} ${line}`;
    this.lines.push(stamped);
    if (this.lines.length > LOG_BACKLOG) this.lines.shift();
    for (const follower of this.followers) follower(stamped);
  }

  /**
   * The same output, with every line kept here too.
   *
   * @param out Where the launcher prints.
   * @returns An output that also keeps each line.
   */
  wrap(
    out: { info(line: string): void; warn(line: string): void },
  ): { info(line: string): void; warn(line: string): void } {
    return {
      info: (line) => {
        this.add(line);
        out.info(line);
      },
      warn: (line) => {
        this.add(line);
        out.warn(line);
      },
    };
  }

  /**
   * The kept lines, then every new one until the returned function is called.
   *
   * @param follower Called with each line.
   * @returns Stops following.
   */
  follow(follower: (line: string) => void): () => void {
    for (const line of this.lines) follower(line);
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}min ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}min`;
}

/**
 * `handover status` for one app, in the manner of `systemctl status`.
 *
 * @param name The app's name.
 * @param state Its snapshot.
 * @param sockets Its sockets, described.
 * @param now The time (`Date.now()`).
 * @returns The lines, each ending in a newline.
 *
 * @example
 * ```ts
 * import { statusText } from "./control.ts";
 * const state = {
 *   phase: "running", pid: 42, startedAt: 0, ready: true, reloading: false, stopping: false,
 *   watchdogMs: undefined, sinceKeepAliveMs: undefined, status: "Serving", restarts: 1,
 * } as const;
 * statusText("web", state, ["http://127.0.0.1:8080/"], 61_000).split("\n")[1]; // "     Active: active (running) since 1970-01-01T00:00:00.000Z; 1min 1s ago"
 * ```
 */
export function statusText(name: string, state: AppState, sockets: readonly string[], now: number): string {
  const active = state.pid === undefined
    ? state.phase === "waiting" ? "active (waiting for the first connection)" : `inactive (${state.phase})`
    : state.stopping
    ? "deactivating (stop)"
    : state.reloading
    ? "reloading"
    : state.ready
    ? "active (running)"
    : "activating (start)";
  const since = state.startedAt === undefined
    ? ""
    : ` since ${new Date(state.startedAt).toISOString()}; ${formatDuration(now - state.startedAt)} ago`;
  const lines = [
    `● ${name}`,
    `     Active: ${active}${since}`,
    `   Main PID: ${state.pid ?? "-"}${state.workerPids === undefined ? "" : " (worker 0)"}`,
  ];
  if (state.workerPids !== undefined) {
    lines.push(
      `    Workers: ${state.workerPids.length} (pids ${state.workerPids.map((pid) => pid ?? "-").join(", ")})`,
    );
  }
  lines.push(`   Restarts: ${state.restarts}`);
  if (state.status !== undefined) lines.push(`     Status: "${printable(state.status)}"`);
  if (state.watchdogMs !== undefined) {
    const fed = state.sinceKeepAliveMs === undefined ? "" : `, fed ${(state.sinceKeepAliveMs / 1000).toFixed(1)} s ago`;
    lines.push(`   Watchdog: ${state.watchdogMs / 1000} s${fed}`);
  }
  sockets.forEach((socket, i) => lines.push(`${i === 0 ? "    Sockets" : "           "}: ${printable(socket)}`));
  return lines.map((line) => `${line}\n`).join("");
}

/** One request on the control socket. */
interface ControlRequest {
  readonly command: "status" | "restart" | "stop" | "logs";
  readonly name?: string;
}

/** The launcher's end of the control socket. */
export class ControlServer {
  /** The socket's path. */
  readonly path: string;
  private readonly fd: number;
  private readonly name: string;
  private readonly entries: () => readonly ControlEntry[];
  private readonly wakeup: Wakeup;
  private readonly uid = process.getuid?.() ?? 0;
  private readonly connections = new Set<() => void>();
  private closed = false;

  private constructor(path: string, fd: number, name: string, entries: () => readonly ControlEntry[]) {
    this.path = path;
    this.fd = fd;
    this.name = name;
    this.entries = entries;
    setSignalDriven(fd, true);
    this.wakeup = new Wakeup(() => this.acceptAll());
  }

  /**
   * Opens the control socket for an app; a stale socket file of a launcher
   * that is gone is replaced.
   *
   * @param name The app's name (the file's name).
   * @param target The supervisor.
   * @param sockets The app's sockets, described, for `status`.
   * @param book The launcher's log lines, for `logs`.
   * @returns The server.
   * @throws {HandoverError} `EADDRINUSE` when a running launcher already answers at that name, or the bind error.
   *
   * @example
   * ```ts ignore
   * const control = ControlServer.open("web", supervisor, ["http://127.0.0.1:8080/"], book);
   * ```
   */
  static open(name: string, target: ControlTarget, sockets: readonly string[], book: LogBook): ControlServer {
    return ControlServer.openMany(name, () => [{ name, target, sockets, book }]);
  }

  /**
   * Opens the control socket of a launcher of several apps (`handover up`): `status` lists every app,
   * `restart|stop|logs NAME` address one by its name.
   *
   * @param name The launcher's name (the file's name).
   * @param entries The apps, asked at each request.
   * @returns The server.
   * @throws {HandoverError} `EADDRINUSE` when a running launcher already answers at that name, or the bind error.
   *
   * @example
   * ```ts ignore
   * const control = ControlServer.openMany("shop", () => apps.map((app) => app.controlEntry()));
   * ```
   */
  static openMany(name: string, entries: () => readonly ControlEntry[]): ControlServer {
    const path = join(controlDirectory(true), `${name}.sock`);
    if (answers(path)) {
      throw new HandoverError("EADDRINUSE", `Another launcher answers at ${path} (see --name)`);
    }
    try {
      unlinkSync(path);
    } catch {
      // not there
    }
    const fd = openSocket("unix", "stream");
    try {
      bindSocket(fd, { family: "unix", path });
      chmodSync(path, 0o600);
      listenSocket(fd, 16);
    } catch (error) {
      close(fd);
      throw error;
    }
    return new ControlServer(path, fd, name, entries);
  }

  /**
   * Stops answering and removes the socket file.
   *
   * @example
   * ```ts ignore
   * control.close();
   * ```
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeup.stop();
    for (const end of [...this.connections]) end();
    close(this.fd);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private acceptAll(): void {
    if (this.closed || readableNow([this.fd]).length === 0) return;
    for (let i = 0; i < ACCEPTS_PER_WAKE; i++) {
      let connection: number | undefined;
      try {
        connection = acceptConnection(this.fd);
      } catch {
        return;
      }
      if (connection === undefined) return;
      this.serve(connection);
    }
  }

  private serve(fd: number): void {
    let peer: PeerCredentials | undefined;
    try {
      peer = peerCredentials(fd);
    } catch {
      peer = undefined;
    }
    if (peer === undefined || (peer.uid !== this.uid && peer.uid !== 0)) {
      const line = `${
        JSON.stringify({ error: `refused: uid ${peer?.uid ?? "?"} is not the launcher's uid ${this.uid}` })
      }\n`;
      system().libc.write(fd, cString(line), line.length);
      // Closed with its request unread, the socket would reset the client before it reads the refusal.
      setTimeout(() => {
        system().libc.read(fd, cBuffer(MAX_REQUEST), MAX_REQUEST);
        close(fd);
      }, REFUSAL_LINGER_MS);
      return;
    }
    this.converse(fd).catch(() => {});
  }

  private async converse(fd: number): Promise<void> {
    const stream = await openSocketStream(fd);
    const writer = stream.writable.getWriter();
    const encoder = new TextEncoder();
    let ended = false;
    let unfollow: (() => void) | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      unfollow?.();
      this.connections.delete(end);
      writer.close().catch(() => {}).finally(() => stream.close().catch(() => {}));
    };
    this.connections.add(end);
    const send = (message: object) => {
      if (!ended) writer.write(encoder.encode(`${JSON.stringify(message)}\n`)).catch(end);
    };
    const timer = setTimeout(end, REQUEST_TIMEOUT_MS);
    let request: ControlRequest | undefined;
    try {
      request = await readRequest(stream.readable);
    } finally {
      clearTimeout(timer);
    }
    if (request === undefined) {
      send({ error: "expected one JSON request line" });
      end();
      return;
    }
    const entries = this.entries();
    const entry = entries.find((e) => e.name === request.name);
    // `status` without a name (or with this launcher's own name): every app.
    if (request.command === "status" && entry === undefined && (request.name ?? this.name) === this.name) {
      send({ text: entries.map((e) => statusText(e.name, e.target.state(), e.sockets, Date.now())).join("\n") });
      end();
      return;
    }
    if (entry === undefined) {
      send({
        error: `no app named ${JSON.stringify(request.name ?? "")} here (this launcher runs ${
          entries.map((e) => e.name).join(", ")
        })`,
        missing: true,
      });
      end();
      return;
    }
    switch (request.command) {
      case "status":
        send({ text: statusText(entry.name, entry.target.state(), entry.sockets, Date.now()) });
        end();
        return;
      case "restart":
      case "stop":
        entry.target.request(request.command, `handover ${request.command}`);
        send({ text: `${request.command === "restart" ? "restarting" : "stopping"} ${entry.name}\n` });
        end();
        return;
      case "logs":
        unfollow = entry.book.follow((line) => send({ line }));
        // Until the client goes: its end of stream.
        stream.readable.pipeTo(new WritableStream()).catch(() => {}).finally(end);
        return;
      default:
        send({ error: `unknown command ${JSON.stringify(request.command)}` });
        end();
    }
  }
}

async function readRequest(readable: ReadableStream<Uint8Array>): Promise<ControlRequest | undefined> {
  const reader = readable.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n") && text.length < MAX_REQUEST) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return undefined;
  } finally {
    reader.releaseLock();
  }
  try {
    const parsed = JSON.parse(text.split("\n")[0]!);
    return typeof parsed === "object" && parsed !== null && typeof parsed.command === "string" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a launcher answers at a socket path (a connect that succeeds). */
function answers(path: string): boolean {
  const fd = openSocket("unix", "stream", { nonBlocking: false });
  try {
    return connectSocket(fd, { family: "unix", path });
  } catch {
    return false; // ENOENT, ECONNREFUSED: nobody there
  } finally {
    close(fd);
  }
}

/** Where a control command writes. */
export interface ControlOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The control commands, as the first argument of `handover`. */
export const CONTROL_COMMANDS: readonly string[] = ["status", "restart", "stop", "logs"];

/**
 * Runs `handover status [NAME]`, `restart NAME`, `stop NAME` or `logs NAME`
 * against the running launchers of this user.
 *
 * @param argv The command and its arguments.
 * @param out Where to write.
 * @returns The exit code: 0, 1 when a launcher refused or failed, 2 for a bad command line, 3 when no launcher runs.
 *
 * @example
 * ```ts ignore
 * process.exitCode = await controlCommand(["status"], out);
 * ```
 */
export async function controlCommand(argv: readonly string[], out: ControlOutput): Promise<number> {
  const [command, name, ...rest] = argv;
  if (command === undefined || !CONTROL_COMMANDS.includes(command) || rest.length > 0) {
    out.stderr(`handover: expected handover status [NAME], restart NAME, stop NAME or logs NAME\n`);
    return 2;
  }
  if (command !== "status" && name === undefined) {
    out.stderr(`handover: expected the app's name, as in: handover ${command} web\n`);
    return 2;
  }
  let directory: string;
  try {
    directory = controlDirectory(false);
  } catch (error) {
    const code = (error as { code?: string }).code;
    out.stderr(
      `handover: no launcher to ask: ${
        code === "ENOENT" ? "none has run for this user" : error instanceof Error ? error.message : String(error)
      }\n`,
    );
    return 3;
  }
  const launchers = readdirSync(directory).filter((f) => f.endsWith(".sock")).map((f) => f.slice(0, -5)).sort();
  if (name === undefined) {
    if (launchers.length === 0) {
      out.stderr("handover: no launcher is running for this user\n");
      return 3;
    }
    let code = 0;
    for (const launcher of launchers) {
      // Without a name, a launcher answers for every app it runs.
      const result = await ask(join(directory, `${launcher}.sock`), { command: "status" }, out, launcher);
      if (result !== 0) code = result;
    }
    return code;
  }
  // The launcher named after the app first, then every other one: a launcher of several apps (handover up)
  // answers for each of its apps by name.
  const order = [name, ...launchers.filter((l) => l !== name)];
  for (const launcher of order) {
    const path = join(directory, `${launcher}.sock`);
    if (launcher === name && !launchers.includes(name)) continue;
    const result = await ask(path, { command: command as ControlRequest["command"], name }, out, name, true);
    if (result !== MISSING) return result;
  }
  out.stderr(`handover: no running launcher has an app named ${JSON.stringify(name)}\n`);
  return 3;
}

/** What {@link ask} returns when the launcher has no app of the name asked for. */
const MISSING = -1;

async function ask(
  path: string,
  request: ControlRequest,
  out: ControlOutput,
  label: string = request.name ?? "",
  quietWhenMissing = false,
): Promise<number> {
  const { createConnection } = await import("node:net");
  return await new Promise<number>((resolve) => {
    let code = 0;
    let buffer = "";
    const socket = createConnection({ path });
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let message: { text?: string; line?: string; error?: string; missing?: boolean };
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        // Launchers of an earlier version say "no app named" without `missing`.
        const missing = message.missing === true || message.error?.startsWith("no app named ") === true;
        if (message.error !== undefined && missing && quietWhenMissing) {
          code = MISSING;
        } else if (message.error !== undefined) {
          out.stderr(`handover: ${label}: ${printable(message.error)}\n`);
          code = 1;
        }
        if (message.text !== undefined) out.stdout(message.text);
        if (message.line !== undefined) out.stdout(`${printable(message.line)}\n`);
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (code !== 0) return; // the launcher said why already
      if (quietWhenMissing && (error.code === "ECONNREFUSED" || error.code === "ENOENT")) {
        code = MISSING; // a stale socket file: try the next launcher
        return;
      }
      out.stderr(
        `handover: cannot reach ${label} at ${path}: ${
          error.code === "ECONNREFUSED" || error.code === "ENOENT" ? "no launcher answers there" : error.message
        }\n`,
      );
      code = error.code === "ECONNREFUSED" || error.code === "ENOENT" ? 3 : 1;
    });
    socket.on("close", () => resolve(code));
  });
}
