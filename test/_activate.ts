// Socket activation for tests: systemd-socket-activate (systemd's own tool) binds the sockets, waits for
// the first connection and execs a fixture in the runtime under test with LISTEN_FDS/LISTEN_FDNAMES.
// Plus plain clients (HTTP over TCP or a unix path, raw stream, UDP) and a count of the listening sockets
// a process holds, from /proc/<pid>/fd and /proc/net/*.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { createInterface } from "node:readline";
import { FIXTURES, ROOT, runtimeArgv } from "./_helpers.ts";
import { join } from "node:path";

/** Where a test client connects. */
export type Endpoint = { host: string; port: number } | { path: string };

/** A socket for systemd-socket-activate to bind. */
export interface ActivatedSocket {
  /** `127.0.0.1:PORT`, `[::1]:PORT` or a path. */
  readonly listen: string;
  readonly name: string;
}

/** A fixture started by systemd-socket-activate. */
export interface Activation {
  readonly child: ChildProcess;
  /** The next JSON line the fixture prints. */
  nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Sends a line to the fixture's stdin. */
  send(line: string): void;
  /** Kills the child (by its pid) unless it has exited, and waits for it. */
  stop(): Promise<void>;
}

/** A free port on a loopback address (bound and released; fine for tests on loopback). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Endpoint of a `listen` string. */
export function endpointOf(listen: string): Endpoint {
  if (listen.startsWith("/")) return { path: listen };
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(listen)!;
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * Starts `fixture` (in the runtime under test) through systemd-socket-activate with the given sockets.
 * systemd-socket-activate execs the fixture on the first connection, so connections made before that
 * wait in the sockets' queues.
 */
export async function activate(
  sockets: readonly ActivatedSocket[],
  fixture: string,
  args: readonly string[] = [],
  options: { datagram?: boolean } = {},
): Promise<Activation> {
  const [command, argv] = runtimeArgv(join(FIXTURES, fixture));
  const child = spawn("systemd-socket-activate", [
    ...(options.datagram ? ["--datagram"] : []),
    ...sockets.map((s) => `--listen=${s.listen}`),
    `--fdname=${sockets.map((s) => s.name).join(":")}`,
    command,
    ...argv,
    ...args,
  ], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => stderr += d);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queue.push(line);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    })
  );
  const activation: Activation = {
    child,
    stderr: () => stderr,
    send: (line) => child.stdin!.write(`${line}\n`),
    nextJson: async <T>(timeoutMs = 20_000) => {
      for (;;) {
        const line = queue.shift() ?? await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no JSON from the fixture in ${timeoutMs} ms; stderr: ${stderr}`)),
            timeoutMs,
          );
          waiting.push((l) => {
            clearTimeout(timer);
            resolve(l);
          });
          void exit.then(() => {
            clearTimeout(timer);
            reject(new Error(`the fixture exited (${child.exitCode ?? child.signalCode}); stderr: ${stderr}`));
          });
        });
        if (line.startsWith("{")) return JSON.parse(line) as T;
      }
    },
    stop: async () => {
      if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      await exit;
    },
  };
  // Bound: systemd-socket-activate reports each socket before it waits for a connection.
  const deadline = Date.now() + 10_000;
  while ((stderr.match(/Listening on/g) ?? []).length < sockets.length) {
    if (exited || Date.now() > deadline) {
      await activation.stop();
      assert.fail(`systemd-socket-activate did not listen: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return activation;
}

function connect(endpoint: Endpoint): net.Socket {
  return "path" in endpoint ? net.connect(endpoint.path) : net.connect(endpoint.port, endpoint.host);
}

/** Sends what to a stream endpoint and returns everything it answers until it closes (bounded). */
export function exchange(endpoint: Endpoint, data: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${timeoutMs} ms (got ${JSON.stringify(text)})`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => text += d);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(data);
  });
}

/** An HTTP/1.1 GET with `Connection: close`; returns the status line and the body. */
export async function httpGet(endpoint: Endpoint, path = "/"): Promise<{ status: string; body: string }> {
  const raw = await exchange(endpoint, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const [head = "", ...rest] = raw.split("\r\n\r\n");
  let body = rest.join("\r\n\r\n");
  if (/transfer-encoding: chunked/i.test(head)) {
    // Deno and node:http chunk some bodies; undo it.
    let out = "";
    for (let at = 0;;) {
      const eol = body.indexOf("\r\n", at);
      const size = parseInt(body.slice(at, eol), 16);
      if (!(size > 0)) break;
      out += body.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
    body = out;
  }
  return { status: head.split("\r\n")[0] ?? "", body };
}

/** Sends one UDP datagram and waits for the answer (bounded). */
export function udpExchange(host: string, port: number, message: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP answer in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("message", (data) => {
      clearTimeout(timer);
      socket.close();
      resolve(String(data));
    });
    socket.send(message, port, host);
  });
}

/** Whether a connection to the endpoint is refused (nothing listens). */
export function refused(endpoint: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(endpoint);
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code === "ECONNREFUSED" || error.code === "ENOENT");
    });
  });
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  return inodes;
}

/**
 * The listening (or, for UDP, bound) sockets process `pid` holds, from /proc/net/{tcp,tcp6,udp,udp6,unix}:
 * each as `tcp 127.0.0.1:8080`-like text (addresses in /proc's hex form for IP, the path for unix).
 */
export function listeningSockets(pid: number): string[] {
  const mine = socketInodes(pid);
  const found: string[] = [];
  for (const table of ["tcp", "tcp6", "udp", "udp6"]) {
    const rows = readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      const state = cols[3];
      const inode = cols[9]!;
      if (!mine.has(inode)) continue;
      if (table.startsWith("tcp") && state !== "0A") continue;
      found.push(`${table} ${cols[1]}`);
    }
  }
  const unix = readFileSync(`/proc/${pid}/net/unix`, "utf8").trim().split("\n").slice(1);
  for (const row of unix) {
    const cols = row.trim().split(/\s+/);
    // Flags 00010000 is __SO_ACCEPTCON: a listening socket.
    if (mine.has(cols[6]!) && cols[3] === "00010000") found.push(`unix ${cols[7] ?? ""}`);
  }
  return found;
}
