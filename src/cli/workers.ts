/**
 * `handover --workers N`: N supervisors, one per worker, on the same named
 * sockets. Each worker is an app of its own (its own `LISTEN_PID`,
 * `NOTIFY_SOCKET`, fd store and process group) with `WORKER_INDEX` and
 * `WORKER_COUNT` set; a crash restarts that worker alone. SIGHUP and
 * `--watch` restart the workers one at a time, each with the overlapped
 * hand-over (its successor ready, then it drains), so some worker always
 * accepts. In reuseport mode worker i always gets socket set i, which the
 * launcher keeps open across its restarts, so a queue never dies with its
 * process.
 *
 * @module
 */

import type { LaunchOptions } from "./args.ts";
import type { FdStore } from "./fdstore.ts";
import type { Listener } from "./listeners.ts";
import type { NotifyReceiver } from "./notify_receiver.ts";
import type { AppState } from "./app_state.ts";
import { Supervisor, type SupervisorOutput, type SupervisorSettings } from "./supervisor.ts";
import { ChangeWatcher } from "./watch.ts";

/** What one worker needs from the launcher. */
export interface WorkerResources {
  /** Its sockets: the same for every worker in shared mode, its own TCP sockets in reuseport mode. */
  readonly listeners: readonly Listener[];
  readonly receiver: NotifyReceiver | undefined;
  readonly store: FdStore;
}

/** The longest a rolling restart waits for one worker beyond its ready and stop timeouts. */
const ROLLING_SLACK_MS = 5_000;
/** systemd's default TimeoutStartSec, the ready timeout of an overlapped restart without --ready-timeout. */
const DEFAULT_READY_MS = 90_000;

/** Runs N workers until the launcher is told to stop or every worker has ended. */
export class WorkerPool {
  private readonly options: LaunchOptions;
  private readonly supervisors: Supervisor[];
  private readonly out: SupervisorOutput;
  private rolling = false;
  /** A rolling restart asked for while one runs: it follows, from worker 0 again. */
  private rollAgain: string | undefined;
  private watcher: ChangeWatcher | undefined;
  private readonly onHangUp = (): void => void this.roll("SIGHUP");
  private readonly signals: boolean;

  /**
   * Sets the workers up; nothing runs before {@link WorkerPool.run}.
   *
   * @param options The parsed command line (`options.workers` > 1).
   * @param resources One entry per worker.
   * @param out Where to report; each line is prefixed with the worker's index.
   * @param settings What the `Launcher` API changes, for every worker (`signals: false`: the pool leaves SIGHUP
   * alone too).
   */
  constructor(
    options: LaunchOptions,
    resources: readonly WorkerResources[],
    out: SupervisorOutput,
    settings: SupervisorSettings = {},
  ) {
    this.options = options;
    this.out = out;
    this.signals = settings.signals !== false;
    const spawned = settings.spawned ?? new Set<number>();
    // The pool owns --watch: a change restarts the workers one at a time, not all at once.
    const workerOptions: LaunchOptions = { ...options, watch: [] };
    this.supervisors = resources.map((r, index) => {
      const prefix = `worker ${index}: `;
      const log: SupervisorOutput = {
        info: (line) => out.info(prefix + line),
        warn: (line) => out.warn(prefix + line),
      };
      return new Supervisor(workerOptions, r.listeners, r.receiver, r.store, log, {
        index,
        count: resources.length,
        mode: options.workersMode,
        spawned,
      }, settings);
    });
  }

  /**
   * Starts every worker and runs until SIGTERM/SIGINT (passed to every worker, which drains), or until every
   * worker has ended and is not to be restarted.
   *
   * @returns The first non-zero exit code of a worker, else 0.
   *
   * @example
   * ```ts ignore
   * process.exitCode = await new WorkerPool(options, resources, out).run();
   * ```
   */
  async run(): Promise<number> {
    // Each supervisor listens for SIGTERM, SIGINT and its wake-up signal.
    const wanted = 4 * this.supervisors.length + 10;
    if (process.getMaxListeners() < wanted) process.setMaxListeners(wanted);
    if (this.signals) process.on("SIGHUP", this.onHangUp);
    if (this.options.watch.length > 0) {
      this.watcher = new ChangeWatcher(
        this.options.watch,
        this.options.debounceSec * 1000,
        (path) => void this.roll(`change in ${path}`),
      );
    }
    try {
      const codes = await Promise.all(this.supervisors.map((s) => s.run()));
      return codes.find((code) => code !== 0) ?? 0;
    } finally {
      if (this.signals) process.off("SIGHUP", this.onHangUp);
      this.watcher?.close();
    }
  }

  /**
   * Restarts the workers one at a time, as SIGHUP does.
   *
   * @param why What asked for it, for the log.
   * @returns Resolves once every worker was replaced (or failed to be, and serves on).
   *
   * @example
   * ```ts ignore
   * await pool.restart("handover restart");
   * ```
   */
  restart(why: string): Promise<void> {
    return this.roll(why);
  }

  /**
   * Asks every worker to stop (as SIGTERM would); {@link WorkerPool.run} then resolves.
   *
   * @param force SIGKILL at once instead of SIGTERM and the stop timeout.
   *
   * @example
   * ```ts ignore
   * pool.stop(false);
   * ```
   */
  stop(force: boolean): void {
    for (const supervisor of this.supervisors) supervisor.request(force ? "kill" : "stop", "stop");
  }

  /**
   * Worker 0's snapshot, with every worker's restarts and readiness.
   *
   * @returns The snapshot.
   *
   * @example
   * ```ts ignore
   * pool.state().ready; // every worker is ready
   * ```
   */
  state(): AppState {
    const states = this.supervisors.map((s) => s.state());
    return {
      ...states[0]!,
      ready: states.every((s) => s.ready),
      restarts: states.reduce((sum, s) => sum + s.restarts, 0),
      workerPids: states.map((s) => s.pid),
    };
  }

  /** Restarts the workers one at a time: worker i's successor is ready before worker i stops. */
  private async roll(why: string): Promise<void> {
    if (this.rolling) {
      this.rollAgain = why;
      return;
    }
    this.rolling = true;
    try {
      let reason: string | undefined = why;
      while (reason !== undefined) {
        this.rollAgain = undefined;
        this.out.info(`${reason}: restarting ${this.supervisors.length} workers one at a time`);
        for (const supervisor of this.supervisors) await this.bounded(supervisor.restartWorker(reason));
        reason = this.rollAgain;
      }
    } finally {
      this.rolling = false;
    }
  }

  /** Waits for one worker's restart, no longer than its ready and stop timeouts allow. */
  private bounded(restart: Promise<void>): Promise<void> {
    const readyMs = this.options.readyTimeoutSec !== undefined ? this.options.readyTimeoutSec * 1000 : DEFAULT_READY_MS;
    const ms = readyMs + this.options.stopTimeoutSec * 1000 + ROLLING_SLACK_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, Math.min(ms, 2 ** 31 - 1)));
    return Promise.race([restart, timeout]).finally(() => clearTimeout(timer));
  }
}
