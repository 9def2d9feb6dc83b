/**
 * `handover unit` and `handover plist`: the systemd units and the launchd
 * property list that do in production what the launcher does on a laptop,
 * for the same sockets and command.
 *
 * @module
 */

import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { formatAddress } from "../fd/socket.ts";
import { UsageError } from "./args.ts";
import type { GenerateOptions } from "./args.ts";
import type { SocketSpec } from "./spec.ts";

/** One generated file. */
export interface GeneratedFile {
  readonly name: string;
  readonly content: string;
}

/**
 * Finds a program the way execvp(3) does: an executable regular file (a
 * directory has the execute bit too, but exec(2) refuses it with EACCES).
 *
 * @param program A name or path.
 * @param path The `PATH` to search.
 * @returns The absolute path, or undefined when there is no such executable.
 *
 * @example Find the shell
 * ```ts
 * import { findProgram } from "./units.ts";
 * findProgram("sh"); // "/usr/bin/sh" (where PATH finds it first)
 * findProgram("/tmp"); // undefined: a directory is not a program
 * ```
 */
export function findProgram(program: string, path: string = process.env.PATH ?? ""): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, fsConstants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes("/")) return executable(program) ? resolve(program) : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, program);
    if (executable(candidate)) return isAbsolute(candidate) ? candidate : resolve(candidate);
  }
  return undefined;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * A value for a unit file setting that takes text as it is (`Description=`,
 * paths): systemd.syntax(7) has no escape for a line break there (a newline
 * would start a directive of its own, a trailing backslash would swallow the
 * next line), so those are refused; `%` starts a specifier (systemd.unit(5),
 * "Specifiers") and is doubled.
 */
