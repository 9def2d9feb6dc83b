/**
 * `--health ADDR`: the launcher's HTTP health endpoints for container
 * probes. `/readyz` answers 200 once the app sent `READY=1` and is neither
 * reloading nor stopping; `/livez` answers 200 while the app runs and its
 * watchdog (when there is one) is fed. Both read the supervisor's state at
 * each request, so there is nothing to keep in step. Served with `node:http`,
 * which Node, Deno and Bun all have; it is loaded only when `--health` is given.
 *
 * @module
 */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { AppState } from "./app_state.ts";

/** Where the health endpoints listen. */
export interface HealthAddress {
  /** The host, or undefined for every interface (`:8081`). */
  readonly host: string | undefined;
  readonly port: number;
}

/** An endpoint's answer: its HTTP status and a line saying why. */
export interface HealthVerdict {
  readonly ok: boolean;
  readonly reason: string;
}

/**
 * Parses `--health`'s value: `HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT`
 * (the last two on every interface, as a container's probes need).
 *
 * @param text The option's value.
 * @returns The address.
 * @throws {RangeError} When the port is not a number from 0 to 65535 or the host is empty.
 *
 * @example
 * ```ts
 * import { parseHealthAddress } from "./health.ts";
 * parseHealthAddress(":8081"); // { host: undefined, port: 8081 }
 * parseHealthAddress("127.0.0.1:0"); // { host: "127.0.0.1", port: 0 }
 * ```
 */
export function parseHealthAddress(text: string): HealthAddress {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]]*):)?([0-9]{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65535) {
    throw new RangeError(`Expected --health HOST:PORT, :PORT or PORT (port 0 to 65535), got ${JSON.stringify(text)}`);
  }
  const host = match[1] === undefined || match[1] === "" ? undefined : match[1].replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

/**
 * What `/readyz` answers: ready once `READY=1` was seen, and neither
 * `RELOADING=1` nor `STOPPING=1` is in force (systemd's `active` state, not
 * `reloading` or `deactivating`). An on-demand launcher waiting for its first
 * connection is ready: its sockets take connections and start the app.
 *
 * @param state The supervisor's snapshot.
 * @returns Whether the app is ready, and why not.
 *
 * @example
 * ```ts
 * import { readiness } from "./health.ts";
 * const state = {
 *   phase: "running", pid: 42, startedAt: 0, ready: true, reloading: true, stopping: false,
 *   watchdogMs: undefined, sinceKeepAliveMs: undefined, status: undefined, restarts: 0,
 * } as const;
 * readiness(state); // { ok: false, reason: "pid 42 is reloading" }
 * ```
 */
export function readiness(state: AppState): HealthVerdict {
  if (state.phase === "waiting") return { ok: true, reason: "waiting for the first connection" };
  if (state.pid === undefined) return { ok: false, reason: `no app running (${state.phase})` };
  if (state.stopping) return { ok: false, reason: `pid ${state.pid} is stopping` };
  if (state.reloading) return { ok: false, reason: `pid ${state.pid} is reloading` };
  if (!state.ready) return { ok: false, reason: `pid ${state.pid} has not sent READY=1` };
  return { ok: true, reason: `pid ${state.pid} is ready` };
}

/**
 * What `/livez` answers: alive while an instance runs and, with a watchdog,
 * has sent `WATCHDOG=1` within the interval. An on-demand launcher waiting
 * for its first connection is alive.
 *
 * @param state The supervisor's snapshot.
 * @returns Whether the app is alive, and why not.
 *
 * @example
 * ```ts
 * import { liveness } from "./health.ts";
 * const state = {
 *   phase: "running", pid: 42, startedAt: 0, ready: true, reloading: false, stopping: false,
 *   watchdogMs: 1000, sinceKeepAliveMs: 1500, status: undefined, restarts: 0,
 * } as const;
 * liveness(state).ok; // false: the watchdog is stale
 * ```
 */
export function liveness(state: AppState): HealthVerdict {
  if (state.phase === "waiting") return { ok: true, reason: "waiting for the first connection" };
  if (state.pid === undefined) return { ok: false, reason: `no app running (${state.phase})` };
  if (state.watchdogMs !== undefined && (state.sinceKeepAliveMs ?? Infinity) > state.watchdogMs) {
    return { ok: false, reason: `pid ${state.pid} has not sent WATCHDOG=1 for ${state.watchdogMs / 1000} s` };
  }
  return { ok: true, reason: `pid ${state.pid} is alive` };
}

/** The running health endpoints. */
export interface HealthServer {
  /** Where they listen (the port picked for port 0). */
  readonly address: HealthAddress;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * Serves `/readyz` and `/livez` (GET or HEAD; 200 or 503 with a line saying
 * why) until closed.
 *
 * @param address Where to listen.
 * @param state Reads the supervisor's snapshot.
 * @returns The server, once it listens.
 * @throws {Error} The listen error (`EADDRINUSE`, `EACCES`…), with its `code`.
 *
 * @example
 * ```ts
 * import { serveHealth } from "./health.ts";
 * const state = {
 *   phase: "running", pid: 42, startedAt: 0, ready: true, reloading: false, stopping: false,
 *   watchdogMs: undefined, sinceKeepAliveMs: undefined, status: undefined, restarts: 0,
 * } as const;
 * const health = await serveHealth({ host: "127.0.0.1", port: 0 }, () => state);
 * const response = await fetch(`http://127.0.0.1:${health.address.port}/readyz`);
 * response.status; // 200
 * await response.text(); // "pid 42 is ready\n"
 * await health.close();
 * ```
 */
export async function serveHealth(address: HealthAddress, state: () => AppState): Promise<HealthServer> {
  const { createServer } = await import("node:http");
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const verdict = path === "/readyz" ? readiness(state()) : path === "/livez" ? liveness(state()) : undefined;
    const status = verdict === undefined ? 404 : verdict.ok ? 200 : 503;
    const body = verdict === undefined ? "not found: try /readyz or /livez\n" : `${verdict.reason}\n`;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end();
      return;
    }
    response.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    response.end(request.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: address.host, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
