// The handover launcher as a test runs it: one child process whose stderr lines are waited for, every wait bounded.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import process from "node:process";
import { ROOT, runtimeArgv, sleep } from "./_helpers.ts";

/** The launcher's source entry (run in the runtime under test). */
export const CLI: string = join(ROOT, "cli.ts");

/** The files `handover unit` printed (each after a `# NAME` line), by name, in their order. */
export function unitFiles(stdout: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const part of stdout.split(/^# /m).filter(Boolean)) {
    const newline = part.indexOf("\n");
    files.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return files;
}

/** GET / on 127.0.0.1:port with a connection of its own; resolves with the body. */
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

  constructor(
    args: readonly string[],
    env: Record<string, string> = {},
    timeoutMs = 90_000,
    cwd: string = ROOT,
  ) {
    const [command, argv] = runtimeArgv(CLI);
    this.child = spawn(command, [...argv, ...args], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    this.child.stdout!.setEncoding("utf8");
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => this.stdout += d);
    this.child.stderr!.on("data", (d: string) => this.stderr += d);
    this.killTimer = setTimeout(() => this.signal("SIGKILL"), timeoutMs);
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

  /** The launcher's pid. */
  get pid(): number {
    return this.child.pid!;
  }

  /** It has not exited yet. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How many stderr lines match. */
  count(pattern: RegExp): number {
    return this.stderr.split("\n").filter((line) => pattern.test(line)).length;
  }

  /** Waits until `times` stderr lines match; returns the last match. */
  waitFor(pattern: RegExp, times = 1, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return this.waitForLines("stderr", pattern, times, timeoutMs);
  }

  /** Waits until `times` stdout lines match; returns the last match. */
  waitForStdout(pattern: RegExp, times = 1, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return this.waitForLines("stdout", pattern, times, timeoutMs);
  }

  private async waitForLines(
    stream: "stdout" | "stderr",
    pattern: RegExp,
    times: number,
    timeoutMs: number,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const matches = this[stream].split("\n").map((line) => pattern.exec(line)).filter((m) => m !== null);
      if (matches.length >= times) return matches[times - 1]!;
      if (Date.now() > deadline || !this.running) break;
      await sleep(10);
    }
    // Output that was on its way when the launcher ended.
    await sleep(50);
    const matches = this[stream].split("\n").map((line) => pattern.exec(line)).filter((m) => m !== null);
    if (matches.length >= times) return matches[times - 1]!;
    throw new assert.AssertionError({
      message:
        `expected ${times}× ${pattern} on the launcher's ${stream}; stderr:\n${this.stderr}\nstdout:\n${this.stdout}`,
    });
  }

  /** The pids of every instance the launcher started (`~> started pid N`). */
  get started(): number[] {
    return [...this.stderr.matchAll(/^~> started pid (\d+)/gm)].map((m) => Number(m[1]));
  }

  /** Sends a signal and waits for the launcher to end. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: string | null }> {
    this.signal(signal);
    return await this.exited;
  }

  /**
   * Signals the launcher by pid: Deno's `ChildProcess.kill()` would make the
   * exit event report the signal sent instead of the launcher's exit code.
   */
  signal(signal: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, signal);
  }

  /** The port of the n-th socket line (`~> socket http://127.0.0.1:PORT/ -> fd #3`). */
  async port(n = 1): Promise<number> {
    const match = await this.waitFor(/^~> socket \S*?(?:127\.0\.0\.1|\[::1\]):(\d+)/, n);
    return Number(match[1]);
  }
}
