/**
 * The launcher's supervisor: starts the app with the sockets at fd 3, 4, …
 * (at once or on the first connection), reads its notifications, enforces
 * the ready and watchdog timeouts, restarts it with back-off, on change and
 * on SIGHUP, forwards SIGTERM/SIGINT, and keeps the fd store. The sockets
 * never leave the launcher, so a restart drops nothing: connections wait in
 * the kernel's backlog until the next app accepts them.
 *
 * Each instance runs in a session and process group of its own; the launcher
 * is the child subreaper of everything below it. Stopping an instance signals
 * its main process, its group and every process of it found outside the
 * group (systemd's `KillMode=control-group`, with the process tree standing
 * in for the cgroup), then SIGKILLs whatever is left after the stop timeout;
 * an instance whose main process exits by itself has its leftovers stopped
 * the same way before the next start. A guard process ends the app if the
 * launcher itself dies.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import { childStdio } from "../fd/child.ts";
import { close, fdFlags, setNonBlocking } from "../fd/fd.ts";
import { getIntOption, setReceiveTimeout } from "../fd/socket.ts";
import { check, system } from "../ffi/system.ts";
import { launcherHandoff } from "../activation/handoff.ts";
import type { AppState } from "./app_state.ts";
import type { LaunchOptions } from "./args.ts";
import type { FdStore } from "./fdstore.ts";
import { Guard } from "./guard.ts";
import type { Listener } from "./listeners.ts";
import type { NotifyDatagram, NotifyReceiver } from "./notify_receiver.ts";
import {
  becomeSubreaper,
  instanceMembers,
  inTree,
  orphanZombies,
  type ProcessEntry,
  processEntry,
  processTable,
  reapChild,
  recentProcessTable,
} from "./process_tree.ts";
import { watchedInodes } from "./readiness.ts";
import { ChangeWatcher } from "./watch.ts";
import { statFd } from "../fd/inspect.ts";
import { readableNow, setSignalDriven, Wakeup } from "./wakeup.ts";

/** Where the supervisor reports. */
export interface SupervisorOutput {
  /** A progress line (suppressed by `-q`). */
  info(line: string): void;
  /** A problem worth seeing even with `-q`. */
  warn(line: string): void;
}

/** The variables a service manager sets; never passed through from the launcher's own environment. */
const MANAGER_VARIABLES = [
  "LISTEN_PID",
  "LISTEN_PIDFDID",
  "LISTEN_FDS",
  "LISTEN_FDNAMES",
  "LISTEN_FDS_FIRST_FD",
  "HANDOVER_LAUNCHER",
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "HANDOVER_WORKERS",
];

/** One worker of `--workers N`: which one, and what the supervisors of one launcher share. */
export interface WorkerSlot {
  /** 0 to count - 1: the app's `WORKER_INDEX`. */
  readonly index: number;
  /** The app's `WORKER_COUNT`. */
  readonly count: number;
  /** The app's `HANDOVER_WORKERS`: whether its TCP sockets are shared by all workers or its own (reuseport). */
  readonly mode: "shared" | "reuseport";
  /** The children of every supervisor of the launcher, so that none reaps another's as an orphan. */
  readonly spawned: Set<number>;
}

/**
 * What a supervisor tells its owner beyond log lines (the `Launcher` API's events). Each is called synchronously
 * where the supervisor acts, so the calls for one app come in the order things happened.
 */
export interface SupervisorHooks {
  /** The app's socket became readable while the supervisor waited for the first connection (on demand). */
  connection?(): void;
  /** An instance was started. */
  start?(pid: number): void;
  /** An instance sent READY=1 (or, with `readyOnListen`, waits on every socket). */
  ready?(pid: number): void;
  /** An instance sent a new STATUS=. */
  status?(pid: number, status: string): void;
  /** An instance's main process ended. */
  exit?(pid: number, code: number | null, signal: NodeJS.Signals | null): void;
  /** A restart was asked for (a change, SIGHUP or a request). */
  restart?(why: string): void;
  /** Something went wrong with the app: it could not start, hit its start limit, its watchdog or ready timeout. */
  error?(kind: "spawn" | "start-limit" | "watchdog" | "ready-timeout", message: string): void;
  /** A chunk the app wrote to its stdout or stderr (only with `pipeOutput`). */
  output?(stream: "stdout" | "stderr", chunk: string): void;
}

/** How a supervisor run by the `Launcher` API differs from the command line's. */
export interface SupervisorSettings {
  /** Called as things happen. */
  readonly hooks?: SupervisorHooks;
  /** Listen for SIGTERM, SIGINT and SIGHUP itself (default true); the Launcher owns the signals instead. */
  readonly signals?: boolean;
  /** The children of every supervisor of the launcher, so that none reaps another's as an orphan. */
  readonly spawned?: Set<number>;
  /** The app's working directory (default: the launcher's). */
  readonly cwd?: string;
  /** Variables set for the app on top of the launcher's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Pipe the app's stdout and stderr through {@link SupervisorHooks.output} instead of sharing the launcher's. */
  readonly pipeOutput?: boolean;
  /** An app that never sends READY=1 counts as ready once its event loop waits on every socket. */
  readonly readyOnListen?: boolean;
}

/** The most the restart back-off grows to. */
const MAX_BACKOFF_MS = 10_000;
/** A run this long resets the back-off. */
const STABLE_MS = 10_000;
/** systemd's default TimeoutStartSec, for reloads without --ready-timeout. */
const DEFAULT_RELOAD_TIMEOUT_MS = 90_000;
/** The longest a timer waits in every runtime (longer ones fire at once in Node and Deno). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often the processes of a stopping instance are looked for. */
const SETTLE_POLL_MS = 50;
/** How often an instance that does not speak the notify protocol is checked for waiting on its sockets. */
const LISTENING_POLL_MS = 20;
/** Every how many of those checks the whole process tree is read, not only the main process. */
const TREE_EVERY = 5;
/** How long processes get to vanish after SIGKILL before the launcher gives up on them. */
const KILL_GRACE_MS = 5_000;
/**
 * How often (in wake-up ticks of 1 s) a running instance's processes are looked for, and orphans reaped: every
 * tick in the first ticks after a start (when apps daemonise), then every few.
 */
const TREE_SCAN_TICKS = 5;

