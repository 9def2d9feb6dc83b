/**
 * The launcher as a library: several apps in one process, each with its own
 * sockets, started at once or on its first connection, stopped after
 * inactivity, restarted with the overlapped hand-over, and reported through
 * typed events. `handover up` is a client of this class.
 *
 * Each app is the command line's launcher for one app: its sockets (bound
 * when it is added, and held until the launcher closes, so connections wait
 * in the kernel's queue across restarts and stops), a notify socket, an fd
 * store, and a `Supervisor` (a `WorkerPool` with `workers` > 1) per run.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import { launcherHandoff } from "../activation/handoff.ts";
import { system } from "../ffi/system.ts";
import { ConnectionWatch } from "./activity.ts";
import type { AppState } from "./app_state.ts";
import { type AppConfig, ConfigError, resolveApp, type ResolvedApp } from "./config.ts";
import type { LaunchOptions } from "./args.ts";
import { type ControlEntry, LogBook } from "./control.ts";
import { FdStore } from "./fdstore.ts";
import {
  bindListeners,
  bindReusePortSets,
  closeListeners,
  describeListener,
  distinctListeners,
  type Listener,
} from "./listeners.ts";
import { NotifyReceiver } from "./notify_receiver.ts";
import { Supervisor, type SupervisorHooks, type SupervisorOutput, type SupervisorSettings } from "./supervisor.ts";
import { readableNow } from "./wakeup.ts";
import { WorkerPool } from "./workers.ts";

export type { AppConfig, Duration, NotifyAccess, RestartPolicy } from "./config.ts";
export type { AppState, SupervisorPhase } from "./app_state.ts";

/** The events of a {@link Launcher}, by name: each listener gets one object. */
export interface LauncherEvents {
  /** An on-demand app's socket had a connection while it waited: it is being started. */
  connection: { readonly name: string };
  /** An instance of an app was started. */
  start: { readonly name: string; readonly pid: number };
  /** An instance sent READY=1, or (an app that does not) waits on every one of its sockets. */
  ready: { readonly name: string; readonly pid: number };
  /** An instance sent a new `STATUS=`. */
  status: { readonly name: string; readonly pid: number; readonly status: string };
  /** An instance's main process ended. */
  exit: {
    readonly name: string;
    readonly pid: number;
    readonly code: number | null;
    readonly signal: string | null;
  };
  /** A restart was asked for (`restart()`, a change under `watch`). */
  restart: { readonly name: string; readonly why: string };
  /** An app stopped after an idle time (it starts again on the next connection). */
  idle: { readonly name: string; readonly pid: number };
  /** An app is no longer supervised (stopped, or ended for good); `code` is its last status. */
  stop: { readonly name: string; readonly code: number };
  /** Something went wrong with an app. Without a listener, errors are only logged. */
  error: {
    readonly name: string;
    readonly kind: "spawn" | "start-limit" | "watchdog" | "ready-timeout";
    readonly message: string;
  };
  /** A line of the launcher's own about an app (what `handover` prints with `~>`). */
  log: { readonly name: string; readonly level: "info" | "warn"; readonly line: string };
  /** A chunk of an app's stdout or stderr, when the launcher was made with `output: "pipe"`. */
  output: { readonly name: string; readonly stream: "stdout" | "stderr"; readonly text: string };
}

/** How a {@link Launcher} is made. */
export interface LauncherConfig {
  /** The apps to add at once (none is started before {@link Launcher.start}). */
  readonly apps?: readonly AppConfig[];
  /** What relative `cwd` and `watch` paths are relative to (default: the process's directory). */
  readonly baseDir?: string;
  /**
   * The apps' stdout and stderr: `"inherit"` (default) shares the process's; `"pipe"` sends them through
   * `output` events instead.
   */
  readonly output?: "inherit" | "pipe";
}

/** A snapshot of one app, from {@link Launcher.apps}. */
export interface AppSnapshot extends AppState {
  /** The app's name. */
  readonly name: string;
  /** Its sockets as URLs or paths, with the ports filled in (`http://127.0.0.1:41234/`). */
  readonly sockets: readonly string[];
  /** Whether it is supervised now (false before `start` and after `stop`). */
  readonly supervised: boolean;
}

