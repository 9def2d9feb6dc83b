/**
 * The apps of a launcher: `handover.json` for `handover up`, and the objects
 * the `Launcher` API takes. Every field maps onto a launcher option
 * (`sockets` is `-s`, `onDemand` is `--on-demand`, …); a bad value is
 * reported with the path of the field, as in `apps[2].sockets[0]: …`.
 * `schema/handover.schema.json` describes the same file for editors.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import {
  type LaunchOptions,
  MAX_APP_FDS,
  MAX_DURATION_SEC,
  MAX_WORKERS,
  type NotifyAccess,
  parseDuration,
  type RestartPolicy,
} from "./args.ts";
import { parseSocketSpec, SpecError } from "./spec.ts";

export type { NotifyAccess, RestartPolicy } from "./args.ts";

/** A duration: seconds as a number, or a string like `"1.5s"`, `"500ms"` or `"1min"`. */
export type Duration = number | string;

/** One app of a launcher (an entry of `apps` in handover.json). */
export interface AppConfig {
  /** Its name, for events, logs and `handover status|restart|stop|logs NAME`: letters, digits and `:_.-`. */
  readonly name: string;
  /** The program and its arguments. */
  readonly command: readonly string[];
  /** Its working directory (default, and what a relative one is relative to: handover.json's directory). */
  readonly cwd?: string;
  /** Variables set for it on top of the launcher's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Its sockets, each as `-s` takes it: `[NAME=][TYPE::]VALUE`, like `"web=http::8080"`. */
  readonly sockets?: readonly string[];
  /** Start it at the first connection, not at once (`--on-demand`). */
  readonly onDemand?: boolean;
  /** With `onDemand`: stop it after this long without a connection; the next connection starts it again. */
  readonly idleTimeout?: Duration;
  /** Restart it after it exits by itself (`--restart`, default `no`). */
  readonly restart?: RestartPolicy;
  /** The first back-off delay (`--restart-delay`, default 100ms). */
  readonly restartDelay?: Duration;
  /** How a restart goes (`--restart-mode`, default `overlap`). */
  readonly restartMode?: "overlap" | "stop-first";
  /** How long it gets after SIGTERM before SIGKILL (`--stop-timeout`, default 10s). */
  readonly stopTimeout?: Duration;
  /** Restart it when a file under these paths changes (`--watch`). */
  readonly watch?: readonly string[];
  /** The quiet time after a change before the restart (`--debounce`, default 200ms). */
  readonly debounce?: Duration;
  /** It must send READY=1 within this time (`--ready-timeout`). */
  readonly readyTimeout?: Duration;
  /** Its watchdog interval (`--watchdog`). */
  readonly watchdog?: Duration;
  /** How many fds it may keep in the fd store (`--fdstore`, default 0). */
  readonly fdstore?: number;
  /** How many instances run side by side on its sockets (`--workers`, default 1). */
  readonly workers?: number;
  /** How workers share a TCP socket (`--workers-mode`, default `shared`). */
  readonly workersMode?: "shared" | "reuseport";
  /** Who may notify (`--notify-access`, default `main`). */
  readonly notifyAccess?: NotifyAccess;
  /** The listen(2) backlog (`--backlog`, default SOMAXCONN). */
  readonly backlog?: number;
  /** At most this many starts within `startLimitInterval` (default 5). */
  readonly startLimitBurst?: number;
  /** The start limit's window (default 10s; 0 turns the limit off). */
  readonly startLimitInterval?: Duration;
}

/** handover.json. */
export interface LauncherFile {
  /** The launcher's name for the control socket (default: the file's directory's name). */
  readonly name?: string;
  /** The apps. */
  readonly apps: readonly AppConfig[];
}

/** An app's options as the supervisor takes them, with what only the Launcher uses. */
export interface ResolvedApp {
  readonly name: string;
  readonly options: LaunchOptions;
  /** Its working directory, absolute (default: the directory of handover.json, or the launcher's). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A handover.json or an app that does not validate; the message starts with the field's path. */
export class ConfigError extends Error {
  /** The path of the field, as in `apps[2].sockets[0]`. */
  readonly field: string;

  /**
   * Creates the error.
   *
   * @param field The path of the field.
   * @param message What was expected and what was found.
   */
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "ConfigError";
    this.field = field;
  }
}

const APP_FIELDS = new Set([
  "name",
  "command",
  "cwd",
  "env",
  "sockets",
  "onDemand",
  "idleTimeout",
  "restart",
  "restartDelay",
  "restartMode",
  "stopTimeout",
  "watch",
  "debounce",
  "readyTimeout",
  "watchdog",
  "fdstore",
  "workers",
  "workersMode",
  "notifyAccess",
  "backlog",
  "startLimitBurst",
  "startLimitInterval",
]);