/** A timer that clamps its delay to what every runtime can wait (an app may send any WATCHDOG_USEC=). */
function later(callback: () => void, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(callback, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
}

/**
 * Why an instance was stopped: `replaced` when a new instance took over (an overlapped restart), `unready` when a
 * new instance did not become ready and the old one goes on serving.
 */
type StopReason =
  | "restart"
  | "watchdog"
  | "ready-timeout"
  | "shutdown"
  | "leftovers"
  | "replaced"
  | "unready"
  | "idle";

interface RunningApp {
  readonly process: ChildProcess;
  /** The main process, also the id of the instance's session and process group. */
  readonly pid: number;
  readonly startedAt: number;
  /** The main process's start time in `/proc` (undefined without `/proc`). */
  readonly startTime: number | undefined;
  ready: boolean;
  reloading: boolean;
  /** SIGHUP was passed on and the app has not answered with READY=1 yet. */
  reloadRequested: boolean;
  stopReason: StopReason | undefined;
  watchdogMs: number | undefined;
  watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  readyTimer: ReturnType<typeof setTimeout> | undefined;
  stopTimer: ReturnType<typeof setTimeout> | undefined;
  status: string | undefined;
  /** The main process has ended. */
  exited: boolean;
  /** Every process of the instance has ended (or was given up on after SIGKILL). */
  settled: boolean;
  /** Processes of the instance outside its process group (escaped with setsid), by pid. */
  readonly escaped: Set<number>;
  /** It sent STOPPING=1. */
  stopping?: boolean;
  /** When the watchdog was last fed (performance.now()). */
  keptAliveAt?: number;
}

function signalNumber(signal: string): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

/**
 * Signals by pid (a negative one for a process group) rather than through
 * `ChildProcess.kill()`: Deno's `kill()` makes the exit event report the
 * signal sent instead of how the app really ended (an app that traps SIGTERM
 * and exits 7 shows as killed).
 */
function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // gone already; an exit event follows for our own children
  }
}

/**
 * Gives every child fd number a source fd of its own: Deno's spawn() fails
 * with EBADF when one fd is to appear at two numbers (the sockets at 3, 4, …
 * and their spare copies for wrappers), so each repeat gets a duplicate,
 * pushed onto `copies` for the caller to close once the child has them.
 */
function distinctSources(placement: Readonly<Record<number, number>>, copies: number[]): Record<number, number> {
  const { libc, c } = system();
  const used = new Set<number>();
  const placed: Record<number, number> = {};
  for (const [target, fd] of Object.entries(placement)) {
    if (used.has(fd)) {
      const copy = check(libc.fcntl(fd, c.F_DUPFD_CLOEXEC, 3), "fcntl", `F_DUPFD_CLOEXEC of fd ${fd}`);
      copies.push(copy);
      placed[Number(target)] = copy;
    } else {
      used.add(fd);
      placed[Number(target)] = fd;
    }
  }
  return placed;
}

// How long an accept(2) that another worker starts while its shared socket is blocking may wait.
const SPAWN_ACCEPT_TIMEOUT_MS = 20;

/**
 * Keeps the workers that serve a shared socket from blocking while another
 * instance is spawned. Deno's spawn() clears `O_NONBLOCK` on every fd it
 * places in the child (in the child, between fork and exec), and `O_NONBLOCK`
 * belongs to the open file description, which every process given the socket
 * shares: a worker's event loop that calls accept(2) then would block in it
 * until the next connection, with its other connections unserved (and with
 * every client waiting on it, for ever). So, for the spawn, listening
 * sockets that were non-blocking get `SO_RCVTIMEO` (an accept(2) that blocks
 * gives up with `EAGAIN`, which event loops take as "wait for the next
 * event"), and `restore()` sets `O_NONBLOCK` again and clears the timeout.
 * A connection accepted meanwhile inherits the timeout (socket(7) options are
 * copied to accepted sockets); only a blocking read would see it, and the
 * sockets were non-blocking, so the apps serving them read without blocking.
 */
function guardNonBlocking(fds: readonly number[]): { restore(): void } {
  const { c } = system();
  const nonBlocking = fds.filter((fd) => fdFlags(fd).nonBlocking);
  const timed = nonBlocking.filter((fd) => {
    try {
      if (getIntOption(fd, c.SOL_SOCKET, c.SO_ACCEPTCONN) === 0) return false;
      setReceiveTimeout(fd, SPAWN_ACCEPT_TIMEOUT_MS);
      return true;
    } catch {
      return false; // not a socket
    }
  });
  return {
    restore() {
      for (const fd of nonBlocking) setNonBlocking(fd, true);
      for (const fd of timed) setReceiveTimeout(fd, 0);
    },
  };
}

