/**
 * The `handover` command: parses the command line, binds the sockets, and
 * runs the supervisor or prints the unit files. Runtime-neutral: `node:`
 * built-ins that Node, Deno and Bun all have, plus handover's FFI.
 *
 * @module
 */

import { existsSync, statSync } from "node:fs";
import { loadBackend } from "../ffi/loader.ts";
import { system } from "../ffi/system.ts";
import { HELP, parseCommandLine, UsageError, VERSION } from "./args.ts";
import type { LaunchOptions } from "./args.ts";
import { CONTROL_COMMANDS, controlCommand, ControlServer, LogBook } from "./control.ts";
import { FdStore } from "./fdstore.ts";
import { type HealthServer, serveHealth } from "./health.ts";
import { probeSnippet } from "./probes.ts";
import {
  bindListeners,
  bindReusePortSets,
  closeListeners,
  describeListener,
  distinctListeners,
  type Listener,
  ListenerError,
} from "./listeners.ts";
import { NotifyReceiver } from "./notify_receiver.ts";
import { Supervisor, type SupervisorOutput } from "./supervisor.ts";
import { printable } from "./text.ts";
import { findProgram, launchdPlist, systemdUnits } from "./units.ts";
import { up } from "./up.ts";
import { WorkerPool } from "./workers.ts";

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
  if (options.workers > 1) return await launchWorkers(options, log);
  const { c } = system();
  let listeners: Listener[] = [];
  let receiver: NotifyReceiver | undefined;
  const store = new FdStore(options.fdstore);
  const book = new LogBook();
  let health: HealthServer | undefined;
  let control: ControlServer | undefined;
  try {
    listeners = bindListeners(options.sockets, options.backlog ?? c.SOMAXCONN);
    if (options.sockets.length === 0) log.info("warning: no sockets created");
    listeners.forEach((listener, i) => {
      const name = listener.spec.named ? ` as ${listener.spec.name}` : "";
      log.info(`socket ${describeListener(listener)} -> fd #${3 + i}${name}`);
    });
    if (options.notifyAccess !== "none") receiver = NotifyReceiver.open();
    const supervisor = new Supervisor(options, listeners, receiver, store, book.wrap(log));
    health = options.health && await serveHealth(options.health, () => supervisor.state());
    if (health) log.info(`health http://${health.address.host ?? "0.0.0.0"}:${health.address.port}/readyz /livez`);
    control = openControl(options.name, supervisor, listeners.map(describeListener), book, log);
    return await supervisor.run();
  } finally {
    control?.close();
    await health?.close();
    closeListeners(listeners);
    receiver?.close();
    store.clear();
  }
}

/** `--workers N`: the sockets once (shared) or once per worker (reuseport), a notify socket and fd store each. */
async function launchWorkers(options: LaunchOptions, log: SupervisorOutput): Promise<number> {
  const { c } = system();
  const count = options.workers;
  let sets: Listener[][] = [];
  const receivers: NotifyReceiver[] = [];
  const stores: FdStore[] = [];
  try {
    const backlog = options.backlog ?? c.SOMAXCONN;
    if (options.workersMode === "reuseport") sets = bindReusePortSets(options.sockets, backlog, count);
    else {
      const shared = bindListeners(options.sockets, backlog);
      sets = Array.from({ length: count }, () => shared);
    }
    if (options.sockets.length === 0) log.info("warning: no sockets created");
    sets.forEach((set, worker) => {
      set.forEach((listener, i) => {
        if (worker > 0 && listener === sets[0]![i]) return;
        const name = listener.spec.named ? ` as ${listener.spec.name}` : "";
        const whose = sets[0]![i] === sets[1]?.[i] ? "every worker" : `worker ${worker}`;
        log.info(`socket ${describeListener(listener)} -> fd #${3 + i}${name} of ${whose}`);
      });
    });
    for (let i = 0; i < count; i++) {
      if (options.notifyAccess !== "none") receivers.push(NotifyReceiver.open());
      stores.push(new FdStore(options.fdstore));
    }
    const pool = new WorkerPool(
      options,
      sets.map((listeners, i) => ({ listeners, receiver: receivers[i], store: stores[i]! })),
      log,
    );
    return await pool.run();
  } finally {
    closeListeners(distinctListeners(sets));
    for (const receiver of receivers) receiver.close();
    for (const store of stores) store.clear();
  }
}

/** The control socket, or a warning when it cannot be had (the app runs all the same). */
function openControl(
  name: string,
  supervisor: Supervisor,
  sockets: string[],
  book: LogBook,
  log: SupervisorOutput,
): ControlServer | undefined {
  try {
    return ControlServer.open(name, supervisor, sockets, book);
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