/** A name for the control socket and the log prefix. */
export const APP_NAME: RegExp = /^[A-Za-z0-9:_.\\-]{1,64}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  return typeof value === "string" ? JSON.stringify(value) : typeof value === "object" ? "an object" : String(value);
}

function stringList(value: unknown, field: string, nonEmpty: boolean): string[] {
  if (!Array.isArray(value)) throw new ConfigError(field, `expected an array of strings, got ${describe(value)}`);
  if (nonEmpty && value.length === 0) throw new ConfigError(field, "expected at least one string, got []");
  value.forEach((item, i) => {
    if (typeof item !== "string") {
      throw new ConfigError(`${field}[${i}]`, `expected a string, got ${describe(item)}`);
    }
  });
  return value as string[];
}

function choice<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    throw new ConfigError(field, `expected one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${describe(value)}`);
  }
  return value as T;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function duration(value: unknown, field: string, min = 0): number {
  if (typeof value === "number") {
    if (!(value >= min && value <= MAX_DURATION_SEC)) {
      throw new ConfigError(field, `expected seconds from ${min} to ${MAX_DURATION_SEC}, got ${value}`);
    }
    return value;
  }
  if (typeof value !== "string") {
    throw new ConfigError(field, `expected seconds or a duration like "1.5s" or "500ms", got ${describe(value)}`);
  }
  try {
    return parseDuration(value, field, min);
  } catch (error) {
    const message = (error as Error).message.replace(/ after \S+,/, ",");
    throw new ConfigError(field, message[0]!.toLowerCase() + message.slice(1));
  }
}

/**
 * Checks one app and turns it into the supervisor's options.
 *
 * @param app The app, as parsed from JSON or given to the API.
 * @param field Its path, for messages (`apps[2]`).
 * @param baseDir What a relative `cwd` is relative to.
 * @returns The app, resolved.
 * @throws {ConfigError} On the first bad field, naming it.
 *
 * @example
 * ```ts
 * import { resolveApp } from "./config.ts";
 * const app = resolveApp({ name: "web", command: ["node", "app.js"], sockets: ["http::0"], onDemand: true }, "app");
 * app.options.onDemand; // true
 * ```
 */