/** Signals only the app's main process (`--reload-signal`, as systemd's `ReloadSignal=`). */
function signalApp(app: RunningApp, signal: NodeJS.Signals): void {
  if (!app.exited) signalPid(app.pid, signal);
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Runs one app under supervision until the launcher is told to stop. */
export class Supervisor {
  private readonly options: LaunchOptions;
  private readonly listeners: readonly Listener[];
  private readonly receiver: NotifyReceiver | undefined;
  private readonly store: FdStore;
  private readonly out: SupervisorOutput;
  private app: RunningApp | undefined;
  /** A new instance started beside {@link app} for an overlapped restart, until it is ready. */
  private pending: RunningApp | undefined;
  /** A restart was asked for while {@link pending} was starting: another one follows once it is ready. */
  private restartAgain: string | undefined;
  /** The app has sent READY=1 before: new instances are ready when they say so, not when they listen. */
  private speaksNotify = false;
  /** The listening sockets' inodes, for telling when a new instance's event loop waits on them. */
  private listenerInodes: bigint[] | undefined;
  private readinessTimer: ReturnType<typeof setInterval> | undefined;
  /** The pid whose last notifications are still read after it exited. */
  private lingeringPid: number | undefined;
  private phase: "idle" | "waiting" | "running" | "backoff" | "done" = "idle";
  private failures = 0;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  private shuttingDown = false;
  private speaksReload = false;
  private readonly warnedPids = new Set<number>();
  private wakeup: Wakeup | undefined;
  private watcher: ChangeWatcher | undefined;
  private readonly signalHandlers: [string, () => void][] = [];
  private finish: (code: number) => void = () => {};
  private readonly baseEnv: Record<string, string>;
  /** The launcher's children that the runtime itself waits for: instances and the guard (of every worker). */
  private readonly spawned: Set<number>;
  private readonly worker: WorkerSlot | undefined;
  /** Callers of {@link Supervisor.restartWorker} waiting for the restart to be done. */
  private restartWaiters: (() => void)[] = [];
  /** Instances not settled yet (at most two: one ending, one starting). */
  private readonly instances = new Set<RunningApp>();
  /** While the last instance's leftover processes are being ended. */
  private settling: Promise<void> | undefined;
  private guard: Guard | undefined;
  private readonly launcherPid = process.pid;
  /** When the counted starts happened (performance.now()), for the start limit. */
  private startTimes: number[] = [];
  /** How the last instance ended, for the exit code when the start limit is hit. */
  private lastStatus = 0;
  private ticks = 0;
  /** How many instances were started, for {@link Supervisor.state}. */
  private starts = 0;
  private readonly hooks: SupervisorHooks;
  private readonly settings: SupervisorSettings;

  /**
   * Sets the supervisor up; nothing runs before {@link Supervisor.run}.
   *
   * @param options The parsed command line.
   * @param listeners The bound sockets.
   * @param receiver The notify socket, or undefined for `--notify-access none`.
   * @param store The fd store.
   * @param out Where to report.
   * @param worker The worker this supervisor runs (`--workers`); its pool then owns SIGHUP and `--watch`.
   * @param settings What the `Launcher` API changes: hooks, signals, the app's cwd, env and output.
   */
  constructor(
    options: LaunchOptions,
    listeners: readonly Listener[],
    receiver: NotifyReceiver | undefined,
    store: FdStore,
    out: SupervisorOutput,
    worker?: WorkerSlot,
    settings: SupervisorSettings = {},
  ) {
    this.options = options;
    this.listeners = listeners;
    this.receiver = receiver;
    this.store = store;
    this.out = out;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !MANAGER_VARIABLES.includes(key)) env[key] = value;
    }
    if (worker !== undefined) {
      env.WORKER_INDEX = String(worker.index);
      env.WORKER_COUNT = String(worker.count);
      env.HANDOVER_WORKERS = worker.mode;
    }
    Object.assign(env, settings.env);
    this.baseEnv = env;
    this.worker = worker;
    this.spawned = worker?.spawned ?? settings.spawned ?? new Set();
    this.settings = settings;
    this.hooks = settings.hooks ?? {};
  }

  /** The restart policy in force: `--watchdog`/`--ready-timeout` imply on-failure unless `--restart` was given. */
  private get restartPolicy(): LaunchOptions["restart"] {
    const o = this.options;
    if (!o.restartGiven && (o.watchdogSec !== undefined || o.readyTimeoutSec !== undefined)) return "on-failure";
    return o.restart;
  }

  /**
   * Runs until SIGTERM/SIGINT, or until the app exits and is not to be
   * restarted.
   *
   * @returns The exit code for the launcher: the app's status (128 + signal number when a signal ended it).
   *
   * @example
   * ```ts ignore
   * process.exitCode = await new Supervisor(options, listeners, receiver, store, out).run();
   * ```
   */
  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.finish = (code) => {
        if (this.phase === "done") return;
        this.phase = "done";
        this.cleanup();
        this.restartDone();
        resolve(code);
      };
      if (this.settings.signals !== false) {
        for (const signal of ["SIGTERM", "SIGINT"] as const) this.onSignal(signal, () => this.shutdown(signal));
        if (this.worker === undefined) this.onSignal("SIGHUP", () => this.reload());
      }
      try {
        becomeSubreaper();
      } catch {
        // no prctl here: orphans go to init, only the process group is in reach
      }
      this.guard = Guard.start(this.options.stopTimeoutSec * 1000);
      if (this.guard?.pid !== undefined) this.spawned.add(this.guard.pid);
      this.wakeup = new Wakeup(() => this.tick());
      // The notify socket is ours alone, so it may signal us for good.
      if (this.receiver !== undefined) setSignalDriven(this.receiver.fd, true);
      if (this.options.watch.length > 0 && this.worker === undefined) {
        this.watcher = new ChangeWatcher(
          this.options.watch,
          this.options.debounceSec * 1000,
          (path) => this.changed(path),
        );
      }
      if (this.options.onDemand) this.waitForConnection();
      else this.start();
    });
  }

  private onSignal(signal: string, handler: () => void): void {
    process.on(signal, handler);
    this.signalHandlers.push([signal, handler]);
  }

  private cleanup(): void {
    for (const [signal, handler] of this.signalHandlers.splice(0)) process.off(signal, handler);
    this.wakeup?.stop();
    this.watcher?.close();
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    if (this.readinessTimer !== undefined) clearInterval(this.readinessTimer);
    this.reapOrphans();
    this.guard?.close();
  }

  // ---- starting -----------------------------------------------------------

  private waitForConnection(): void {
    this.phase = "waiting";
    for (const listener of this.listeners) setSignalDriven(listener.fd, true);
    this.out.info("waiting for the first connection");
    // An on-demand restart is done once the supervisor waits again: the next connection starts the new instance.
    this.restartDone();
    this.wake();
  }

  private wake(): void {
    this.readNotifications();
    if (this.phase !== "waiting") return;
    const ready = readableNow(this.listeners.map((l) => l.fd));
    if (ready.length > 0) {
      this.hooks.connection?.();
      this.start();
    }
  }

  /** The slow timer: a wake-up, and now and then a look at the running instance's processes. */
  private tick(): void {
    this.wake();
    if (++this.ticks > TREE_SCAN_TICKS && this.ticks % TREE_SCAN_TICKS !== 0) return;
    const scan = this.app !== undefined && !this.app.exited;
    if (!scan && this.app === undefined && this.launcherPid !== 1) return;
    // One look at /proc for both, shared with the other apps' supervisors that tick at the same moment.
    const table = recentProcessTable();
    if (scan) this.scanInstance(this.app!, table);
    this.reapOrphans(table);
  }

  /**
   * systemd's start limit (`StartLimitIntervalSec=`, `StartLimitBurst=`): more
   * starts than the burst within the interval end the launcher instead of a
   * crash loop.
   */
  private startLimitHit(): boolean {
    const intervalMs = this.options.startLimitIntervalSec * 1000;
    if (intervalMs === 0) return false;
    const now = performance.now();
    this.startTimes = this.startTimes.filter((t) => now - t < intervalMs);
    if (this.startTimes.length < this.options.startLimitBurst) {
      this.startTimes.push(now);
      return false;
    }
    this.out.warn(
      `start limit hit: ${this.options.startLimitBurst} starts within ${this.options.startLimitIntervalSec} s ` +
        "(see --start-limit-burst and --start-limit-interval); giving up",
    );
    this.hooks.error?.(
      "start-limit",
      `start limit hit: ${this.options.startLimitBurst} starts within ${this.options.startLimitIntervalSec} s`,
    );
    this.finish(this.lastStatus !== 0 ? this.lastStatus : 1);
    return true;
  }

  /**
   * Starts an instance.
   *
   * @param counted False for restarts the user asked for (a change under `--watch`, SIGHUP), which the start limit
   * does not count.
   */
  private start(counted = true, beside = false): void {
    if (this.shuttingDown || this.phase === "done") return;
    if (counted && this.startLimitHit()) return;
    for (const listener of this.listeners) setSignalDriven(listener.fd, false);
    for (const name of this.store.prune()) this.out.info(`dropped stored fd "${name}": it hung up`);
    const fds = [...this.listeners.map((l) => l.fd), ...this.store.fds.map((s) => s.fd)];
    const names = [...this.listeners.map((l) => l.spec.name), ...this.store.fds.map((s) => s.name)];
    const env: Record<string, string> = { ...this.baseEnv };
    const exported: string[] = [];
    // For apps behind a wrapper (npm start, node --watch): spare copies of the fds and HANDOVER_LAUNCHER.
    const handoff = fds.length > 0 ? launcherHandoff(fds, process.pid) : undefined;
    if (fds.length > 0) {
      env.LISTEN_FDS = String(fds.length);
      env.LISTEN_FDNAMES = names.join(":");
      // systemfd sets it too; the listenfd crate reads it when LISTEN_PID is absent.
      env.LISTEN_FDS_FIRST_FD = "3";
      env[handoff!.variable[0]] = handoff!.variable[1];
      if (!this.options.noPid) exported.push("LISTEN_PID");
    }
    if (this.receiver !== undefined) env.NOTIFY_SOCKET = this.receiver.address;
    if (this.options.watchdogSec !== undefined) {
      env.WATCHDOG_USEC = String(Math.round(this.options.watchdogSec * 1e6));
      exported.push("WATCHDOG_PID");
    }
    const [program, ...args] = this.options.command as [string, ...string[]];
    // The app's pid is only known once it runs: a shell sets it and execs
    // the command, so LISTEN_PID equals the pid of the process that reads it.
    const argv: [string, string[]] = exported.length === 0 ? [program, args] : [
      "/bin/sh",
      [
        "-c",
        `${exported.map((v) => `${v}=$$`).join(" ")}; export ${exported.join(" ")}; exec "$0" "$@"`,
        ...this.options.command,
      ],
    ];
    let child: ChildProcess;
    const copies: number[] = [];
    try {
      const placed = distinctSources(
        { ...Object.fromEntries(fds.map((fd, i) => [3 + i, fd])), ...handoff?.spares },
        copies,
      );
      const guarded = guardNonBlocking(Object.values(placed));
      // A session of its own: the instance's processes share a process group the launcher can signal as one.
      const stdio = childStdio(placed, this.settings.pipeOutput ? ["inherit", "pipe", "pipe"] : undefined);
      try {
        child = spawn(argv[0], argv[1], { stdio, env, detached: true, cwd: this.settings.cwd });
      } finally {
        guarded.restore();
      }
    } catch (error) {
      this.out.warn(`cannot start ${program}: ${error instanceof Error ? error.message : String(error)}`);
      this.hooks.error?.("spawn", `cannot start ${program}: ${error instanceof Error ? error.message : String(error)}`);
      this.exited(undefined, 127, null);
      return;
    } finally {
      // spawn() has placed them in the child (or failed): the launcher's copies go.
      for (const fd of copies) close(fd);
    }
    if (child.pid === undefined) {
      child.on("error", (error) => {
        this.out.warn(`cannot start ${program}: ${error.message}`);
        this.hooks.error?.("spawn", `cannot start ${program}: ${error.message}`);
        this.exited(undefined, 127, null);
      });
      return;
    }
    child.on("error", () => {});
    this.spawned.add(child.pid);
    const app: RunningApp = {
      process: child,
      pid: child.pid,
      startedAt: Date.now(),
      startTime: processEntry(child.pid)?.startTime,
      ready: false,
      reloading: false,
      reloadRequested: false,
      stopReason: undefined,
      watchdogMs: this.options.watchdogSec === undefined ? undefined : this.options.watchdogSec * 1000,
      watchdogTimer: undefined,
      readyTimer: undefined,
      stopTimer: undefined,
      status: undefined,
      exited: false,
      settled: false,
      escaped: new Set(),
    };
    if (beside) this.pending = app;
    else {
      this.app = app;
      this.restartDone();
    }
    this.instances.add(app);
    this.ticks = 0;
    this.watchTree();
    this.phase = "running";
    child.on("exit", (code, signal) => this.exited(app, code, signal));
    this.out.info(`started pid ${app.pid}: ${this.options.command.map(quote).join(" ")}`);
    this.starts++;
    this.hooks.start?.(app.pid);
    const output = this.hooks.output;
    if (output !== undefined) {
      child.stdout?.setEncoding("utf8");
      child.stderr?.setEncoding("utf8");
      child.stdout?.on("data", (chunk: string) => output("stdout", chunk));
      child.stderr?.on("data", (chunk: string) => output("stderr", chunk));
    }
    this.armWatchdog(app);
    if (beside) {
      this.armReadyTimer(
        app,
        this.options.readyTimeoutSec !== undefined ? this.options.readyTimeoutSec * 1000 : DEFAULT_RELOAD_TIMEOUT_MS,
        this.speaksNotify ? "READY=1" : "READY=1 or listen",
      );
      if (!this.speaksNotify) this.watchForListening(app);
    } else {
      if (this.options.readyTimeoutSec !== undefined) {
        this.armReadyTimer(app, this.options.readyTimeoutSec * 1000, "READY=1");
      }
      if (this.settings.readyOnListen && !this.speaksNotify) this.watchFirstListening(app);
    }
  }

  /** `readyOnListen`: a first instance that does not send READY=1 is ready once it waits on every socket. */
  private watchFirstListening(app: RunningApp): void {
    this.whenListening(
      app,
      () => app !== this.app || app.exited || app.ready || app.stopReason !== undefined,
      () => {
        app.ready = true;
        this.out.info(`pid ${app.pid} is listening`);
        this.hooks.ready?.(app.pid);
      },
    );
  }

  /**
   * Polls until an event loop of the instance's processes waits on every listening socket, then calls `listening`
   * (unless `abandoned` says to stop first). The main process is looked at every tick; the whole process tree
   * (every `/proc/PID/stat`, which on a busy host is thousands of files) every {@link TREE_EVERY}th tick, for an app
   * whose listener is in a child (`npm start`, a shell script).
   *
   * @returns The timer, or undefined when there are no listeners to wait for.
   */
  private whenListening(
    app: RunningApp,
    abandoned: () => boolean,
    listening: () => void,
  ): ReturnType<typeof setInterval> | undefined {
    if (this.listeners.length === 0) return undefined;
    this.listenerInodes ??= this.listeners.map((l) => statFd(l.fd).ino);
    const inodes = this.listenerInodes;
    const waitsOnAll = (pids: number[]): boolean => {
      const watched = watchedInodes(pids);
      return inodes.every((inode) => watched.has(inode));
    };
    let tick = 0;
    const timer = setInterval(() => {
      if (abandoned()) {
        clearInterval(timer);
        return;
      }
      if (!waitsOnAll([app.pid])) {
        if (tick++ % TREE_EVERY !== 0) return;
        const table = processTable();
        if (table === undefined || !waitsOnAll([app.pid, ...this.scanInstance(app, table).map((m) => m.pid)])) return;
      }
      clearInterval(timer);
      listening();
    }, LISTENING_POLL_MS);
    return timer;
  }

  private armReadyTimer(app: RunningApp, ms: number, what: string): void {
    if (app.readyTimer !== undefined) clearTimeout(app.readyTimer);
    app.readyTimer = later(() => {
      app.readyTimer = undefined;
      if (app.exited) return;
      if (app.reloadRequested) {
        this.out.warn(`pid ${app.pid} did not finish reloading within ${ms / 1000} s: restarting it`);
        this.stop(app, "restart");
        return;
      }
      if (app === this.pending) {
        this.out.warn(
          `the new pid ${app.pid} did not send ${what} within ${ms / 1000} s: stopping it; pid ${
            this.app?.pid ?? "?"
          } goes on serving`,
        );
        this.pending = undefined;
        this.stop(app, "unready");
        this.restartDone();
        return;
      }
      this.out.warn(`pid ${app.pid} did not send ${what} within ${ms / 1000} s: stopping it`);
      this.hooks.error?.("ready-timeout", `pid ${app.pid} did not send ${what} within ${ms / 1000} s`);
      this.stop(app, "ready-timeout");
    }, ms);
  }

  private armWatchdog(app: RunningApp, ms = app.watchdogMs): void {
    if (app.watchdogTimer !== undefined) clearTimeout(app.watchdogTimer);
    app.watchdogTimer = undefined;
    if (ms === undefined || app.exited || app.stopReason !== undefined) return;
    app.keptAliveAt = performance.now();
    app.watchdogTimer = later(() => this.watchdogFired(app, `sent no WATCHDOG=1 for ${ms / 1000} s`), ms);
  }

  private watchdogFired(app: RunningApp, why: string): void {
    app.watchdogTimer = undefined;
    if (app.exited || app.stopReason !== undefined) return;
    this.out.warn(`watchdog: pid ${app.pid} ${why}; killing it with SIGABRT`);
    this.hooks.error?.("watchdog", `watchdog: pid ${app.pid} ${why}`);
    this.stop(app, "watchdog", "SIGABRT");
  }

  // ---- stopping -----------------------------------------------------------

  private stop(app: RunningApp, reason: StopReason, signal: NodeJS.Signals = "SIGTERM"): void {
    if (app.settled) return;
    if (app.stopReason === undefined || reason === "shutdown") app.stopReason = reason;
    if (app.readyTimer !== undefined) clearTimeout(app.readyTimer);
    if (app.watchdogTimer !== undefined) clearTimeout(app.watchdogTimer);
    app.readyTimer = app.watchdogTimer = undefined;
    this.signalInstance(app, signal);
    this.armStopTimer(app, this.options.stopTimeoutSec * 1000);
  }

  private armStopTimer(app: RunningApp, ms: number): void {
    if (app.stopTimer !== undefined) clearTimeout(app.stopTimer);
    app.stopTimer = later(() => {
      app.stopTimer = undefined;
      if (app.settled) return;
      const what = app.exited ? `processes of pid ${app.pid} are` : `pid ${app.pid} is`;
      this.out.warn(`${what} still running ${ms / 1000} s after they were asked to stop: sending SIGKILL`);
      this.signalInstance(app, "SIGKILL");
    }, ms);
  }

  // ---- the instance's processes ---------------------------------------------

  /**
   * The processes of an instance besides its main process (a fresh look at
   * `/proc`); the ones outside its process group are remembered, and the
   * guard is told about them.
   */
  private scanInstance(app: RunningApp, table: Map<number, ProcessEntry> | undefined = processTable()): ProcessEntry[] {
    if (table === undefined) return [];
    const members = instanceMembers(table, app, this.launcherPid, this.spawned).map((pid) => table.get(pid)!);
    app.escaped.clear();
    for (const member of members) if (member.pgid !== app.pid) app.escaped.add(member.pid);
    this.watchTree();
    return members;
  }

  /**
   * Sends a signal to the whole instance, once to each process: its process
   * group (which the main process leads), the main process alone if it left
   * that group, then the processes found outside it; SIGCONT after
   * SIGTERM wakes stopped ones so that they can act on it (as systemd does).
   */
  private signalInstance(app: RunningApp, signal: NodeJS.Signals): void {
    // One signal per process, as systemd skips the main process when it signals the rest of the cgroup: the main
    // process leads its process group (a session of its own) and gets it with the group, unless it left the group.
    // Sent twice, a second SIGINT can reach a handler already running (serve() takes a second SIGINT as "exit now").
    const table = processTable();
    const main = table?.get(app.pid);
    if (!app.exited && main !== undefined && main.pgid !== app.pid) signalPid(app.pid, signal);
    signalPid(-app.pid, signal);
    this.scanInstance(app, table);
    for (const pid of app.escaped) signalPid(pid, signal);
    if (signal === "SIGTERM") {
      signalPid(-app.pid, "SIGCONT");
      for (const pid of app.escaped) signalPid(pid, "SIGCONT");
    }
  }

  /** Tells the guard what to end if the launcher dies now. */
  private watchTree(): void {
    const live = [...this.instances].filter((i) => !i.settled);
    this.guard?.watch(live.map((i) => i.pid), live.flatMap((i) => [...i.escaped]));
  }

  /** Reaps orphans that came back to the launcher and ended (the runtime only waits for its own children). */
  private reapOrphans(table: Map<number, ProcessEntry> | undefined = processTable()): void {
    if (table === undefined) return;
    for (const pid of orphanZombies(table, this.launcherPid, this.spawned)) reapChild(pid);
  }

  /**
   * Waits until no process of the instance is left: after a main process
   * that exited by itself, the rest get SIGTERM (and SIGKILL after the stop
   * timeout), as systemd stops what a unit's main process leaves behind.
   */
  private async settle(app: RunningApp): Promise<void> {
    let members = this.scanInstance(app);
    if (members.length > 0 && app.stopReason === undefined) {
      this.out.info(
        `pid ${app.pid} left ${members.length} process${members.length === 1 ? "" : "es"} behind: stopping ${
          members.length === 1 ? "it" : "them"
        }`,
      );
      app.stopReason = "leftovers";
      this.signalInstance(app, "SIGTERM");
      this.armStopTimer(app, this.options.stopTimeoutSec * 1000);
    }
    const giveUpAt = performance.now() + Math.min(this.options.stopTimeoutSec * 1000, MAX_TIMER_MS) + KILL_GRACE_MS;
    while (members.length > 0) {
      if (performance.now() > giveUpAt) {
        this.out.warn(`gave up on ${members.map((m) => `pid ${m.pid}`).join(", ")}: still there after SIGKILL`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
      members = this.scanInstance(app);
    }
    app.settled = true;
    if (app.stopTimer !== undefined) clearTimeout(app.stopTimer);
    app.stopTimer = undefined;
    this.instances.delete(app);
    this.watchTree();
    this.reapOrphans();
  }

  private exited(app: RunningApp | undefined, code: number | null, signal: NodeJS.Signals | null): void {
    if (app !== undefined) {
      if (app.exited) return;
      app.exited = true;
      this.spawned.delete(app.pid);
      // Read what it sent before it went (FDSTORE=1 right before exit, a last STATUS=).
      this.lingeringPid = app.pid;
      this.readNotifications();
      this.lingeringPid = undefined;
      for (const timer of [app.readyTimer, app.watchdogTimer]) {
        if (timer !== undefined) clearTimeout(timer);
      }
      if (this.app === app) this.app = undefined;
      if (this.pending === app) {
        this.pending = undefined;
        app.stopReason ??= "unready";
        this.out.warn(`the new pid ${app.pid} ended before it was ready; pid ${this.app?.pid ?? "?"} goes on serving`);
        this.restartDone();
      }
    }
    const status = signal !== null ? 128 + signalNumber(signal) : code ?? 1;
    if (app !== undefined) {
      this.out.info(
        signal !== null ? `pid ${app.pid} was killed by ${signal}` : `pid ${app.pid} exited with code ${code}`,
      );
      this.hooks.exit?.(app.pid, code, signal);
    }
    if (app === undefined) {
      this.decide(app, status, code, signal);
      return;
    }
    // The reason must be read before settle() marks leftovers.
    const reason = app.stopReason;
    const settling = this.settle(app).then(() => {
      if (this.settling === settling) this.settling = undefined;
      this.decide(app, status, code, signal, reason);
    });
    this.settling = settling;
  }

  /** What to do once an instance has ended: restart, wait for a connection, or finish. */
  private decide(
    app: RunningApp | undefined,
    status: number,
    code: number | null,
    signal: NodeJS.Signals | null,
    stopReason: StopReason | undefined = app?.stopReason,
  ): void {
    if (this.phase === "done") return;
    if (!this.shuttingDown) this.lastStatus = status;
    if (this.shuttingDown) {
      // A stop during an overlapped restart: the launcher is done once the last instance is gone, with the status
      // of the one that served.
      if (stopReason !== "replaced" && stopReason !== "unready") this.lastStatus = status;
      if (this.instances.size > 0) return;
      this.finish(this.lastStatus);
      return;
    }
    const reason = stopReason ?? (app?.reloadRequested ? "restart" : undefined);
    if (reason === "idle") {
      this.failures = 0;
      this.waitForConnection();
      return;
    }
    // An overlapped restart: the other instance serves on.
    if ((reason === "replaced" || reason === "unready") && this.app !== undefined && !this.app.exited) return;
    if (reason === "restart") {
      this.failures = 0;
      this.next(false);
      return;
    }
    // systemd counts exit code 0 and death by SIGHUP, SIGINT, SIGTERM or SIGPIPE as clean (service.c).
    const clean = reason === undefined &&
      (signal === null ? code === 0 : ["SIGHUP", "SIGINT", "SIGTERM", "SIGPIPE"].includes(signal));
    if (app !== undefined && Date.now() - app.startedAt >= STABLE_MS) this.failures = 0;
    const policy = this.restartPolicy;
    if (clean) {
      this.failures = 0;
      if (this.options.onDemand) this.waitForConnection();
      else if (policy === "always") this.backoff(this.options.restartDelaySec * 1000);
      else this.finish(status);
      return;
    }
    if (policy === "no") {
      this.finish(status);
      return;
    }
    this.failures++;
    const delay = Math.min(this.options.restartDelaySec * 1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.backoff(delay);
  }

  /**
   * After a stop for restart: start again, or wait for a connection in on-demand mode.
   *
   * @param counted False when the user asked for the restart (the start limit does not count it).
   */
  private next(counted = true): void {
    if (this.options.onDemand) this.waitForConnection();
    else this.start(counted);
  }

  private backoff(ms: number): void {
    this.phase = "backoff";
    const failure = this.failures > 0 ? ` (failure ${this.failures})` : "";
    this.out.info(`restarting in ${Math.round(ms)} ms${failure}`);
    this.backoffTimer = later(() => {
      this.backoffTimer = undefined;
      this.next();
    }, ms);
  }

  // ---- requests from outside ----------------------------------------------

  private shutdown(signal: "SIGTERM" | "SIGINT"): void {
    const app = this.app;
    if (this.shuttingDown) {
      // A second request: pass it on again.
      if (app !== undefined) this.signalInstance(app, signal);
      return;
    }
    this.shuttingDown = true;
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    if (app === undefined || app.exited) {
      // An ending instance finishes the launcher once its last process is gone.
      if (this.settling === undefined) this.finish(0);
      return;
    }
    this.out.info(`passing ${signal} to pid ${app.pid}`);
    this.stop(app, "shutdown", signal);
    const pending = this.pending;
    if (pending !== undefined) {
      this.pending = undefined;
      this.stop(pending, "shutdown", signal);
    }
  }

  private restart(why: string): void {
    const app = this.app;
    if (this.shuttingDown) return;
    this.hooks.restart?.(why);
    if (app === undefined) {
      if (this.phase === "backoff") {
        this.out.info(`${why}: starting now`);
        if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
        this.backoffTimer = undefined;
        this.failures = 0;
        this.next(false);
      }
      return;
    }
    if (app.stopReason !== undefined) return; // already on its way out
    if (this.pending !== undefined) {
      this.restartAgain = why; // once the instance starting now is ready
      return;
    }
    if (this.options.restartMode === "overlap" && !this.options.onDemand) {
      this.out.info(`${why}: starting a new instance beside pid ${app.pid}`);
      this.start(false, true);
      return;
    }
    this.out.info(`${why}: restarting pid ${app.pid}`);
    this.stop(app, "restart");
  }

  /** An overlapped restart's new instance is ready: it becomes the app, and the old one drains and stops. */
  private takeOver(next: RunningApp): void {
    if (this.readinessTimer !== undefined) clearInterval(this.readinessTimer);
    this.readinessTimer = undefined;
    const old = this.app;
    this.pending = undefined;
    this.app = next;
    this.hooks.ready?.(next.pid);
    if (old !== undefined && !old.exited) {
      this.out.info(`pid ${next.pid} took over: stopping pid ${old.pid}`);
      this.stop(old, "replaced");
    }
    this.restartDone();
    const again = this.restartAgain;
    this.restartAgain = undefined;
    if (again !== undefined) this.restart(again);
  }

  /**
   * For an app that does not send READY=1: the new instance is ready once an
   * event loop of its processes waits on every listening socket.
   */
  private watchForListening(app: RunningApp): void {
    if (this.readinessTimer !== undefined) clearInterval(this.readinessTimer);
    this.readinessTimer = this.whenListening(app, () => app !== this.pending || app.exited, () => {
      this.readinessTimer = undefined;
      this.out.info(`pid ${app.pid} is listening`);
      app.ready = true;
      this.takeOver(app);
    });
  }

  /**
   * Restarts this worker as a change or SIGHUP would (overlapped unless `--restart-mode stop-first`), for its
   * pool's rolling restart.
   *
   * @param why What asked for it, for the log.
   * @returns Resolves once the new instance took over (or failed to, and the old one serves on), or at once when
   * there is nothing to restart.
   *
   * @example
   * ```ts ignore
   * for (const supervisor of supervisors) await supervisor.restartWorker("SIGHUP");
   * ```
   */
  restartWorker(why: string): Promise<void> {
    const done = new Promise<void>((resolve) => this.restartWaiters.push(resolve));
    this.restart(why);
    if (this.pending === undefined && this.app?.stopReason !== "restart") this.restartDone();
    return done;
  }

  private restartDone(): void {
    for (const resolve of this.restartWaiters.splice(0)) resolve();
  }

  private changed(path: string): void {
    this.restart(`change in ${path}`);
  }

  private reload(): void {
    const app = this.app;
    const signal = this.options.reloadSignal ?? (this.speaksReload ? "SIGHUP" : undefined);
    if (app === undefined || signal === undefined || app.stopReason !== undefined) {
      this.restart("SIGHUP");
      return;
    }
    this.out.info(`reloading pid ${app.pid} with ${signal}`);
    app.reloadRequested = true;
    signalApp(app, signal as NodeJS.Signals);
    this.armReadyTimer(
      app,
      this.options.readyTimeoutSec !== undefined ? this.options.readyTimeoutSec * 1000 : DEFAULT_RELOAD_TIMEOUT_MS,
      "RELOADING=1 and READY=1",
    );
  }

  // ---- notifications --------------------------------------------------------

  private readNotifications(): void {
    if (this.receiver === undefined) return;
    let datagrams: NotifyDatagram[];
    try {
      datagrams = this.receiver.drain();
    } catch (error) {
      this.out.warn(`cannot read notifications: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    for (const datagram of datagrams) {
      let fds = datagram.fds;
      try {
        fds = this.handle(datagram);
      } finally {
        // Whatever the store did not take is closed, which also answers BARRIER=1.
        for (const fd of fds) {
          try {
            close(fd);
          } catch {
            // the store closed it
          }
        }
      }
    }
  }

  /** Acts on one datagram; returns the fds left for the caller to close. */
  private handle(datagram: NotifyDatagram): number[] {
    const app = this.app;
    const pid = datagram.credentials?.pid;
    if (datagram.problem !== undefined) {
      this.out.warn(`ignored a notification from pid ${pid ?? "?"}: ${datagram.problem}`);
      return datagram.fds;
    }
    const mainPid = this.lingeringPid ?? app?.pid;
    const sender = pid === undefined ? undefined : [...this.instances].find((i) => i.pid === pid && !i.exited);
    const allowed = this.options.notifyAccess === "all"
      ? this.fromTheApp(datagram)
      : this.options.notifyAccess === "main" && pid !== undefined && (pid === mainPid || sender !== undefined);
    if (!allowed) {
      if (pid !== undefined && !this.warnedPids.has(pid)) {
        this.warnedPids.add(pid);
        this.out.warn(
          this.options.notifyAccess === "all"
            ? `ignored notifications from pid ${pid} (uid ${datagram.credentials?.uid}): it is not one of the app's processes`
            : `ignored notifications from pid ${pid}: only the app's own pid ${
              mainPid ?? "(none running)"
            } may notify (see --notify-access)`,
        );
      }
      return datagram.fds;
    }
    const f = datagram.fields;
    const pending = this.pending;
    const current = sender ??
      (this.options.notifyAccess === "all" && pid !== undefined && pending !== undefined &&
          inTree(pid, [pending.pid], this.launcherPid) === true
        ? pending
        : app !== undefined && !app.exited && (pid === app.pid || this.options.notifyAccess === "all")
        ? app
        : undefined);
    const who = `pid ${pid ?? mainPid}`;
    const status = f.get("STATUS");
    if (status !== undefined && current?.status !== status) {
      if (current !== undefined) current.status = status;
      this.out.info(`${who} status: ${status}`);
      if (pid !== undefined) this.hooks.status?.(pid, status);
    }
    if (f.get("RELOADING") === "1") {
      this.speaksReload = true;
      if (current !== undefined) current.reloading = true;
      this.out.info(`${who} is reloading`);
    }
    if (f.get("READY") === "1" && current !== undefined) {
      if (current.readyTimer !== undefined) clearTimeout(current.readyTimer);
      current.readyTimer = undefined;
      const wasReloading = current.reloading || current.reloadRequested;
      current.reloading = current.reloadRequested = false;
      if (wasReloading) this.out.info(`${who} reloaded`);
      else if (!current.ready) this.out.info(`${who} is ready`);
      const first = !current.ready;
      current.ready = true;
      if (first && current !== this.pending) this.hooks.ready?.(current.pid);
      this.speaksNotify = true;
      this.armWatchdog(current);
      if (current === this.pending) this.takeOver(current);
    }
    if (f.get("STOPPING") === "1") {
      if (current !== undefined) current.stopping = true;
      this.out.info(`${who} is stopping`);
    }
    const errno = f.get("ERRNO");
    if (errno !== undefined) this.out.info(`${who} reports errno ${errno}`);
    const watchdogUsec = f.get("WATCHDOG_USEC");
    if (watchdogUsec !== undefined && current !== undefined) {
      const usec = /^[0-9]+$/.test(watchdogUsec) ? Number(watchdogUsec) : NaN;
      if (usec > 0) {
        current.watchdogMs = usec / 1000;
        this.armWatchdog(current);
      } else this.out.warn(`${who} sent WATCHDOG_USEC=${watchdogUsec}: expected a positive number of microseconds`);
    }
    const watchdog = f.get("WATCHDOG");
    if (watchdog === "1" && current !== undefined) this.armWatchdog(current);
    if (watchdog === "trigger" && current !== undefined) this.watchdogFired(current, "asked for it (WATCHDOG=trigger)");
    const extend = f.get("EXTEND_TIMEOUT_USEC");
    if (extend !== undefined && /^[0-9]+$/.test(extend) && current !== undefined) this.extend(current, Number(extend));
    let fds = datagram.fds;
    const name = f.get("FDNAME");
    if (f.get("FDSTOREREMOVE") === "1") {
      if (name === undefined) this.out.warn(`${who} sent FDSTOREREMOVE=1 without FDNAME=`);
      else {
        const removed = this.store.remove(name);
        this.out.info(`removed ${removed} stored fd${removed === 1 ? "" : "s"} named "${name}"`);
      }
    }
    if (f.get("FDSTORE") === "1" && fds.length > 0) {
      if (this.store.max === 0) {
        this.out.warn(`${who} sent ${fds.length} fd(s) with FDSTORE=1, but the fd store is off (see --fdstore N)`);
      } else {
        const result = this.store.add(fds, name ?? "stored", f.get("FDPOLL") !== "0");
        fds = [];
        if (result.kept > 0) {
          this.out.info(
            `stored ${result.kept} fd${result.kept === 1 ? "" : "s"} as "${
              name ?? "stored"
            }" (${this.store.fds.length} of ${this.store.max})`,
          );
        }
        if (result.refused > 0) {
          this.out.warn(`the fd store is full (--fdstore ${this.store.max}): closed ${result.refused} fd(s)`);
        }
      }
    }
    return fds;
  }

  /**
   * `--notify-access all`: systemd's `NotifyAccess=all` takes any process of
   * the unit's cgroup; here, any process of an instance's tree, or an orphan
   * that came back to the launcher. A sender that is gone before it could be
   * placed is taken when it ran as the launcher's own user (who could signal
   * the app anyway), never when it ran as another user.
   */
  private fromTheApp(datagram: NotifyDatagram): boolean {
    const credentials = datagram.credentials;
    // Without credentials (macOS) the socket lives in a directory only the launcher's user can enter.
    if (credentials === undefined) return true;
    const roots = [...this.instances].map((i) => i.pid);
    if (this.lingeringPid !== undefined) roots.push(this.lingeringPid);
    const placed = inTree(credentials.pid, roots, this.launcherPid);
    if (placed !== undefined) return placed;
    return credentials.uid === process.getuid?.();
  }

  /** EXTEND_TIMEOUT_USEC: more time for whatever the app is doing now (sd_notify(3)). */
  private extend(app: RunningApp, usec: number): void {
    const ms = usec / 1000;
    if (app.stopTimer !== undefined) this.armStopTimer(app, ms);
    else if (app.readyTimer !== undefined) {
      this.armReadyTimer(app, ms, app.reloadRequested ? "READY=1 after reloading" : "READY=1");
    } else if (app.watchdogTimer !== undefined) this.armWatchdog(app, Math.max(ms, app.watchdogMs ?? 0));
  }

  // ---- what the health endpoints and the control socket see -----------------

  /**
   * A snapshot of the serving instance, for the health endpoints and the control socket.
   *
   * @returns Its phase, pid, readiness, watchdog and last status.
   *
   * @example
   * ```ts ignore
   * const ready = supervisor.state().ready;
   * ```
   */
  state(): AppState {
    const app = this.app;
    const live = app !== undefined && !app.exited ? app : undefined;
    return {
      phase: this.phase,
      pid: live?.pid,
      startedAt: live?.startedAt,
      ready: live?.ready ?? false,
      reloading: live !== undefined && (live.reloading || live.reloadRequested),
      stopping: this.shuttingDown || (live !== undefined && (live.stopping === true || live.stopReason !== undefined)),
      watchdogMs: live?.watchdogMs,
      sinceKeepAliveMs: live?.keptAliveAt === undefined ? undefined : performance.now() - live.keptAliveAt,
      status: app?.status,
      restarts: Math.max(this.starts - 1, 0),
    };
  }

  /**
   * What the control socket asks for: `restart` as a change would (overlapped unless `--restart-mode stop-first`),
   * `stop` as SIGTERM would (the launcher then exits with the app's status).
   *
   * @param action What to do.
   * @param why Who asked, for the log.
   *
   * @example
   * ```ts ignore
   * supervisor.request("restart", "handover restart");
   * ```
   */
  request(action: "restart" | "stop" | "kill", why: string): void {
    if (action === "stop" || action === "kill") {
      this.out.info(`${why}: stopping`);
      this.shutdown("SIGTERM");
      if (action === "kill") {
        for (const app of this.instances) if (!app.settled) this.signalInstance(app, "SIGKILL");
      }
    } else this.restart(why);
  }

  /**
   * Stops the serving instance because it has been idle (on demand: the supervisor then waits for the next
   * connection, which starts it again). Does nothing unless one instance runs alone and is not being stopped.
   *
   * @returns Whether it was asked to stop.
   *
   * @example
   * ```ts ignore
   * if (noConnectionsFor(30_000)) supervisor.idleStop();
   * ```
   */
  idleStop(): boolean {
    const app = this.app;
    if (app === undefined || app.exited || app.stopReason !== undefined || this.pending !== undefined) return false;
    if (this.shuttingDown || !this.options.onDemand) return false;
    this.out.info(`pid ${app.pid} is idle: stopping it until the next connection`);
    this.stop(app, "idle");
    return true;
  }
}