/** How an app ended when {@link Launcher.start} waited for it to be ready. */
export class AppStartError extends Error {
  /** The app's name. */
  readonly app: string;
  /** Its last status. */
  readonly status: number;

  /**
   * Creates the error.
   *
   * @param app The app's name.
   * @param status Its exit status.
   */
  constructor(app: string, status: number) {
    super(`${app} ended with status ${status} before it was ready`);
    this.name = "AppStartError";
    this.app = app;
    this.status = status;
  }
}

/** One app's resources and run. */
interface Entry {
  readonly app: ResolvedApp;
  /** The `handover` command's app: its supervisor answers the process's signals itself. */
  readonly commandLine: boolean;
  /** One set of listeners per worker (the same set for every worker unless reuseport). */
  readonly sets: Listener[][];
  readonly receivers: (NotifyReceiver | undefined)[];
  readonly stores: FdStore[];
  readonly book: LogBook;
  runner: Supervisor | WorkerPool | undefined;
  running: Promise<number> | undefined;
  /** A ready instance runs (reset at each start and exit). */
  ready: boolean;
  waiters: { resolve: () => void; reject: (error: Error) => void }[];
  lastStatus: number;
  /** How many instances were started, over every run. */
  starts: number;
  idleTimer: ReturnType<typeof setInterval> | undefined;
  lastActive: number;
  readonly pids: Set<number>;
}

/** Each launcher's apps, for the command's functions below (not part of the API). */
const ENTRIES = new WeakMap<Launcher, Map<string, Entry>>();

/** An app of a launcher, or a RangeError. */
function entryOf(launcher: Launcher, name: string): Entry {
  const entry = ENTRIES.get(launcher)?.get(name);
  if (entry === undefined) throw new RangeError(`No app named ${JSON.stringify(name)} in this launcher`);
  return entry;
}

/**
 * An app's log lines (the launcher's lines about it, and what `handover up` adds), for `handover logs`.
 *
 * @param launcher The launcher.
 * @param name The app's name.
 * @returns Its log book.
 * @throws {RangeError} When there is no app of that name.
 *
 * @example
 * ```ts ignore
 * launcherLogBook(launcher, "web").follow((line) => console.log(line));
 * ```
 */
export function launcherLogBook(launcher: Launcher, name: string): LogBook {
  return entryOf(launcher, name).book;
}

/**
 * What a control socket answers for, app by app (`handover status|restart|stop|logs`; not part of the API):
 * `restart` and `stop` go to the app's supervisor with the command's name as the reason, as its lines show it.
 *
 * @param launcher The launcher.
 * @returns One entry per app, in the order they were added.
 *
 * @example
 * ```ts
 * import { Launcher } from "../../launcher.ts";
 * import { launcherControlEntries } from "./launcher.ts";
 * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"] }] });
 * launcherControlEntries(launcher).map((entry) => entry.name); // ["web"]
 * await launcher.close();
 * ```
 */
export function launcherControlEntries(launcher: Launcher): ControlEntry[] {
  return launcher.apps().map((app) => ({
    name: app.name,
    sockets: app.sockets,
    book: launcherLogBook(launcher, app.name),
    target: {
      state: () => launcher.apps().find((a) => a.name === app.name)!,
      request: (action, why) => {
        const runner = entryOf(launcher, app.name).runner;
        if (runner === undefined) {
          if (action === "restart") void launcher.start(app.name).catch(() => {});
        } else if (runner instanceof WorkerPool) {
          if (action === "restart") void runner.restart(why);
          else runner.stop(false);
        } else runner.request(action, why);
      },
    },
  }));
}

