// Helpers of the hostile-input table (test/abuse.test.ts): the launcher in
// the runtime under test, bounded waits, process liveness, HTTP on loopback.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run, runtimeArgv, sleep } from "./_helpers.ts";

export const CLI: string = join(ROOT, "cli.ts");

/** The arguments of `run()` for the launcher with `args`. */
export function cli(
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Parameters<typeof run> {
  const [command, argv] = runtimeArgv(CLI);
  return [command, [...argv, ...args], {
    env: { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs ?? 60_000,
    cwd: options.cwd ?? ROOT,
  }];
}

/** A fresh directory under the system's temporary directory. */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "handover-abuse-"));
}

/** Waits until `condition()` holds, polling every 20 ms; throws after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    if (await condition()) return;
    if (Date.now() > deadline) break;
    await sleep(20);
  }
  throw new assert.AssertionError({ message: `timed out after ${timeoutMs} ms waiting for ${what}` });
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Sends SIGKILL to a process this test started, if it is still there. */
export function killIfAlive(pid: number | undefined): void {
  if (pid === undefined || !alive(pid)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
}

/** GET / on 127.0.0.1:port; resolves with the body. */
export function get(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: "127.0.0.1", port, path: "/", agent: false, headers: { connection: "close" } },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (d: string) => body += d);
        response.on("end", () => resolve(body));
        response.on("error", reject);
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/** A launcher started by a test, its output collected; every wait is bounded. */
export class Launcher {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private readonly killTimer: ReturnType<typeof setTimeout>;

  constructor(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}) {
    const [command, argv] = runtimeArgv(CLI);
    this.child = spawn(command, [...argv, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    this.child.stdout!.setEncoding("utf8");
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => this.stdout += d);
    this.child.stderr!.on("data", (d: string) => this.stderr += d);
    this.killTimer = setTimeout(() => this.signal("SIGKILL"), options.timeoutMs ?? 90_000);
    this.exited = new Promise((resolve) => {
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const done = (code: number | null, signal: string | null) => {
        clearTimeout(this.killTimer);
        clearTimeout(graceTimer);
        resolve({ code, signal });
      };
      this.child.on("close", done);
      // A process that outlived the launcher keeps its stdout and stderr open, and "close" would never come.
      this.child.on("exit", (code, signal) => graceTimer = setTimeout(() => done(code, signal), 2_000));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How many stderr lines match. */
  count(pattern: RegExp): number {
    return this.stderr.split("\n").filter((line) => pattern.test(line)).length;
  }

  /** Waits until `times` stderr lines match; returns the last match. */
  async waitFor(pattern: RegExp, times = 1, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const matches = this.stderr.split("\n").map((line) => pattern.exec(line)).filter((m) => m !== null);
      if (matches.length >= times) return matches[times - 1]!;
      if (Date.now() > deadline || !this.running) break;
      await sleep(10);
    }
    await sleep(50);
    throw new assert.AssertionError({
      message:
        `expected ${times}× ${pattern} on the launcher's stderr; stderr:\n${this.stderr}\nstdout:\n${this.stdout}`,
    });
  }

  /** Waits until stdout has `times` lines matching. */
  async waitForStdout(pattern: RegExp, times = 1, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const matches = this.stdout.split("\n").map((line) => pattern.exec(line)).filter((m) => m !== null);
      if (matches.length >= times) return matches[times - 1]!;
      if (Date.now() > deadline || !this.running) break;
      await sleep(10);
    }
    throw new assert.AssertionError({
      message: `expected ${times}× ${pattern} on stdout; stderr:\n${this.stderr}\nstdout:\n${this.stdout}`,
    });
  }

  /** The pids of every instance the launcher started (`~> started pid N`). */
  get started(): number[] {
    return [...this.stderr.matchAll(/^~> started pid (\d+)/gm)].map((m) => Number(m[1]));
  }

  /** Signals the launcher by pid (Deno's `ChildProcess.kill()` would misreport its exit). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, signal);
  }

  /** Sends a signal and waits for the launcher to end. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: string | null }> {
    this.signal(signal);
    return await this.exited;
  }

  /** The port of the n-th socket line (`~> socket http://127.0.0.1:PORT/ -> fd #3`). */
  async port(n = 1): Promise<number> {
    const match = await this.waitFor(/^~> socket \S*?127\.0\.0\.1:(\d+)/, n);
    return Number(match[1]);
  }
}
