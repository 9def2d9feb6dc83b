/**
 * The command line of `handover`: options, subcommands and the help text.
 * Written by hand rather than with `node:util` `parseArgs` so that every
 * runtime gives the same one-line errors.
 *
 * @module
 */

import { type HealthAddress, parseHealthAddress } from "./health.ts";
import { parseSocketSpec, type SocketSpec, SpecError } from "./spec.ts";

/** The package version the CLI reports. */
export const VERSION = "0.1.0";

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was expected and what was found.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** When the launcher restarts an app that exited by itself. */
export type RestartPolicy = "no" | "on-failure" | "always";

/** Who may send notifications (systemd's `NotifyAccess=`). */
export type NotifyAccess = "main" | "all" | "none";

/** The service type a unit is written for. */
export type ServiceType = "simple" | "notify" | "notify-reload";

/** Options shared by the launcher and the generators. */
export interface CommonOptions {
  readonly sockets: readonly SocketSpec[];
  /** listen(2) backlog; undefined means SOMAXCONN. */
  readonly backlog: number | undefined;
  readonly restart: RestartPolicy;
  /** True when `--restart` was given. */
  readonly restartGiven: boolean;
  /** Seconds, or undefined. */
  readonly watchdogSec: number | undefined;
  readonly fdstore: number;
  readonly command: readonly string[];
  /** How many instances of the app run side by side on the sockets (`--workers`, default 1). */
  readonly workers: number;
  /**
   * How workers share a TCP socket: `shared`, one socket and one accept queue for all; `reuseport`, a
   * `SO_REUSEPORT` socket of its own per worker, all bound to the same address.
   */
  readonly workersMode: "shared" | "reuseport";
}

/** `handover [options] -- COMMAND [ARGS…]`. */
export interface LaunchOptions extends CommonOptions {
  readonly mode: "launch";
  readonly quiet: boolean;
  readonly noPid: boolean;
  readonly onDemand: boolean;
  /** With {@link LaunchOptions.onDemand}: stop the app after this many seconds without a connection, or undefined. */
  readonly idleTimeoutSec: number | undefined;
  readonly notifyAccess: NotifyAccess;
  /** Seconds, or undefined for no limit. */
  readonly readyTimeoutSec: number | undefined;
  readonly restartDelaySec: number;
  readonly stopTimeoutSec: number;
  /**
   * How a restart on change, SIGHUP or request goes: `overlap` (default) starts the new instance on the same
   * sockets, waits until it is ready, then stops the old one; `stop-first` stops the old one first, for apps
   * that cannot run twice.
   */
  readonly restartMode: "overlap" | "stop-first";
  /** The signal that asks the app to reload (`Type=notify-reload`), or undefined to restart on SIGHUP. */
  readonly reloadSignal: string | undefined;
  readonly watch: readonly string[];
  readonly debounceSec: number;
  /** At most this many starts within {@link LaunchOptions.startLimitIntervalSec} (systemd's `StartLimitBurst=`). */
  readonly startLimitBurst: number;
  /** The start limit's window in seconds; 0 turns the limit off (systemd's `StartLimitIntervalSec=`). */
  readonly startLimitIntervalSec: number;
  /** Where `/readyz` and `/livez` are served (`--health`), or undefined. */
  readonly health: HealthAddress | undefined;
  /** The app's name for the control socket (`--name`, default: the script's or program's name). */
  readonly name: string;
}

/** `handover unit …` and `handover plist …`. */
export interface GenerateOptions extends CommonOptions {
  readonly mode: "unit" | "plist";
  readonly name: string;
  readonly type: ServiceType;
  readonly description: string | undefined;
  readonly notifyAccess: NotifyAccess | undefined;
}

/** What the command line asks for. */
export type ParsedCommandLine =
  | LaunchOptions
  | GenerateOptions
  | { readonly mode: "help"; readonly topic: "launch" | "unit" | "plist" }
  | { readonly mode: "version" };

/** The longest duration a timer can wait in every runtime: 2^31 - 1 ms, about 24.8 days. */
export const MAX_DURATION_SEC = 2_147_483;

/** The most instances `--workers` starts. */
export const MAX_WORKERS = 256;

/** The most fds an app can be given: fd 3 up to 1023 (the `childStdio()` bound, and `FD_SETSIZE`). */
export const MAX_APP_FDS = 1021;