export function resolveApp(app: unknown, field: string, baseDir: string = process.cwd()): ResolvedApp {
  if (!isObject(app)) throw new ConfigError(field, `expected an object, got ${describe(app)}`);
  for (const key of Object.keys(app)) {
    if (!APP_FIELDS.has(key)) throw new ConfigError(`${field}.${key}`, "unknown field");
  }
  const name = app.name;
  if (typeof name !== "string" || !APP_NAME.test(name)) {
    throw new ConfigError(`${field}.name`, `expected 1 to 64 letters, digits and :_.-, got ${describe(name)}`);
  }
  if (app.command === undefined) throw new ConfigError(`${field}.command`, "missing");
  const command = stringList(app.command, `${field}.command`, true);
  if (command[0] === "") throw new ConfigError(`${field}.command[0]`, "expected a program, got an empty string");
  const sockets = (app.sockets === undefined ? [] : stringList(app.sockets, `${field}.sockets`, false)).map(
    (text, i) => {
      try {
        return parseSocketSpec(text);
      } catch (error) {
        if (error instanceof SpecError) throw new ConfigError(`${field}.sockets[${i}]`, error.message);
        throw error;
      }
    },
  );
  let cwd: string = baseDir;
  if (app.cwd !== undefined) {
    if (typeof app.cwd !== "string" || app.cwd === "") {
      throw new ConfigError(`${field}.cwd`, `expected a directory, got ${describe(app.cwd)}`);
    }
    cwd = isAbsolute(app.cwd) ? app.cwd : resolve(baseDir, app.cwd);
  }
  const env: Record<string, string> = {};
  if (app.env !== undefined) {
    if (!isObject(app.env)) throw new ConfigError(`${field}.env`, `expected an object, got ${describe(app.env)}`);
    for (const [key, value] of Object.entries(app.env)) {
      if (typeof value !== "string") {
        throw new ConfigError(`${field}.env.${key}`, `expected a string, got ${describe(value)}`);
      }
      env[key] = value;
    }
  }
  const flag = (key: string): boolean => {
    const value = app[key];
    if (value === undefined) return false;
    if (typeof value !== "boolean") {
      throw new ConfigError(`${field}.${key}`, `expected true or false, got ${describe(value)}`);
    }
    return value;
  };
  const onDemand = flag("onDemand");
  const optional = <T>(key: string, parse: (value: unknown, field: string) => T): T | undefined =>
    app[key] === undefined ? undefined : parse(app[key], `${field}.${key}`);
  const idleTimeout = optional("idleTimeout", (v, f) => duration(v, f, 0.001));
  if (idleTimeout !== undefined && !onDemand) {
    throw new ConfigError(`${field}.idleTimeout`, "needs onDemand: true (the next connection starts the app again)");
  }
  const workers = optional("workers", (v, f) => integer(v, f, 1, MAX_WORKERS)) ?? 1;
  if (workers > 1 && onDemand) throw new ConfigError(`${field}.workers`, "cannot be combined with onDemand");
  const restart = optional("restart", (v, f) => choice(v, f, ["no", "on-failure", "always"] as const));
  const fdstore = optional("fdstore", (v, f) => integer(v, f, 0, 1000)) ?? 0;
  if (sockets.length + fdstore > MAX_APP_FDS) {
    throw new ConfigError(`${field}.fdstore`, `expected at most ${MAX_APP_FDS} fds for the app with its sockets`);
  }
  const watch = (optional("watch", (v, f) => stringList(v, f, false)) ?? []).map((p) =>
    isAbsolute(p) ? p : resolve(cwd, p)
  );
  const options: LaunchOptions = {
    mode: "launch",
    sockets,
    backlog: optional("backlog", (v, f) => integer(v, f, 1, 1 << 20)),
    restart: restart ?? (workers > 1 ? "always" : "no"),
    restartGiven: restart !== undefined,
    watchdogSec: optional("watchdog", (v, f) => duration(v, f, 0.001)),
    fdstore,
    command,
    workers,
    workersMode: optional("workersMode", (v, f) => choice(v, f, ["shared", "reuseport"] as const)) ?? "shared",
    quiet: false,
    noPid: false,
    onDemand,
    idleTimeoutSec: idleTimeout,
    notifyAccess: optional("notifyAccess", (v, f) => choice(v, f, ["main", "all", "none"] as const)) ?? "main",
    readyTimeoutSec: optional("readyTimeout", (v, f) => duration(v, f, 0.001)),
    restartDelaySec: optional("restartDelay", duration) ?? 0.1,
    stopTimeoutSec: optional("stopTimeout", duration) ?? 10,
    restartMode: optional("restartMode", (v, f) => choice(v, f, ["overlap", "stop-first"] as const)) ?? "overlap",
    reloadSignal: undefined,
    watch,
    debounceSec: optional("debounce", duration) ?? 0.2,
    startLimitBurst: optional("startLimitBurst", (v, f) => integer(v, f, 1, 10_000)) ?? 5,
    startLimitIntervalSec: optional("startLimitInterval", duration) ?? 10,
    health: undefined,
    name,
  };
  return { name, options, cwd, env };
}

/**
 * Checks a parsed handover.json.
 *
 * @param file The parsed JSON.
 * @param baseDir The file's directory (relative `cwd` and `watch` paths are relative to it).
 * @returns The launcher's name (if given) and its apps, resolved.
 * @throws {ConfigError} On the first bad field, naming it (`apps[2].sockets[0]: …`).
 *
 * @example
 * ```ts
 * import { parseLauncherFile } from "./config.ts";
 * const file = parseLauncherFile({ apps: [{ name: "web", command: ["node", "app.js"], sockets: ["8080"] }] }, "/srv");
 * file.apps[0]!.name; // "web"
 * ```
 */
export function parseLauncherFile(
  file: unknown,
  baseDir: string,
): { readonly name: string | undefined; readonly apps: ResolvedApp[] } {
  if (!isObject(file)) throw new ConfigError("(top level)", `expected an object, got ${describe(file)}`);
  for (const key of Object.keys(file)) {
    if (key !== "$schema" && key !== "name" && key !== "apps") throw new ConfigError(key, "unknown field");
  }
  if (file.$schema !== undefined && typeof file.$schema !== "string") {
    throw new ConfigError("$schema", `expected a string, got ${describe(file.$schema)}`);
  }
  const name = file.name;
  if (name !== undefined && (typeof name !== "string" || !APP_NAME.test(name))) {
    throw new ConfigError("name", `expected 1 to 64 letters, digits and :_.-, got ${describe(name)}`);
  }
  if (file.apps === undefined) throw new ConfigError("apps", "missing");
  if (!Array.isArray(file.apps) || file.apps.length === 0) {
    throw new ConfigError("apps", `expected a non-empty array of apps, got ${describe(file.apps)}`);
  }
  const apps = file.apps.map((app, i) => resolveApp(app, `apps[${i}]`, baseDir));
  const seen = new Set<string>();
  apps.forEach((app, i) => {
    if (seen.has(app.name)) throw new ConfigError(`apps[${i}].name`, `${JSON.stringify(app.name)} is taken already`);
    seen.add(app.name);
  });
  return { name, apps };
}
