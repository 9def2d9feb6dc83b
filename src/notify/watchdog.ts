/**
 * The service watchdog: reading `WATCHDOG_USEC`/`WATCHDOG_PID` like
 * libsystemd's `sd_watchdog_enabled()` (src/libsystemd/sd-daemon/sd-daemon.c),
 * and a keep-alive timer that pings at half the interval.
 *
 * @module
 */

import { HandoverError } from "../sys/errors.ts";
import { notify } from "./notify.ts";
import { environmentVariable, system } from "../ffi/system.ts";

/** Options of {@link watchdogInterval}. */
export interface WatchdogIntervalOptions {
  /** Remove `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment afterwards (whatever the result). */
  readonly unsetEnv?: boolean;
}

const USEC_INFINITY = (1n << 64n) - 1n;

function invalid(name: string, value: string, expected: string): HandoverError {
  return new HandoverError("EINVAL", `${name} must be ${expected}, got ${JSON.stringify(value)}`);
}

/**
 * The watchdog timeout the service manager set for this process, from
 * `WATCHDOG_USEC` (and `WATCHDOG_PID`, when set, which must be this process).
 *
 * @param options `unsetEnv` to remove both variables, so children do not inherit them.
 * @returns The timeout in milliseconds (fractions kept), or null when the
 * watchdog is not enabled for this process.
 * @throws {HandoverError} `EINVAL` when `WATCHDOG_USEC` is 0, infinity or not
 * a number, or `WATCHDOG_PID` is not a pid.
 *
 * @example What `WatchdogSec=2` gives
 * ```ts
 * import { watchdogInterval } from "../../mod.ts";
 * Deno.env.set("WATCHDOG_USEC", "2000000"); // as systemd sets it
 * watchdogInterval({ unsetEnv: true }); // 2000
 * watchdogInterval(); // null: not enabled any more
 * ```
 */
export function watchdogInterval(options: WatchdogIntervalOptions = {}): number | null {
  const { env } = system().backend;
  try {
    const usec = environmentVariable("WATCHDOG_USEC");
    if (usec === undefined) return null;
    if (!/^[0-9]+$/.test(usec)) throw invalid("WATCHDOG_USEC", usec, "a number of microseconds");
    const value = BigInt(usec);
    if (value === 0n || value >= USEC_INFINITY) {
      throw invalid("WATCHDOG_USEC", usec, "a number of microseconds above 0 and below infinity");
    }
    const pid = environmentVariable("WATCHDOG_PID");
    if (pid !== undefined) {
      if (!/^[1-9][0-9]*$/.test(pid) || Number(pid) > 0x7fffffff) {
        throw invalid("WATCHDOG_PID", pid, "a process id");
      }
      // The watchdog is for another process (a parent that did not unset it).
      if (Number(pid) !== system().backend.pid) return null;
    }
    return Number(value) / 1000;
  } finally {
    if (options.unsetEnv === true) {
      env.delete("WATCHDOG_USEC");
      env.delete("WATCHDOG_PID");
    }
  }
}

/** A health check: the watchdog is pinged only when it returns (or resolves to) true. */
export type HealthCheck = () => boolean | Promise<boolean>;

/** Options of {@link startWatchdog}. */
export interface WatchdogOptions {
  /** Called when a ping fails or the health check throws (by default such errors are dropped). */
  readonly onError?: (error: unknown) => void;
}

/** A running keep-alive timer from {@link startWatchdog}. */
export interface WatchdogKeepAlive {
  /** How often it pings, in milliseconds: half the watchdog timeout. */
  readonly intervalMs: number;
  /** Stops pinging (the service manager will then act when the timeout passes). */
  stop(): void;
}

/**
 * Pings the watchdog at half its interval, at once and then on a timer that
 * never keeps the process alive by itself. With a health check, a ping is
 * skipped when the check fails (returns false, throws or rejects), so a
 * stuck service gets restarted.
 *
 * @param check The health check, run before each ping.
 * @param options An error callback.
 * @returns The timer, or null when the watchdog is not enabled for this process.
 * @throws {HandoverError} `EINVAL` when `WATCHDOG_USEC` or `WATCHDOG_PID` is malformed.
 *
 * @example With `WatchdogSec=10` in the unit
 * ```ts
 * import { ready, startWatchdog } from "../../mod.ts";
 * Deno.env.set("WATCHDOG_USEC", "10000000"); // as systemd sets it
 * const keepAlive = startWatchdog(() => true); // your health check, like () => database.isConnected()
 * await ready();
 * keepAlive?.intervalMs; // 5000: half the timeout
 * keepAlive?.stop(); // at shutdown
 * Deno.env.delete("WATCHDOG_USEC");
 * ```
 */
export function startWatchdog(check?: HealthCheck, options: WatchdogOptions = {}): WatchdogKeepAlive | null {
  if (check !== undefined && typeof check !== "function") {
    throw new TypeError(`Expected the health check to be a function, got ${typeof check}`);
  }
  const timeout = watchdogInterval();
  if (timeout === null) return null;
  const intervalMs = timeout / 2;
  const { backend } = system();
  let stopped = false;
  let busy = false;
  const report = (error: unknown) => {
    try {
      options.onError?.(error);
    } catch {
      // an error callback that throws must not stop the timer
    }
  };
  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      if (check !== undefined && (await check()) !== true) return;
      if (!stopped) await notify("WATCHDOG=1");
    } catch (error) {
      report(error);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, Math.max(1, intervalMs));
  backend.unrefTimer(timer);
  void tick();
  return {
    intervalMs,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