/**
 * Parses a duration: `1.5` and `2s` are seconds, `500ms` milliseconds, `1min` a minute.
 *
 * @param text The value.
 * @param option The option, for the message.
 * @param min The shortest allowed, in seconds (default 0).
 * @param max The longest allowed, in seconds (default {@link MAX_DURATION_SEC}).
 * @returns Seconds.
 * @throws {UsageError} When the value is not a duration from `min` to `max`.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./args.ts";
 * parseDuration("250ms", "--watchdog"); // 0.25
 * ```
 */
export function parseDuration(text: string, option: string, min = 0, max: number = MAX_DURATION_SEC): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|sec|min)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(`Expected a duration like 5, 1.5s or 500ms after ${option}, got ${JSON.stringify(text)}`);
  }
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  const seconds = unit === "ms" ? value / 1000 : unit === "min" ? value * 60 : value;
  if (!(seconds >= min && seconds <= max)) {
    throw new UsageError(
      `Expected a duration from ${formatSeconds(min)} to ${formatSeconds(max)} after ${option}, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return seconds;
}

function formatSeconds(seconds: number): string {
  return seconds > 0 && seconds < 1 ? `${Math.round(seconds * 1000)}ms` : `${seconds}s`;
}

function parseCount(text: string, option: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`Expected an integer from ${min} to ${max} after ${option}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function oneOf<T extends string>(text: string, option: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`Expected one of ${choices.join(", ")} after ${option}, got ${JSON.stringify(text)}`);
  }
  return text as T;
}

const SIGNALS = ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGTERM", "SIGQUIT", "SIGWINCH"] as const;

/** Options that take a value, by every spelling, with the canonical name. */
const VALUED: Readonly<Record<string, string>> = {
  "-s": "socket",
  "--socket": "socket",
  "-b": "backlog",
  "--backlog": "backlog",
  "--notify-access": "notify-access",
  "--ready-timeout": "ready-timeout",
  "--watchdog": "watchdog",
  "--restart": "restart",
  "--restart-delay": "restart-delay",
  "--stop-timeout": "stop-timeout",
  "--restart-mode": "restart-mode",
  "--reload-signal": "reload-signal",
  "-w": "watch",
  "--watch": "watch",
  "--debounce": "debounce",
  "--fdstore": "fdstore",
  "--start-limit-burst": "start-limit-burst",
  "--start-limit-interval": "start-limit-interval",
  "--workers": "workers",
  "--workers-mode": "workers-mode",
  "--name": "name",
  "--health": "health",
  "--idle-timeout": "idle-timeout",
  "--type": "type",
  "--description": "description",
};

const FLAGS: Readonly<Record<string, string>> = {
  "-q": "quiet",
  "--quiet": "quiet",
  "--no-pid": "no-pid",
  "--on-demand": "on-demand",
  "-h": "help",
  "--help": "help",
  "-V": "version",
  "--version": "version",
};

const LAUNCH_ONLY = [
  "quiet",
  "no-pid",
  "on-demand",
  "idle-timeout",
  "ready-timeout",
  "restart-delay",
  "stop-timeout",
  "restart-mode",
  "reload-signal",
  "watch",
  "debounce",
  "start-limit-burst",
  "start-limit-interval",
  "health",
];
const GENERATE_ONLY = ["type", "description"];

