/**
 * `handover up [-f FILE]`: runs every app of a handover.json in one launcher,
 * a client of the `Launcher` API. Each line an app or the launcher prints is
 * prefixed with the app's name (`web | …`), in colour when stderr is a
 * terminal and `NO_COLOR` is unset. SIGTERM and SIGINT drain and stop every
 * app (a second one kills them), SIGHUP restarts them all (overlapped), and
 * one control socket answers `handover status|restart|stop|logs` for every
 * app.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { UsageError } from "./args.ts";
import { APP_NAME, ConfigError, parseLauncherFile } from "./config.ts";
import { ControlServer } from "./control.ts";
import { collectWhenSettled, leanCompiler } from "./heap.ts";
import { Launcher, launcherControlEntries, launcherLogBook } from "./launcher.ts";
import { printable } from "./text.ts";

/** Where `handover up` writes. */
export interface UpOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The help text of `handover up`. */
export const UP_HELP = `Usage: handover up [-f FILE] [--name NAME] [-q]

Runs every app of FILE (default: ./handover.json) in one launcher: each on its
own sockets, at once or on its first connection (onDemand), stopped after
idleTimeout, restarted by its restart policy. See schema/handover.schema.json.

  -f, --file FILE        the apps (default: handover.json in the current directory)
      --name NAME        the launcher's name for the control socket (default: the
                         file's "name", else its directory's name)
  -q, --quiet            print the apps' output, not the launcher's lines

SIGTERM and SIGINT stop every app (a second one kills them); SIGHUP restarts
them all. handover status lists every app; handover restart|stop|logs NAME
address one of them.
`;

const COLOURS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95];

/** The arguments of `handover up`. */
interface UpArguments {
  readonly file: string;
  readonly name: string | undefined;
  readonly quiet: boolean;
  readonly help: boolean;
}

function parseUpArguments(argv: readonly string[]): UpArguments {
  let file = "handover.json";
  let name: string | undefined;
  let quiet = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`Expected a value after ${arg}`);
      return next;
    };
    if (arg === "-f" || arg === "--file") file = value();
    else if (arg.startsWith("--file=")) file = arg.slice(7);
    else if (arg === "--name") name = value();
    else if (arg.startsWith("--name=")) name = arg.slice(7);
    else if (arg === "-q" || arg === "--quiet") quiet = true;
    else if (arg === "-h" || arg === "--help") help = true;
    else throw new UsageError(`Unknown argument ${JSON.stringify(arg)} for handover up (see handover up --help)`);
  }
  if (name !== undefined && !APP_NAME.test(name)) {
    throw new UsageError(`Expected --name of letters, digits and :_.-, got ${JSON.stringify(name)}`);
  }
  return { file, name, quiet, help };
}

/**
 * Splits chunks into lines and prints each with a prefix; a last partial line waits for its end, unless it
 * grows past 64 KiB.
 *
 * @param write Where the prefixed lines go.
 * @param prefix What each line starts with.
 * @returns The function to call with each chunk.
 *
 * @example
 * ```ts
 * import { lineWriter } from "./up.ts";
 * let out = "";
 * const write = lineWriter((text) => out += text, "web | ");
 * write("one\ntw");
 * write("o\n");
 * out; // "web | one\nweb | two\n"
 * ```
 */
export function lineWriter(write: (text: string) => void, prefix: string): (chunk: string) => void {
  let rest = "";
  const separator = `\n${prefix}`;
  return (chunk) => {
    const text = rest + chunk;
    const end = text.lastIndexOf("\n") + 1;
    // The complete lines without their last newline, then the prefix put after each newline inside: one native
    // pass over the chunk, not an array of lines.
    let complete = text.slice(0, Math.max(end - 1, 0));
    rest = text.slice(end);
    if (rest.length > 64 * 1024) {
      complete = end === 0 ? rest : `${complete}\n${rest}`;
      rest = "";
    } else if (end === 0) return;
    write(`${prefix}${complete.replaceAll("\n", separator)}\n`);
  };
}