function unitValue(text: string, what: string): string {
  if (CONTROL.test(text) || text.endsWith("\\")) {
    throw new UsageError(
      `Expected ${what} without control characters or a trailing backslash for a unit file, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return text.replaceAll("%", "%%");
}

/**
 * Quotes a word for ExecStart= (systemd.service(5), "Command lines"): inside
 * double quotes systemd undoes C escapes, so every control character is
 * written as one; `$` would expand a variable and `%` a specifier.
 */
function execWord(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_./:=@+,-]+$/.test(word)) return word.replaceAll("%", "%%");
  // deno-lint-ignore no-control-regex
  const escaped = word.replace(/[\x00-\x1f\x7f\\"]/g, (ch) => {
    switch (ch) {
      case "\\":
        return "\\\\";
      case '"':
        return '\\"';
      case "\n":
        return "\\n";
      case "\t":
        return "\\t";
      case "\r":
        return "\\r";
    }
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
  }).replaceAll("$", "$$$$").replaceAll("%", "%%");
  return `"${escaped}"`;
}

function listenLine(spec: SocketSpec): string {
  const directive = spec.type === "dgram"
    ? "ListenDatagram"
    : spec.type === "seqpacket"
    ? "ListenSequentialPacket"
    : "ListenStream";
  const address = spec.address;
  if (address.family === "unix") {
    const path = address.path.startsWith("@") ? address.path : resolve(address.path);
    return `${directive}=${unitValue(path, "a socket path")}`;
  }
  if ("port" in address && address.port === 0) {
    throw new UsageError(`A unit needs a fixed port, got port 0 in ${JSON.stringify(spec.text)}`);
  }
  return `${directive}=${formatAddress(address)}`;
}

/** Socket groups in the order their fds are passed: one .socket unit per name. */
function groupByName(specs: readonly SocketSpec[]): [string, SocketSpec[]][] {
  const groups = new Map<string, SocketSpec[]>();
  for (const spec of specs) groups.set(spec.name, [...(groups.get(spec.name) ?? []), spec]);
  return [...groups];
}

function resolvedCommand(command: readonly string[]): string[] {
  const program = findProgram(command[0]!);
  if (program === undefined) throw new UsageError(`Cannot find ${JSON.stringify(command[0])} in PATH`);
  // Relative file arguments (node app.js) would be relative to / under systemd.
  return [program, ...command.slice(1)];
}

/**
 * The `.socket` unit(s) and the `.service` unit for the options: one socket
 * unit per socket name (systemd's `FileDescriptorName=` names every socket of
 * a unit alike), listed in `Sockets=` in the order of the `-s` options.
 *
 * @param options The parsed `handover unit` command line.
 * @returns The files, socket units first.
 * @throws {UsageError} For port 0 or a command that is not found.
 *
 * @example The units for a web app
 * ```ts
 * import { type GenerateOptions, parseCommandLine } from "./args.ts";
 * import { systemdUnits } from "./units.ts";
 * const options = parseCommandLine(["unit", "--name", "web", "-s", "web=http::8080", "--", "sh"]) as GenerateOptions;
 * systemdUnits(options).map((file) => file.name); // ["web.socket", "web.service"]
 * ```
 */
export function systemdUnits(options: GenerateOptions): GeneratedFile[] {
  if (options.workers > 1) return systemdWorkerUnits(options);
  const command = resolvedCommand(options.command);
  const description = options.description === undefined ? undefined : unitValue(options.description, "a description");
  const directory = unitValue(process.cwd(), "the working directory");
  const groups = groupByName(options.sockets);
  const single = groups.length === 1;
  const socketUnits = groups.map(([name, specs]) => {
    const unit = single
      ? `${options.name}.socket`
      : `${options.name}-${name.replace(/[^A-Za-z0-9:_.\\-]/g, "-")}.socket`;
    const lines = [
      "[Unit]",
      `Description=${description ?? `Sockets of ${options.name}`}${single ? "" : ` (${unitValue(name, "a name")})`}`,
      "",
      "[Socket]",
      ...specs.map(listenLine),
      ...(specs.some((s) => s.named) ? [`FileDescriptorName=${unitValue(name, "a name")}`] : []),
      ...(options.backlog !== undefined ? [`Backlog=${options.backlog}`] : []),
      `Service=${options.name}.service`,
      "",
      "[Install]",
      "WantedBy=sockets.target",
      "",
    ];
    return { name: unit, content: lines.join("\n") };
  });
  const sockets = socketUnits.map((u) => u.name).join(" ");
  const restart = options.restart !== "no" ? options.restart : options.watchdogSec !== undefined ? "on-failure" : "no";
  const service = [
    "[Unit]",
    `Description=${description ?? options.name}`,
    ...(sockets !== "" ? [`Requires=${sockets}`, `After=${sockets}`] : []),
    "",
    "[Service]",
    `Type=${options.type}`,
    `ExecStart=${command.map(execWord).join(" ")}`,
    `WorkingDirectory=${directory}`,
    ...(sockets !== "" ? [`Sockets=${sockets}`] : []),
    ...(options.type !== "simple" || options.notifyAccess !== undefined
      ? [`NotifyAccess=${options.notifyAccess ?? "main"}`]
      : []),
    ...(options.watchdogSec !== undefined ? [`WatchdogSec=${options.watchdogSec}`] : []),
    `Restart=${restart}`,
    ...(options.fdstore > 0 ? [`FileDescriptorStoreMax=${options.fdstore}`] : []),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return [...socketUnits, { name: `${options.name}.service`, content: service.join("\n") }];
}

/** The sockets `--workers-mode reuseport` binds once per worker, as the launcher does: TCP. */
function reusable(spec: SocketSpec): boolean {
  return spec.type === "stream" && spec.address.family !== "unix";
}

/** A socket unit's name part for a socket name: what systemd allows in a unit name. */
function unitPart(name: string): string {
  return name.replace(/[^A-Za-z0-9:_.\\-]/g, "-");
}

/** The lines of a service's `[Service]` section that do not depend on workers. */
function serviceLines(options: GenerateOptions, command: readonly string[], directory: string): string[] {
  const restart = options.restart !== "no" ? options.restart : options.watchdogSec !== undefined ? "on-failure" : "no";
  return [
    `Type=${options.type}`,
    `ExecStart=${command.map(execWord).join(" ")}`,
    `WorkingDirectory=${directory}`,
    ...(options.type !== "simple" || options.notifyAccess !== undefined
      ? [`NotifyAccess=${options.notifyAccess ?? "main"}`]
      : []),
    ...(options.watchdogSec !== undefined ? [`WatchdogSec=${options.watchdogSec}`] : []),
    `Restart=${restart}`,
    ...(options.fdstore > 0 ? [`FileDescriptorStoreMax=${options.fdstore}`] : []),
  ];
}

/**
 * `handover unit --workers N`: a template `NAME@.service` whose instances
 * `NAME@0` … `NAME@{N-1}` are the workers (`WORKER_INDEX=%i`), and a
 * `NAME.target` that wants them all (enable it; one socket activates one
 * service only, systemd.socket(5), so the workers are started by the target,
 * not by traffic).
 *
 * - `shared`: one `.socket` unit per socket name, in every instance's
 *   `Sockets=`: one socket and one accept queue for all workers, kept by
 *   systemd across their restarts; `HANDOVER_WORKERS=shared` makes adoption
 *   register it with `EPOLLEXCLUSIVE`. A connection while no worker runs
 *   starts worker 0 (`Service=NAME@0.service`). The service says
 *   `NonBlocking=yes`: systemd would otherwise clear the shared socket's
 *   `O_NONBLOCK` each time it starts a worker, under the workers serving it.
 * - `reuseport`: a template socket unit per socket name (`NAME@.socket`,
 *   `ReusePort=yes`) whose instance i belongs to worker i alone
 *   (`Sockets=NAME@%i.socket`): N queues on one address, each kept by systemd
 *   while its worker restarts, and a connection hashed to a stopped worker's
 *   queue starts that worker. One `.socket` with N `ListenStream=` lines
 *   would hand every worker all N sockets under one `FileDescriptorName=`, so
 *   it is not used. Names whose sockets are not TCP (unix, UDP) stay one
 *   shared `.socket`; a name that mixes both is refused.
 */
function systemdWorkerUnits(options: GenerateOptions): GeneratedFile[] {
  const command = resolvedCommand(options.command);
  const description = options.description === undefined ? undefined : unitValue(options.description, "a description");
  const directory = unitValue(process.cwd(), "the working directory");
  const groups = groupByName(options.sockets);
  const single = groups.length === 1;
  const reuseport = options.workersMode === "reuseport";
  const name = options.name;
  const socketUnits: (GeneratedFile & { readonly own: boolean })[] = groups.map(([socketName, specs]) => {
    const tcp = specs.filter(reusable).length;
    if (reuseport && tcp > 0 && tcp < specs.length) {
      throw new UsageError(
        `Expected the sockets named ${
          JSON.stringify(socketName)
        } to be all TCP or none for --workers-mode reuseport in a unit (a unix or UDP socket cannot be bound once per worker), got ${
          specs.map((s) => JSON.stringify(s.text)).join(", ")
        }`,
      );
    }
    const own = reuseport && tcp > 0;
    const unit = `${single ? name : `${name}-${unitPart(socketName)}`}${own ? "@" : ""}.socket`;
    const lines = [
      "[Unit]",
      `Description=${description ?? `Sockets of ${name}`}${single ? "" : ` (${unitValue(socketName, "a name")})`}${
        own ? ", worker %i" : ""
      }`,
      "",
      "[Socket]",
      ...specs.map(listenLine),
      ...(own ? ["ReusePort=yes"] : []),
      ...(specs.some((s) => s.named) ? [`FileDescriptorName=${unitValue(socketName, "a name")}`] : []),
      ...(options.backlog !== undefined ? [`Backlog=${options.backlog}`] : []),
      `Service=${name}@${own ? "%i" : "0"}.service`,
      "",
      ...(own ? [] : ["[Install]", "WantedBy=sockets.target", ""]),
    ];
    return { name: unit, content: lines.join("\n"), own };
  });
  // The instance's own sockets are NAME@%i.socket; the shared ones keep their names.
  const sockets = socketUnits.map((u) => u.own ? u.name.replace(/@\.socket$/, "@%i.socket") : u.name).join(" ");
  const instances = Array.from({ length: options.workers }, (_, i) => `${name}@${i}.service`);
  const shared = socketUnits.filter((u) => !u.own).map((u) => u.name);
  const service = [
    "[Unit]",
    `Description=${description ?? name}, worker %i`,
    ...(sockets !== "" ? [`Requires=${sockets}`, `After=${sockets}`] : []),
    // systemctl stop/restart NAME.target reaches every worker.
    `PartOf=${name}.target`,
    "",
    "[Service]",
    ...serviceLines(options, command, directory),
    ...(sockets !== "" ? [`Sockets=${sockets}`] : []),
    // systemd sets each passed socket's O_NONBLOCK to NonBlocking= (default no: cleared) at every start, and the
    // flag belongs to the socket, which every worker holds: cleared, the serving workers' event loops would block
    // in accept(2) with the connections they accepted unserved.
    ...(shared.length > 0 ? ["NonBlocking=yes"] : []),
    `Environment=WORKER_INDEX=%i WORKER_COUNT=${options.workers} HANDOVER_WORKERS=${options.workersMode}`,
    "",
  ];
  const target = [
    "; Start the workers with:",
    `;   systemctl enable --now ${[...shared, `${name}.target`].join(" ")}`,
    "; Restart them one at a time (the others go on serving):",
    `;   for i in $(seq 0 ${options.workers - 1}); do systemctl restart ${name}@$i.service; done`,
    "[Unit]",
    `Description=${description ?? name}, ${options.workers} workers`,
    `Wants=${instances.join(" ")}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return [
    ...socketUnits.map(({ name, content }) => ({ name, content })),
    { name: `${name}@.service`, content: service.join("\n") },
    { name: `${name}.target`, content: target.join("\n") },
  ];
}

/**
 * Escapes text for an XML element; XML 1.0 cannot hold the other C0
 * controls at all (not even as character references), so they are refused.
 */
function xml(text: string): string {
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(text) || /\p{Cs}/u.test(text)) {
    throw new UsageError(
      `Expected text that a property list can hold (no control characters), got ${JSON.stringify(text)}`,
    );
  }
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")
    .replaceAll("\r", "&#13;");
}

function socketDict(spec: SocketSpec, indent: string): string[] {
  const entries: [string, string][] = [];
  const address = spec.address;
  entries.push(["SockType", spec.type === "dgram" ? "dgram" : spec.type === "seqpacket" ? "seqpacket" : "stream"]);
  if (address.family === "unix") {
    if (address.path.startsWith("@")) {
      throw new UsageError(`launchd has no abstract unix sockets, got ${JSON.stringify(spec.text)}`);
    }
    entries.push(["SockFamily", "Unix"], ["SockPathName", resolve(address.path)]);
  } else if (address.family === "inet" || address.family === "inet6") {
    if (address.port === 0) {
      throw new UsageError(`A plist needs a fixed port, got port 0 in ${JSON.stringify(spec.text)}`);
    }
    entries.push(
      ["SockFamily", address.family === "inet" ? "IPv4" : "IPv6"],
      ["SockNodeName", address.address],
      ["SockServiceName", String(address.port)],
    );
  }
  return [
    `${indent}<dict>`,
    ...entries.flatMap(([k, v]) => [`${indent}\t<key>${k}</key>`, `${indent}\t<string>${xml(v)}</string>`]),
    `${indent}</dict>`,
  ];
}

/**
 * A launchd property list that opens the sockets (each under its name in
 * `Sockets`, collected with `launch_activate_socket(name)`) and starts the
 * command on the first connection.
 *
 * @param options The parsed `handover plist` command line.
 * @returns The file.
 * @throws {UsageError} For port 0, abstract sockets or a command that is not found.
 *
 * @example The property list for a web app
 * ```ts
 * import { type GenerateOptions, parseCommandLine } from "./args.ts";
 * import { launchdPlist } from "./units.ts";
 * const options = parseCommandLine(["plist", "--name", "web", "-s", "web=http::8080", "--", "sh"]) as GenerateOptions;
 * launchdPlist(options).name; // "local.web.plist"
 * ```
 */
export function launchdPlist(options: GenerateOptions): GeneratedFile {
  const command = resolvedCommand(options.command);
  const label = options.name.includes(".") ? options.name : `local.${options.name}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "\t<key>Label</key>",
    `\t<string>${xml(label)}</string>`,
    "\t<key>ProgramArguments</key>",
    "\t<array>",
    ...command.map((arg) => `\t\t<string>${xml(arg)}</string>`),
    "\t</array>",
    "\t<key>WorkingDirectory</key>",
    `\t<string>${xml(process.cwd())}</string>`,
  ];
  const groups = groupByName(options.sockets);
  if (groups.length > 0) {
    lines.push("\t<key>Sockets</key>", "\t<dict>");
    for (const [name, specs] of groups) {
      lines.push(`\t\t<key>${xml(name)}</key>`);
      if (specs.length === 1) lines.push(...socketDict(specs[0]!, "\t\t"));
      else lines.push("\t\t<array>", ...specs.flatMap((s) => socketDict(s, "\t\t\t")), "\t\t</array>");
    }
    lines.push("\t</dict>");
  } else {
    lines.push("\t<key>RunAtLoad</key>", "\t<true/>");
  }
  if (options.restart === "always") lines.push("\t<key>KeepAlive</key>", "\t<true/>");
  else if (options.restart === "on-failure") {
    lines.push("\t<key>KeepAlive</key>", "\t<dict>", "\t\t<key>SuccessfulExit</key>", "\t\t<false/>", "\t</dict>");
  }
  lines.push("</dict>", "</plist>", "");
  return { name: `${label}.plist`, content: lines.join("\n") };
}
