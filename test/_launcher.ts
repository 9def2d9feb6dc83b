// The handover launcher as a test runs it: one child process whose stderr lines are waited for, every wait bounded.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { ROOT, runtimeArgv, sleep } from "./_helpers.ts";

/** The launcher's source entry (run in the runtime under test). */
export const CLI: string = join(ROOT, "cli.ts");

/** A launcher started by a test; every wait is bounded. */
export class Launcher {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private readonly killTimer: ReturnType<typeof setTimeout>;

  constructor(
    args: readonly string[],
    env: Record<string, string> = {},
    timeoutMs = 60_000,
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
    this.killTimer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        clearTimeout(this.killTimer);
        resolve({ code, signal });
      });
    });
  }

  /** How many stderr lines match. */
  count(pattern: RegExp): number {
    return this.stderr.split("\n").filter((line) => pattern.test(line)).length;
  }

  /** Waits until `times` stderr lines match; returns the last match. */
  async waitFor(pattern: RegExp, times = 1, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matches = this.stderr.split("\n").map((line) => pattern.exec(line)).filter((m) => m !== null);
      if (matches.length >= times) return matches[times - 1]!;
      if (Date.now() > deadline || this.child.exitCode !== null || this.child.signalCode !== null) {
        await sleep(50);
        throw new assert.AssertionError({
          message:
            `expected ${times}× ${pattern} on the launcher's stderr; stderr:\n${this.stderr}\nstdout:\n${this.stdout}`,
        });
      }
      await sleep(10);
    }
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
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid!, signal);
  }

  /** The port of the n-th socket line (`~> socket http://127.0.0.1:PORT/ -> fd #3`). */
  async port(n = 1): Promise<number> {
    const match = await this.waitFor(/^~> socket \S*?(?:127\.0\.0\.1|\[::1\]):(\d+)/, n);
    return Number(match[1]);
  }
}