/**
 * Runs `handover up`.
 *
 * @param argv The arguments after `up`.
 * @param out Where to write.
 * @returns The exit code: 0 after a stop by signal or when every app ended cleanly, else the first non-zero
 * status of an app that ended for good; 2 for a bad command line or file.
 * @throws {UsageError} For a bad command line or handover.json (ConfigError names the field).
 *
 * @example
 * ```ts ignore
 * process.exitCode = await up(["-f", "examples/up/handover.json"], out);
 * ```
 */
export async function up(argv: readonly string[], out: UpOutput): Promise<number> {
  const args = parseUpArguments(argv);
  if (args.help) {
    out.stdout(UP_HELP);
    return 0;
  }
  const path = resolve(args.file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`Cannot read ${args.file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${args.file} is not JSON: ${(error as Error).message}`);
  }
  let file: ReturnType<typeof parseLauncherFile>;
  try {
    file = parseLauncherFile(json, dirname(path));
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`${args.file}: ${error.message}`);
    throw error;
  }
  const launcherName = args.name ?? file.name ??
    (basename(dirname(path)).replace(/[^A-Za-z0-9:_.\\-]/g, "-").slice(0, 64) || "up");

  const colour = process.stderr.isTTY === true && (process.env.NO_COLOR ?? "") === "";
  const width = Math.max(...file.apps.map((app) => app.name.length));
  const prefixes = new Map(file.apps.map((app, i) => {
    const label = `${app.name.padEnd(width)} |`;
    return [app.name, colour ? `\x1b[${COLOURS[i % COLOURS.length]}m${label}\x1b[0m ` : `${label} `];
  }));
  const writers = new Map(
    file.apps.map((app) => [app.name, {
      stdout: lineWriter(out.stdout, prefixes.get(app.name)!),
      stderr: lineWriter(out.stderr, prefixes.get(app.name)!),
    }]),
  );

  // A launcher runs for long and mostly waits: memory before speed (the handover command only, not the API).
  leanCompiler();
  let launcher: Launcher;
  try {
    launcher = new Launcher({ apps: (json as { apps: [] }).apps, baseDir: dirname(path), output: "pipe" });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`${args.file}: ${error.message}`);
    throw error;
  }
  launcher.on("log", ({ name, level, line }) => {
    if (level === "warn" || !args.quiet) out.stderr(`${prefixes.get(name)}~> ${printable(line)}\n`);
  });
  launcher.on("output", ({ name, stream, text }) => {
    for (const line of text.replace(/\n$/, "").split("\n")) launcherLogBook(launcher, name).add(line);
    writers.get(name)![stream](text);
  });
  launcher.on("error", () => {}); // logged as warnings already
  collectWhenSettled(launcher);
  for (const app of launcher.apps()) {
    if (!args.quiet) {
      for (const socket of app.sockets) out.stderr(`${prefixes.get(app.name)}~> socket ${socket}\n`);
    }
  }

  let control: ControlServer | undefined;
  try {
    control = ControlServer.openMany(launcherName, () => launcherControlEntries(launcher));
    if (!args.quiet) out.stderr(`~> control socket ${control.path}\n`);
  } catch (error) {
    out.stderr(`~> no control socket: ${error instanceof Error ? error.message : String(error)}\n`);
  }

  let signalled = false;
  const codes = new Map<string, number>();
  let allEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => allEnded = resolve);
  launcher.on("stop", ({ name, code }) => {
    codes.set(name, code);
    if (launcher.apps().every((app) => !app.supervised)) allEnded();
  });
  const onStop = (): void => {
    if (!signalled) {
      signalled = true;
      if (!args.quiet) out.stderr("~> stopping every app\n");
      void launcher.close();
    } else void launcher.close({ force: true }).catch(() => {});
  };
  const onHangUp = (): void => {
    for (const name of launcher.names()) void launcher.restart(name).catch(() => {});
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHangUp);
  try {
    await launcher.start().catch(() => {}); // an app that ends before it is ready is reported by its lines
    await ended;
    await launcher.close();
  } finally {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHangUp);
    control?.close();
  }
  if (signalled) return 0;
  return [...codes.values()].find((code) => code !== 0) ?? 0;
}
