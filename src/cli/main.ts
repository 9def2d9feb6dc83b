/**
 * The `handover` command: parses the command line, then runs the app as a
 * client of the `Launcher` API (which binds the sockets and supervises it),
 * or prints the unit files. Runtime-neutral: `node:`
 * built-ins that Node, Deno and Bun all have, plus handover's FFI.
 *
 * @module
 */

import { existsSync, statSync } from "node:fs";
import { loadBackend } from "../ffi/loader.ts";
import { HELP, parseCommandLine, UsageError, VERSION } from "./args.ts";
import type { LaunchOptions } from "./args.ts";
import { CONTROL_COMMANDS, controlCommand, ControlServer } from "./control.ts";
import { type HealthServer, serveHealth } from "./health.ts";
import { collectWhenSettled, leanCompiler } from "./heap.ts";
import { addCommandLineApp, Launcher, launcherControlEntries } from "./launcher.ts";
import { describeListener, type Listener, ListenerError } from "./listeners.ts";
import { probeSnippet } from "./probes.ts";
import type { SupervisorOutput } from "./supervisor.ts";
import { printable } from "./text.ts";
import { findProgram, launchdPlist, systemdUnits } from "./units.ts";
import { up } from "./up.ts";

/** Where the command writes. */
export interface CommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * Writes to a stream that may be closed under us (`handover … | head -2`):
 * EPIPE, reported by a throw or by an `error` event, must never end the
 * launcher, which would leave the app unsupervised; from then on the
 * stream's output is dropped.
 */
function tolerantWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let broken = false;
  let listening = false;
  return (text) => {
    if (broken) return;
    if (!listening) {
      listening = true;
      stream.on("error", () => broken = true);
    }
    try {
      stream.write(text, (error) => {
        if (error) broken = true;
      });
    } catch {
      broken = true;
    }
  };
}

const processOutput: CommandOutput = {
  stdout: tolerantWriter(process.stdout),
  stderr: tolerantWriter(process.stderr),
};

/** The exit code for a bad command line or a socket that cannot be opened. */
export const EXIT_USAGE = 2;

async function launch(options: LaunchOptions, out: CommandOutput): Promise<number> {
  // Lines carry text from the app (STATUS=, FDNAME=) and the command line: no terminal control sequences.
  const log: SupervisorOutput = {
    info: (line) => options.quiet || out.stderr(`~> ${printable(line)}\n`),
    warn: (line) => out.stderr(`~> ${printable(line)}\n`),
  };
  const program = options.command[0]!;
  if (findProgram(program) === undefined) {
    let directory = false;
    try {
      directory = program.includes("/") && statSync(program).isDirectory();
    } catch {
      // not there at all
    }
    throw new UsageError(
      `Cannot find the command ${JSON.stringify(program)} (${
        directory ? "it is a directory" : "not in PATH or not executable"
      })`,
    );
  }
  for (const path of options.watch) {
    if (!existsSync(path)) throw new UsageError(`Cannot watch ${JSON.stringify(path)}: it does not exist`);
  }
  // The command is a client of the Launcher API: one app, whose supervisor answers this process's signals.
  // A launcher runs for long and mostly waits: memory before speed (the handover command only, not the API).
  leanCompiler();
  const launcher = new Launcher();
  let health: HealthServer | undefined;
  let control: ControlServer | undefined;
  try {
    logSockets(addCommandLineApp(launcher, options), log);
    launcher.on("log", ({ level, line }) => log[level](line));
    collectWhenSettled(launcher);
    const stopped = new Promise<number>((resolve) => launcher.once("stop", ({ code }) => resolve(code)));
    health = options.health && await serveHealth(options.health, () => launcher.apps()[0]!);
    if (health) log.info(`health http://${health.address.host ?? "0.0.0.0"}:${health.address.port}/readyz /livez`);
    control = openControl(options.name, launcher, log);
    // An app that ends before it is ready is told of by its lines; its status is the exit code.
    launcher.start(options.name).catch(() => {});
    return await stopped;
  } finally {
    control?.close();
    await health?.close();
    await launcher.close();
  }
}

/** Which fd each socket is, and whose it is (`--workers`: every worker's, or one worker's in reuseport mode). */
function logSockets(sets: readonly (readonly Listener[])[], log: SupervisorOutput): void {
  if (sets[0]!.length === 0) log.info("warning: no sockets created");
  sets.forEach((set, worker) => {
    set.forEach((listener, i) => {
      if (worker > 0 && listener === sets[0]![i]) return;
      const name = listener.spec.named ? ` as ${listener.spec.name}` : "";
      const whose = sets.length === 1 ? "" : sets[0]![i] === sets[1]![i] ? " of every worker" : ` of worker ${worker}`;
      log.info(`socket ${describeListener(listener)} -> fd #${3 + i}${name}${whose}`);
    });
  });
}

/** The control socket, or a warning when it cannot be had (the app runs all the same). */
function openControl(name: string, launcher: Launcher, log: SupervisorOutput): ControlServer | undefined {
  try {
    return ControlServer.openMany(name, () => launcherControlEntries(launcher));
  } catch (error) {
    log.warn(`no control socket: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/**
 * Runs the `handover` command.
 *
 * @param argv The arguments after the program name.
 * @param out Where to write (default: the process's stdout and stderr).
 * @returns The exit code: the app's status, or 2 for a bad command line or a socket that cannot be opened.
 *
 * @example
 * ```ts ignore
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: readonly string[], out: CommandOutput = processOutput): Promise<number> {
  try {
    if (argv[0] === "probes") {
      out.stdout(probeSnippet(argv.slice(1)));
      return 0;
    }
    if (CONTROL_COMMANDS.includes(argv[0] ?? "")) return await controlCommand(argv, out);
    if (argv[0] === "up") {
      await loadBackend();
      return await up(argv.slice(1), out);
    }
    const parsed = parseCommandLine(argv);
    switch (parsed.mode) {
      case "help":
        out.stdout(HELP[parsed.topic]);
        return 0;
      case "version":
        out.stdout(`handover ${VERSION}\n`);
        return 0;
      case "unit":
        for (const file of systemdUnits(parsed)) out.stdout(`# ${file.name}\n${file.content}\n`);
        return 0;
      case "plist":
        out.stdout(launchdPlist(parsed).content);
        return 0;
      case "launch":
        await loadBackend();
        return await launch(parsed, out);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ListenerError || error instanceof RangeError) {
      out.stderr(`handover: ${printable(error.message)}\n`);
      return EXIT_USAGE;
    }
    out.stderr(`handover: ${printable(error instanceof Error ? error.message : String(error))}\n`);
    return 1;
  }
}
