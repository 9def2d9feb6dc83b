/**
 * What a supervisor tells the launcher's health endpoints and control socket
 * about its app: a snapshot, read at each request. Imports nothing.
 *
 * @module
 */

/** Where a supervisor is: nothing started yet, waiting for a connection, running, backing off, finished. */
export type SupervisorPhase = "idle" | "waiting" | "running" | "backoff" | "done";

/** A snapshot of one supervised app. */
export interface AppState {
  /** Where the supervisor is. */
  readonly phase: SupervisorPhase;
  /** The main process of the serving instance, or undefined when none runs. */
  readonly pid: number | undefined;
  /** When that instance started (`Date.now()`), or undefined. */
  readonly startedAt: number | undefined;
  /** It sent `READY=1` (a new instance of an overlapped restart also once it listens on every socket). */
  readonly ready: boolean;
  /** It sent `RELOADING=1`, or was asked to reload, and has not sent `READY=1` since. */
  readonly reloading: boolean;
  /** It sent `STOPPING=1`, or the launcher is stopping it. */
  readonly stopping: boolean;
  /** The watchdog interval in force, or undefined without a watchdog. */
  readonly watchdogMs: number | undefined;
  /** How long ago the watchdog was last fed (`WATCHDOG=1`, or the start), or undefined. */
  readonly sinceKeepAliveMs: number | undefined;
  /** The last `STATUS=` it sent. */
  readonly status: string | undefined;
  /** How many times an instance was started after the first. */
  readonly restarts: number;
  /** With several workers: each worker's serving main process, in worker order (undefined where none runs). */
  readonly workerPids?: readonly (number | undefined)[];
}