/**
 * Parses the arguments after the program name.
 *
 * @param argv The arguments.
 * @returns What to do.
 * @throws {UsageError} On any malformed option or a missing command.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./args.ts";
 * const parsed = parseCommandLine(["-s", "http::8080", "--", "node", "app.js"]);
 * parsed.mode; // "launch"
 * ```
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let mode: "launch" | "unit" | "plist" = "launch";
  let args = [...argv];
  if (args[0] === "unit" || args[0] === "plist") {
    mode = args[0];
    args = args.slice(1);
  }
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  let command: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      command = args.slice(i + 1);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      // The command may follow the options without "--".
      command = args.slice(i);
      break;
    }
    let key = arg;
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      key = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    } else if (!arg.startsWith("--") && arg.length > 2) {
      // -s8080, -qs 8080
      key = arg.slice(0, 2);
      if (VALUED[key] !== undefined) inline = arg.slice(2);
      else if (FLAGS[key] !== undefined) args.splice(i + 1, 0, `-${arg.slice(2)}`);
    }
    const valued = VALUED[key];
    const flag = FLAGS[key];
    if (valued !== undefined) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`Expected a value after ${key}`);
      values.set(valued, [...(values.get(valued) ?? []), value]);
    } else if (flag !== undefined) {
      if (inline !== undefined) throw new UsageError(`${key} takes no value, got ${JSON.stringify(arg)}`);
      flags.add(flag);
    } else {
      throw new UsageError(`Unknown option ${key} (see handover --help)`);
    }
  }
  if (flags.has("help")) return { mode: "help", topic: mode };
  if (flags.has("version")) return { mode: "version" };
  const given = [...values.keys(), ...flags];
  for (const option of given) {
    if (mode !== "launch" && LAUNCH_ONLY.includes(option)) {
      throw new UsageError(`--${option} belongs to the launcher, not to handover ${mode}`);
    }
    if (mode === "launch" && GENERATE_ONLY.includes(option)) {
      throw new UsageError(`--${option} belongs to handover unit and handover plist`);
    }
  }
  const last = (name: string): string | undefined => values.get(name)?.at(-1);
  let sockets: SocketSpec[];
  try {
    sockets = (values.get("socket") ?? []).map(parseSocketSpec);
  } catch (error) {
    if (error instanceof SpecError) throw new UsageError(error.message);
    throw error;
  }
  if (command.length === 0) {
    throw new UsageError(
      mode === "launch"
        ? "Expected a command to run after the options, as in: handover -s http::8080 -- node app.js"
        : `Expected the app's command after the options, as in: handover ${mode} -s http::8080 -- node app.js`,
    );
  }
  if (command[0] === "") throw new UsageError("Expected a command name, got an empty string");
  const backlogText = last("backlog");
  const watchdogText = last("watchdog");
  // WATCHDOG_USEC must come out above 0, and the launcher's timer must be able to wait that long.
  const watchdogSec = watchdogText === undefined ? undefined : parseDuration(watchdogText, "--watchdog", 0.001);
  const restartText = last("restart");
  const common: CommonOptions = {
    sockets,
    backlog: backlogText === undefined ? undefined : parseCount(backlogText, "--backlog", 1, 1 << 20),
    // A worker that ends is started again, whatever ended it: the others serve meanwhile.
    restart: restartText === undefined
      ? (values.has("workers") && last("workers") !== "1" ? "always" : "no")
      : oneOf(restartText, "--restart", ["no", "on-failure", "always"]),
    restartGiven: restartText !== undefined,
    watchdogSec,
    fdstore: parseCount(last("fdstore") ?? "0", "--fdstore", 0, 1000),
    command,
    workers: parseCount(last("workers") ?? "1", "--workers", 1, MAX_WORKERS),
    workersMode: oneOf(last("workers-mode") ?? "shared", "--workers-mode", ["shared", "reuseport"] as const),
  };
  const accessText = last("notify-access");
  const notifyAccess = accessText === undefined
    ? undefined
    : oneOf(accessText, "--notify-access", ["main", "all", "none"] as const);
  const healthText = last("health");
  const launchName = last("name") ?? defaultUnitName(command).slice(0, 64);
  if (mode === "launch" && !/^[A-Za-z0-9:_.\\-]{1,200}$/.test(launchName)) {
    throw new UsageError(`Expected --name of letters, digits and :_.\\-, got ${JSON.stringify(launchName)}`);
  }
  if (mode !== "launch") {
    if (mode === "plist" && (values.has("workers") || values.has("workers-mode"))) {
      // launchd starts one process per job and has no templates: N jobs on one socket cannot be written.
      throw new UsageError(
        `--${
          values.has("workers") ? "workers" : "workers-mode"
        } belongs to the launcher and handover unit: a plist is one launchd job, and launchd hands its sockets to that job alone (run handover --workers N from the plist instead)`,
      );
    }
    const name = last("name") ?? defaultUnitName(command);
    if (!/^[A-Za-z0-9:_.\\-]{1,200}$/.test(name)) {
      throw new UsageError(`Expected a unit name of letters, digits and :_.\\-, got ${JSON.stringify(name)}`);
    }
    return {
      ...common,
      mode,
      name,
      type: oneOf(last("type") ?? "simple", "--type", ["simple", "notify", "notify-reload"] as const),
      description: last("description"),
      notifyAccess,
    };
  }
  const readyText = last("ready-timeout");
  const reloadText = last("reload-signal");
  let reloadSignal: string | undefined;
  if (reloadText !== undefined) {
    const upper = reloadText.toUpperCase();
    reloadSignal = oneOf(upper.startsWith("SIG") ? upper : `SIG${upper}`, "--reload-signal", SIGNALS);
  }
  if (common.workers > 1) {
    // A rolling restart is the workers' SIGHUP; on-demand starts would wake every worker for one connection.
    const alone = reloadText !== undefined ? "--reload-signal" : flags.has("on-demand") ? "--on-demand" : undefined;
    if (alone !== undefined) throw new UsageError(`${alone} cannot be combined with --workers ${common.workers}`);
  }
  const idleText = last("idle-timeout");
  if (idleText !== undefined && !flags.has("on-demand")) {
    throw new UsageError("--idle-timeout needs --on-demand (the next connection starts the app again)");
  }
  // Checked before anything is bound: the app gets the sockets and the fd store at fd 3, 4, …
  const appFds = sockets.length + common.fdstore;
  if (appFds > MAX_APP_FDS) {
    throw new UsageError(
      `Expected at most ${MAX_APP_FDS} fds for the app (fd 3 to 1023), got ${sockets.length} socket${
        sockets.length === 1 ? "" : "s"
      } and --fdstore ${common.fdstore}`,
    );
  }
  return {
    ...common,
    mode: "launch",
    quiet: flags.has("quiet"),
    noPid: flags.has("no-pid"),
    onDemand: flags.has("on-demand"),
    idleTimeoutSec: idleText === undefined ? undefined : parseDuration(idleText, "--idle-timeout", 0.001),
    notifyAccess: notifyAccess ?? "main",
    readyTimeoutSec: readyText === undefined ? undefined : parseDuration(readyText, "--ready-timeout", 0.001),
    restartDelaySec: parseDuration(last("restart-delay") ?? "0.1", "--restart-delay"),
    stopTimeoutSec: parseDuration(last("stop-timeout") ?? "10", "--stop-timeout"),
    restartMode: oneOf(last("restart-mode") ?? "overlap", "--restart-mode", ["overlap", "stop-first"] as const),
    reloadSignal,
    watch: values.get("watch") ?? [],
    debounceSec: parseDuration(last("debounce") ?? "0.2", "--debounce"),
    startLimitBurst: parseCount(last("start-limit-burst") ?? "5", "--start-limit-burst", 1, 10_000),
    startLimitIntervalSec: parseDuration(last("start-limit-interval") ?? "10", "--start-limit-interval"),
    health: healthText === undefined ? undefined : healthAddress(healthText),
    name: launchName,
  };
}

function healthAddress(text: string): HealthAddress {
  try {
    return parseHealthAddress(text);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function defaultUnitName(command: readonly string[]): string {
  // The script's base name for `node app.js`, else the program's.
  const interpreters = /^(node|nodejs|deno|bun|python3?|ruby|perl|sh|bash|npx|bunx|tsx)$/;
  const base = (p: string) => p.split("/").pop()!.replace(/\.[A-Za-z0-9]+$/, "");
  const program = base(command[0]!);
  const script = command.slice(1).find((a) => !a.startsWith("-") && a !== "run");
  const name = interpreters.test(program) && script !== undefined ? base(script) : program;
  return name.replace(/[^A-Za-z0-9:_.\\-]/g, "-") || "app";
}

/** The help text of the launcher and the generators. */
export const HELP: Readonly<Record<"launch" | "unit" | "plist", string>> = {
  launch: `handover ${VERSION}: a socket launcher and supervisor for apps that speak systemd's protocols

Usage: handover [options] -- COMMAND [ARGS...]
       handover unit [options] -- COMMAND [ARGS...]    print a systemd .socket + .service pair
       handover plist [options] -- COMMAND [ARGS...]   print a launchd plist
       handover probes [--health ADDR] [-- COMMAND...] print Kubernetes probes and a Dockerfile
       handover up [-f FILE]                           run every app of handover.json (up --help)
       handover status [NAME] | restart NAME | stop NAME | logs NAME
                                                       ask a running launcher (control socket)

Sockets (systemfd-compatible):
  -s, --socket [NAME=][TYPE::]VALUE
                         open a socket; repeat for more. TYPE: tcp (default), http,
                         https (printed as URLs), unix (default for paths), udp,
                         seqpacket. VALUE: PORT (on 127.0.0.1), HOST:PORT, [IPV6]:PORT,
                         a path or @abstract. Port 0 picks a free port. NAME goes into
                         LISTEN_FDNAMES (default: unknown).
  -b, --backlog N        listen(2) backlog (default: SOMAXCONN)
      --no-pid           do not set LISTEN_PID (for wrappers that start the app themselves)
  -q, --quiet            print nothing but errors
      --name NAME        the app's name for handover status/restart/stop/logs (default:
                         the script's or program's name)
      --health ADDR      serve /readyz and /livez over HTTP on HOST:PORT or :PORT (every
                         interface), for container probes

Starting:
      --on-demand        start COMMAND at the first connection; after a clean exit, wait
                         for the next one (connections queue meanwhile)
      --idle-timeout DURATION
                         with --on-demand: stop the app after DURATION without a connection
                         (open or queued); the next connection starts it again
      --restart no|on-failure|always
                         restart after the app exits by itself (default: no; on-failure
                         with --watchdog or --ready-timeout)
      --restart-delay DURATION
                         first back-off delay, doubled per failure up to 10 s (default: 100ms)
      --stop-timeout DURATION
                         how long a stopping app gets after SIGTERM before SIGKILL (default: 10s)
      --restart-mode overlap|stop-first
                         on change, SIGHUP or request: start the new instance, wait until it is
                         ready (READY=1, or its event loop waits on the sockets), then stop the
                         old one (default: overlap); or stop the old one first
      --start-limit-burst N, --start-limit-interval DURATION
                         give up after N starts within DURATION (default: 5 in 10s; an
                         interval of 0 turns the limit off); restarts on change and on
                         SIGHUP do not count

Supervision (NOTIFY_SOCKET is always set):
      --notify-access main|all|none
                         who may notify: the app's own process (default), any process of
                         the app, nobody
      --ready-timeout DURATION
                         the app must send READY=1 within this time
      --watchdog DURATION
                         set WATCHDOG_USEC; kill (SIGABRT) and restart an app that stops
                         sending WATCHDOG=1
      --reload-signal SIGNAL
                         on SIGHUP, send SIGNAL and wait for RELOADING=1 ... READY=1
                         (systemd's Type=notify-reload); without it SIGHUP restarts the app
                         unless the app has sent RELOADING=1 before (then it gets SIGHUP)
      --fdstore N        keep up to N fds the app sends with FDSTORE=1 and pass them back
                         on the next start, after the sockets

Workers:
      --workers N        run N instances of COMMAND on the sockets (WORKER_INDEX=0..N-1,
                         WORKER_COUNT=N); a worker that ends is started again alone
                         (--restart always unless given); SIGHUP and --watch restart them one
                         at a time, each replaced only once its successor is ready
      --workers-mode shared|reuseport
                         shared (default): one socket and accept queue for all workers;
                         reuseport: a SO_REUSEPORT socket per worker and TCP socket, kept
                         open across that worker's restarts

Restart on change:
  -w, --watch PATH       restart when a file under PATH changes; repeat for more
      --debounce DURATION
                         wait this long after the last change (default: 200ms)

  -h, --help             this text (handover unit --help for the generators)
  -V, --version          the version

The app runs in a session of its own: a stop or restart signals its whole process
group and the processes that escaped it (handover is their child subreaper), and
it ends with the launcher, even one killed with SIGKILL.
SIGTERM and SIGINT go to the app; handover exits with its status. SIGHUP reloads.
Durations: 5, 1.5s, 500ms, 1min, up to 2147483s. Errors exit with code 2.
`,
  unit: `Usage: handover unit [options] -- COMMAND [ARGS...]

Prints a systemd .socket unit (one per socket name) and a .service unit that runs
COMMAND with those sockets, as handover would.

  -s, --socket SPEC      as for the launcher (port 0 is not allowed in a unit)
  -b, --backlog N        Backlog=
      --name NAME        unit name (default: from the command)
      --type simple|notify|notify-reload
                         Type= of the service (default: simple)
      --description TEXT Description=
      --restart no|on-failure|always
      --watchdog DURATION
                         WatchdogSec=
      --notify-access main|all|none
      --fdstore N        FileDescriptorStoreMax=
      --workers N        print a template NAME@.service whose instances NAME@0 … NAME@{N-1}
                         are the workers (WORKER_INDEX=%i), and NAME.target that wants them
      --workers-mode shared|reuseport
                         shared (default): every instance gets the .socket units (Sockets=);
                         reuseport: a template NAME@.socket (ReusePort=yes) per TCP socket
                         name, instance i for worker i alone
`,
  plist: `Usage: handover plist [options] -- COMMAND [ARGS...]

Prints a launchd property list that opens the sockets and starts COMMAND on the
first connection (the app collects them with launch_activate_socket by name).

  -s, --socket SPEC      as for the launcher (port 0 is not allowed)
      --name NAME        Label (default: from the command)
      --restart no|on-failure|always
                         KeepAlive
`,
};