/**
 * Adds the `handover` command's one app (not part of the API): the parsed command line, run in the process's
 * directory and environment. Its supervisor answers the process's SIGTERM and SIGINT (drain; a second one is
 * passed on) and SIGHUP (reload or overlapped restart) itself, as `handover -- CMD` always has, and an app that
 * does not send READY=1 is not counted ready by its listening.
 *
 * @param launcher The launcher, with no app of that name yet.
 * @param options The parsed command line.
 * @returns The app's bound sockets, one set per worker (the same set for every worker unless reuseport).
 * @throws {ListenerError} When a socket cannot be bound.
 *
 * @example
 * ```ts
 * import { Launcher } from "../../launcher.ts";
 * import { type LaunchOptions, parseCommandLine } from "./args.ts";
 * import { addCommandLineApp } from "./launcher.ts";
 * const launcher = new Launcher();
 * const options = parseCommandLine(["-s", "web=http::0", "--", "node", "app.js"]) as LaunchOptions;
 * const [sockets] = addCommandLineApp(launcher, options);
 * sockets!.length; // 1: bound, for fd 3 of the app
 * launcher.apps()[0]!.name; // "app"
 * await launcher.close();
 * ```
 */
export function addCommandLineApp(launcher: Launcher, options: LaunchOptions): readonly (readonly Listener[])[] {
  launcher["addEntry"]({ name: options.name, options, cwd: process.cwd(), env: {} }, true);
  return entryOf(launcher, options.name).sets;
}

/** How often an idle-timeout app is looked at, at most. */
const IDLE_TICK_MS = 1_000;

/**
 * Runs several apps, each on its own sockets, in this process.
 *
 * The process becomes the child subreaper of the apps' processes (Linux), and
 * zombies of its own children that it did not start through the launcher may
 * be reaped by it: give a launcher a process of its own when the host spawns
 * children of its own and waits for them by pid.
 *
 * @example Two apps, one of them on demand
 * ```ts
 * import { Launcher } from "../../launcher.ts";
 *
 * const launcher = new Launcher({
 *   apps: [
 *     { name: "api", command: ["node", "-e", "setTimeout(() => {}, 60_000)"], sockets: ["api=http::0"] },
 *     { name: "docs", command: ["node", "-e", "0"], sockets: ["docs=http::0"], onDemand: true },
 *   ],
 * });
 * launcher.on("start", ({ name, pid }) => console.log(`${name} started as pid ${pid}`));
 * await launcher.start("docs"); // waits for its first connection
 * launcher.apps().map((app) => app.phase); // ["idle", "waiting"]
 * await launcher.close({ force: true });
 * ```
 */
export class Launcher {
  private readonly emitter = new EventEmitter();
  private readonly entries = new Map<string, Entry>();
  private readonly spawned = new Set<number>();
  private readonly baseDir: string;
  private readonly pipe: boolean;
  private closing: Promise<void> | undefined;

  /**
   * Adds the apps of `config`; binds their sockets, starts none.
   *
   * @param config The apps and how their output goes.
   * @throws {ConfigError} When an app does not validate (the message names the field, as in `apps[1].sockets[0]`).
   */
  constructor(config: LauncherConfig = {}) {
    this.baseDir = config.baseDir ?? process.cwd();
    this.pipe = config.output === "pipe";
    this.emitter.setMaxListeners(0);
    ENTRIES.set(this, this.entries);
    (config.apps ?? []).forEach((app, i) => this.addResolved(resolveApp(app, `apps[${i}]`, this.baseDir)));
  }

