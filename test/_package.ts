// The built package as users install it, for tests that run apps the way users write them: a throw-away project
// with node_modules/handover (this checkout's dist/, package.json and activation/ stub, as `npm pack` ships
// them) and koffi, plus the tools those tests start (tsx, nodemon, typescript, @types/node) linked from this
// checkout. Also: systemd-socket-activate in front of a command, and a raw TCP exchange.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { exchange } from "./_activate.ts";
import { FIXTURES, ROOT, sleep } from "./_helpers.ts";

/** What the package ships that the tests load, by export condition. */
const SHIPPED = [
  "mod.js",
  "mod.cjs",
  "mod.d.ts",
  "mod.d.cts",
  "node.js",
  "bun.js",
  "activation.js",
  "activation.cjs",
  "activation.d.ts",
  "activation.d.cts",
  "activation-node.js",
  "activation-bun.js",
  "cli.cjs",
];

/** This checkout's node_modules entries a project links: the FFI, and the tools the tests start. */
const LINKED = ["koffi", "@koromix", "tsx", "nodemon", "typescript", "@types", "undici-types"];

/** A throw-away project with the built package installed. */
export interface ConsumerProject {
  readonly dir: string;
  /** Writes a file into the project. */
  write(name: string, text: string): string;
  remove(): void;
}

/**
 * Copies this checkout's build (`npm test` builds it first) into a new project's node_modules/handover. Other
 * builds may run beside the tests (tsup empties dist/ first), so the copy is taken again until it holds every
 * file the package ships and dist/ did not change while it was copied.
 *
 * @param packageJson The project's own package.json fields.
 */
export async function consumerProject(packageJson: Record<string, unknown> = {}): Promise<ConsumerProject> {
  const dir = mkdtempSync(join(tmpdir(), "handover-consumer-"));
  const target = join(dir, "node_modules", "handover");
  let copied = false;
  for (let attempt = 0; attempt < 20 && !copied; attempt++) {
    rmSync(target, { recursive: true, force: true });
    mkdirSync(join(target, "activation"), { recursive: true });
    const before = existsSync(join(ROOT, "dist")) ? readdirSync(join(ROOT, "dist")).sort().join() : "";
    try {
      cpSync(join(ROOT, "dist"), join(target, "dist"), { recursive: true });
      cpSync(join(ROOT, "package.json"), join(target, "package.json"));
      cpSync(join(ROOT, "activation", "package.json"), join(target, "activation", "package.json"));
      const after = readdirSync(join(ROOT, "dist")).sort().join();
      copied = before === after && SHIPPED.every((file) => existsSync(join(target, "dist", file)));
    } catch {
      copied = false;
    }
    if (!copied) await sleep(500);
  }
  assert.ok(copied, "dist/ never held a whole build: run tsup (npm test builds first)");
  mkdirSync(join(dir, "node_modules", ".bin"), { recursive: true });
  for (const name of LINKED) {
    if (existsSync(join(ROOT, "node_modules", name))) {
      symlinkSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name));
    }
  }
  for (const bin of ["tsx", "nodemon", "tsc"]) {
    symlinkSync(join(ROOT, "node_modules", ".bin", bin), join(dir, "node_modules", ".bin", bin));
  }
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, dependencies: { handover: "*" }, ...packageJson }, null, 2),
  );
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Copies a fixture of test/fixtures/package/ into the project (under `as`, or its own name). */
export function copyFixture(project: ConsumerProject, name: string, as: string = name): string {
  const path = join(project.dir, as);
  mkdirSync(dirname(path), { recursive: true });
  cpSync(join(FIXTURES, "package", name), path);
  return path;
}

/** A command started by a test, with its output collected and every wait bounded. */
export class Started {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private readonly killTimer: ReturnType<typeof setTimeout>;

  constructor(command: string, args: readonly string[], options: { cwd: string; env?: Record<string, string> }) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => this.stdout += d);
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => this.stderr += d);
    this.killTimer = setTimeout(() => this.kill("SIGKILL"), 120_000);
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        clearTimeout(this.killTimer);
        resolve({ code, signal });
      });
    });
  }

  /** The JSON lines printed so far. */
  jsonLines<T = Record<string, unknown>>(): T[] {
    return this.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as T);
  }

  /** Waits until `count` JSON lines were printed; returns the last of them. */
  async json<T = Record<string, unknown>>(count = 1, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.jsonLines<T>();
      if (lines.length >= count) return lines[count - 1]!;
      if (Date.now() > deadline || this.child.exitCode !== null || this.child.signalCode !== null) {
        await sleep(100);
        const again = this.jsonLines<T>();
        if (again.length >= count) return again[count - 1]!;
        throw new assert.AssertionError({
          message: `expected ${count} JSON line(s); stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        });
      }
      await sleep(20);
    }
  }

  /** Waits until stdout or stderr matches. */
  async output(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
      if (match !== null) return match;
      if (Date.now() > deadline || this.child.exitCode !== null || this.child.signalCode !== null) {
        await sleep(100);
        const again = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
        if (again !== null) return again;
        throw new assert.AssertionError({
          message: `expected ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        });
      }
      await sleep(20);
    }
  }

  /** Signals it by pid (not through the ChildProcess, whose exit report Deno would change). */
  kill(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // gone already
    }
  }

  /** SIGTERM, then SIGKILL after 10 s; waits for it to end. */
  async stop(): Promise<void> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * systemd-socket-activate in front of a command, with one TCP socket on 127.0.0.1:`port` named `name`; resolves
 * once it listens (it starts the command at the first connection).
 */
export async function socketActivate(
  port: number,
  name: string,
  command: readonly string[],
  cwd: string,
): Promise<Started> {
  const started = new Started(
    "systemd-socket-activate",
    [`--listen=127.0.0.1:${port}`, `--fdname=${name}`, ...command],
    { cwd },
  );
  await started.output(/Listening on \S+ as \d+/);
  return started;
}

/** Connects to 127.0.0.1:`port`, sends nothing, and returns what the server says until it closes (bounded). */
export function answer(port: number, timeoutMs = 20_000): Promise<string> {
  return exchange({ host: "127.0.0.1", port }, "", timeoutMs);
}

/** PATH with the directory of the runtime under test first (so `node` is the Node under test). */
export function pathWithRuntime(): string {
  return `${dirname(process.execPath)}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`;
}