  /**
   * Listens for an event.
   *
   * @param event The event's name.
   * @param listener Called with the event.
   * @returns The launcher.
   *
   * @example Log every start
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher();
   * launcher.on("start", ({ name, pid }) => console.log(`${name}: pid ${pid}`));
   * ```
   */
  on<K extends keyof LauncherEvents>(event: K, listener: (event: LauncherEvents[K]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  /**
   * Listens for an event once.
   *
   * @param event The event's name.
   * @param listener Called with the event.
   * @returns The launcher.
   *
   * @example Wait for the first app to be ready
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher();
   * const ready = new Promise((resolve) => launcher.once("ready", resolve));
   * ```
   */
  once<K extends keyof LauncherEvents>(event: K, listener: (event: LauncherEvents[K]) => void): this {
    this.emitter.once(event, listener);
    return this;
  }

  /**
   * Stops listening.
   *
   * @param event The event's name.
   * @param listener The listener given to {@link Launcher.on}.
   * @returns The launcher.
   *
   * @example
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher();
   * const log = ({ name }: { name: string }) => console.log(`${name} started`);
   * launcher.on("start", log).off("start", log);
   * ```
   */
  off<K extends keyof LauncherEvents>(event: K, listener: (event: LauncherEvents[K]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** Emits an event; `error` without a listener is dropped, not thrown. */
  private emit<K extends keyof LauncherEvents>(event: K, value: LauncherEvents[K]): void {
    if (event === "error" && this.emitter.listenerCount("error") === 0) return;
    this.emitter.emit(event, value);
  }

  /**
   * Adds an app and binds its sockets; it starts with {@link Launcher.start}.
   *
   * @param app The app.
   * @returns Its sockets, described (`http://127.0.0.1:41234/`), ports filled in.
   * @throws {ConfigError} When it does not validate or its name is taken.
   * @throws {ListenerError} When a socket cannot be bound.
   *
   * @example Add an app on a free port
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher();
   * const [url] = launcher.add({ name: "web", command: ["node", "server.js"], sockets: ["http::0"] });
   * url; // "http://127.0.0.1:41234/"
   * await launcher.close();
   * ```
   */
  add(app: AppConfig): string[] {
    return this.addResolved(resolveApp(app, "app", this.baseDir));
  }

  /** Adds an app; returns its sockets, described. */
  private addResolved(app: ResolvedApp): string[] {
    return this.addEntry(app, false).sets[0]!.map(describeListener);
  }

  /** Binds an app's sockets and opens its notify sockets and fd stores. */
  private addEntry(app: ResolvedApp, commandLine: boolean): Entry {
    if (this.closing !== undefined) throw new Error("the launcher is closed");
    if (this.entries.has(app.name)) throw new ConfigError("name", `${JSON.stringify(app.name)} is taken already`);
    const { c } = system();
    const o = app.options;
    const backlog = o.backlog ?? c.SOMAXCONN;
    const sets = o.workers > 1 && o.workersMode === "reuseport"
      ? bindReusePortSets(o.sockets, backlog, o.workers)
      : Array.from({ length: o.workers }, () => null).map(() => [] as Listener[]);
    if (!(o.workers > 1 && o.workersMode === "reuseport")) {
      const shared = bindListeners(o.sockets, backlog);
      sets.fill(shared);
    }
    const receivers: (NotifyReceiver | undefined)[] = [];
    const stores: FdStore[] = [];
    try {
      for (let i = 0; i < o.workers; i++) {
        receivers.push(o.notifyAccess === "none" ? undefined : NotifyReceiver.open());
        stores.push(new FdStore(o.fdstore));
      }
    } catch (error) {
      closeListeners(distinctListeners(sets));
      for (const receiver of receivers) receiver?.close();
      throw error;
    }
    const entry: Entry = {
      app,
      commandLine,
      sets,
      receivers,
      stores,
      book: new LogBook(),
      runner: undefined,
      running: undefined,
      ready: false,
      waiters: [],
      lastStatus: 0,
      starts: 0,
      idleTimer: undefined,
      lastActive: 0,
      pids: new Set(),
    };
    this.entries.set(app.name, entry);
    return entry;
  }

  /**
   * Starts an app (or, without a name, every app not running yet).
   *
   * @param name The app's name.
   * @returns Resolves when the app is ready (READY=1, or it waits on every socket; an app without sockets that
   * does not send READY=1: once started), or at once for an on-demand app, which waits for its first connection.
   * @throws {AppStartError} When the app ends for good before it is ready.
   * @throws {RangeError} When there is no app of that name.
   *
   * @example Start an on-demand app: it waits for its first connection
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"], sockets: ["http::0"], onDemand: true }] });
   * await launcher.start("web");
   * launcher.apps()[0]!.phase; // "waiting"
   * await launcher.close();
   * ```
   */
  async start(name?: string): Promise<void> {
    if (name === undefined) {
      await Promise.all([...this.entries.keys()].map((n) => this.start(n)));
      return;
    }
    const entry = entryOf(this, name);
    if (this.closing !== undefined) throw new Error("the launcher is closed");
    if (entry.runner === undefined) this.run(entry);
    if (entry.app.options.onDemand || entry.ready) return;
    await new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  /** Runs an app's supervisor (or worker pool) with hooks that turn into events. */
  private run(entry: Entry): void {
    const name = entry.app.name;
    const o = entry.app.options;
    const log: SupervisorOutput = entry.book.wrap({
      info: (line) => this.emit("log", { name, level: "info", line }),
      warn: (line) => this.emit("log", { name, level: "warn", line }),
    });
    const hooks: SupervisorHooks = {
      connection: () => this.emit("connection", { name }),
      start: (pid) => {
        entry.pids.add(pid);
        entry.starts++;
        entry.lastActive = performance.now();
        this.emit("start", { name, pid });
        if (o.sockets.length === 0 && o.readyTimeoutSec === undefined) this.readied(entry);
      },
      ready: (pid) => {
        this.emit("ready", { name, pid });
        this.readied(entry);
      },
      status: (pid, status) => this.emit("status", { name, pid, status }),
      exit: (pid, code, signal) => {
        entry.pids.delete(pid);
        if (entry.pids.size === 0) entry.ready = false;
        this.emit("exit", { name, pid, code, signal });
      },
      restart: (why) => this.emit("restart", { name, why }),
      error: (kind, message) => this.emit("error", { name, kind, message }),
      output: this.pipe
        ? (stream, text) => {
          this.emit("output", { name, stream, text });
        }
        : undefined,
    };
    const settings: SupervisorSettings = {
      hooks,
      signals: entry.commandLine,
      spawned: this.spawned,
      cwd: entry.app.cwd,
      env: entry.app.env,
      pipeOutput: this.pipe,
      readyOnListen: !entry.commandLine,
    };
    const runner = o.workers > 1
      ? new WorkerPool(
        o,
        entry.sets.map((listeners, i) => ({ listeners, receiver: entry.receivers[i], store: entry.stores[i]! })),
        log,
        settings,
      )
      : new Supervisor(o, entry.sets[0]!, entry.receivers[0], entry.stores[0]!, log, undefined, settings);
    entry.runner = runner;
    entry.ready = false;
    // Each supervisor listens for its wake-up signal; a launcher of many apps needs more than the default 10.
    const wanted = 4 * (this.entries.size + 1) * Math.max(o.workers, 1) + 10;
    if (process.getMaxListeners() < wanted) process.setMaxListeners(wanted);
    if (o.idleTimeoutSec !== undefined) this.watchIdle(entry, o.idleTimeoutSec * 1000);
    entry.running = runner.run().then((code) => {
      entry.runner = undefined;
      entry.running = undefined;
      entry.ready = false;
      entry.lastStatus = code;
      if (entry.idleTimer !== undefined) clearInterval(entry.idleTimer);
      entry.idleTimer = undefined;
      for (const waiter of entry.waiters.splice(0)) waiter.reject(new AppStartError(name, code));
      this.emit("stop", { name, code });
      return code;
    });
  }

  /** The app is ready: the callers of start() go on. */
  private readied(entry: Entry): void {
    entry.ready = true;
    for (const waiter of entry.waiters.splice(0)) waiter.resolve();
  }

  /** `idleTimeout`: stops the app once it has had no connection (open or queued) for that long. */
  private watchIdle(entry: Entry, idleMs: number): void {
    const listeners = entry.sets[0]!;
    const connections = new ConnectionWatch(listeners);
    entry.idleTimer = setInterval(() => {
      const runner = entry.runner;
      if (!(runner instanceof Supervisor)) return;
      const state = runner.state();
      const now = performance.now();
      if (state.phase !== "running" || state.pid === undefined || state.stopping) {
        entry.lastActive = now;
        return;
      }
      const busy = readableNow(listeners.map((l) => l.fd)).length > 0 || connections.open(state.pid) > 0;
      if (busy) entry.lastActive = now;
      else if (now - entry.lastActive >= idleMs && runner.idleStop()) {
        this.emit("idle", { name: entry.app.name, pid: state.pid });
      }
    }, Math.max(10, Math.min(IDLE_TICK_MS, idleMs / 4)));
  }

  /**
   * Stops an app (SIGTERM, then SIGKILL after its stop timeout); its sockets stay open, so connections wait for
   * the next {@link Launcher.start}.
   *
   * @param name The app's name.
   * @param options `force`: SIGKILL at once.
   * @returns Its last exit status (0 when it was not running).
   * @throws {RangeError} When there is no app of that name.
   *
   * @example
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"], sockets: ["http::0"], onDemand: true }] });
   * await launcher.start("web");
   * await launcher.stop("web"); // 0
   * launcher.apps()[0]!.supervised; // false
   * await launcher.close();
   * ```
   */
  async stop(name: string, options: { readonly force?: boolean } = {}): Promise<number> {
    const entry = entryOf(this, name);
    const runner = entry.runner;
    if (runner === undefined) return entry.lastStatus;
    if (runner instanceof WorkerPool) runner.stop(options.force === true);
    else runner.request(options.force ? "kill" : "stop", "stop()");
    return await entry.running!;
  }

  /**
   * Restarts an app as SIGHUP does for `handover`: a new instance on the same sockets, and the old one stopped
   * once the new one is ready (`restartMode: "stop-first"` and on-demand apps: stop, then start); workers one at
   * a time. An app not running is started.
   *
   * @param name The app's name.
   * @returns Resolves once the new instance took over (or failed to, and the old one serves on).
   * @throws {RangeError} When there is no app of that name.
   *
   * @example
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"], sockets: ["http::0"], onDemand: true }] });
   * await launcher.start("web");
   * await launcher.restart("web"); // waiting for a connection: nothing to replace
   * await launcher.close();
   * ```
   */
  async restart(name: string): Promise<void> {
    const entry = entryOf(this, name);
    const runner = entry.runner;
    if (runner === undefined) return await this.start(name);
    if (runner instanceof WorkerPool) await runner.restart("restart()");
    else await runner.restartWorker("restart()");
  }

  /**
   * Snapshots of every app, in the order they were added.
   *
   * @returns Each app's name, sockets, phase, pid, readiness, restarts and last status.
   *
   * @example
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"], sockets: ["web=http::0"] }] });
   * launcher.apps().map((app) => `${app.name} ${app.phase}`); // ["web idle"]
   * await launcher.close();
   * ```
   */
  apps(): AppSnapshot[] {
    return [...this.entries.values()].map((entry) => this.snapshot(entry));
  }

  /** One app's snapshot. */
  private snapshot(entry: Entry): AppSnapshot {
    const sockets = entry.sets[0]!.map(describeListener);
    const runner = entry.runner;
    if (runner === undefined) {
      return {
        name: entry.app.name,
        sockets,
        supervised: false,
        phase: entry.starts === 0 ? "idle" : "done",
        pid: undefined,
        startedAt: undefined,
        ready: false,
        reloading: false,
        stopping: false,
        watchdogMs: undefined,
        sinceKeepAliveMs: undefined,
        status: undefined,
        restarts: this.restarts(entry),
      };
    }
    const state = runner.state();
    return {
      ...state,
      name: entry.app.name,
      sockets,
      supervised: true,
      restarts: this.restarts(entry),
    };
  }

  /** How many instances were started beyond the first (of each worker). */
  private restarts(entry: Entry): number {
    return Math.max(entry.starts - entry.app.options.workers, 0);
  }

  /**
   * The names of the apps.
   *
   * @returns The names, in the order the apps were added.
   *
   * @example
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"] }] });
   * launcher.names(); // ["web"]
   * await launcher.close();
   * ```
   */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Stops every app (draining: SIGTERM, then SIGKILL after each app's stop timeout; `force`: SIGKILL at once) and
   * closes their sockets. The launcher cannot be used afterwards.
   *
   * @param options `force`: SIGKILL at once.
   * @returns Resolves once every app's processes are gone and the sockets are closed.
   *
   * @example
   * ```ts
   * import { Launcher } from "../../launcher.ts";
   * const launcher = new Launcher({ apps: [{ name: "web", command: ["node", "server.js"], sockets: ["http::0"] }] });
   * await launcher.close({ force: true });
   * ```
   */
  close(options: { readonly force?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.entries.keys()].map((name) => this.stop(name, options)));
      // The launcher's spare copies of the sockets it passed (kept for the next start) go too.
      launcherHandoff([], process.pid);
      for (const entry of this.entries.values()) {
        closeListeners(distinctListeners(entry.sets));
        for (const receiver of entry.receivers) receiver?.close();
        for (const store of entry.stores) store.clear();
      }
    })();
    return this.closing;
  }
}
