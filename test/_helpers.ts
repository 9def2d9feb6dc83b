// Shared test helpers: the fd leak guard, spawning a fixture in the runtime
// under test, and small utilities. Plain node: APIs, so every runtime runs it.
import assert from "node:assert/strict";
import { spawn, type SpawnOptions } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { detectRuntime } from "../mod.ts";

export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const FIXTURES: string = join(ROOT, "test", "fixtures");
export const RUNTIME: "deno" | "bun" | "node" = detectRuntime();
/** tsx's ES module loader (what `--import tsx` resolves to from the project root). */
export const TSX_LOADER: string = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** The open fds of this process and what each points to. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      fds.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the fd that listed the directory is gone already
    }
  }
  return fds;
}

/**
 * Whether an fd is one the runtime opens by itself, at times of its own choosing (its event loop's epoll and
 * eventfds, timerfds, signalfds, io_uring): never one handover opens. handover's own fds are sockets, pidfds,
 * pipes and files, and those count as leaks.
 */
export function runtimeOwned(target: string): boolean {
  return /^anon_inode:\[?(eventfd|eventpoll|timerfd|signalfd|io_uring|inotify)/.test(target) ||
    target === "anon_inode:inotify";
}

/** The fds open now that were not open (or pointed elsewhere) before, leaving out the runtime's own. */
export function leakedSince(before: Map<number, string>): string[] {
  const now = openFds();
  const extra: string[] = [];
  for (const [fd, target] of now) {
    if (before.get(fd) !== target && !runtimeOwned(target)) extra.push(`${fd} -> ${target}`);
  }
  return extra;
}

const leaked = leakedSince;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wraps a test body: fails the test when it leaves an fd open that was not
 * open before (after up to one second for asynchronous closes).
 */
export function guarded(body: () => void | Promise<void>): () => Promise<void> {
  return async () => {
    const before = openFds();
    await body();
    let extra = leaked(before);
    for (let i = 0; i < 50 && extra.length > 0; i++) {
      await sleep(20);
      extra = leaked(before);
    }
    assert.deepEqual(extra, [], `the test left file descriptors open: ${extra.join(", ")}`);
  };
}

/** The command line that runs a TypeScript file in the runtime under test. */
export function runtimeArgv(script: string, runtime: "deno" | "bun" | "node" = RUNTIME): [string, string[]] {
  switch (runtime) {
    case "deno":
      return [process.execPath, ["run", "-A", "--no-check", script]];
    case "bun":
      return [process.execPath, [script]];
    case "node":
      // tsx by its absolute URL, so that the child finds it from any working directory.
      return [process.execPath, ["--import", TSX_LOADER, script]];
  }
}

/** What a finished child process printed and how it ended. */
export interface ChildResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to the end (bounded by `timeoutMs`) and collects its output. */
export function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number; input?: string } = {},
): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      ...options,
      stdio: options.stdio ?? ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => stdout += d);
    child.stderr?.on("data", (d: string) => stderr += d);
    if (child.stdin) {
      if (options.input !== undefined) child.stdin.end(options.input);
      else child.stdin.end();
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a fixture (`test/fixtures/NAME`) in the runtime under test. */
export function runFixture(
  name: string,
  args: readonly string[] = [],
  options: SpawnOptions & { timeoutMs?: number; input?: string } = {},
): Promise<ChildResult> {
  const [command, argv] = runtimeArgv(join(FIXTURES, name));
  return run(command, [...argv, ...args], options);
}

/** Parses the last line of a child's stdout as JSON, with its stderr in the failure message. */
export function lastJson<T = unknown>(result: ChildResult): T {
  const lines = result.stdout.trim().split("\n");
  try {
    return JSON.parse(lines[lines.length - 1] ?? "") as T;
  } catch {
    throw new assert.AssertionError({
      message: `expected JSON from the child (exit ${result.code}); stdout: ${result.stdout}\nstderr: ${result.stderr}`,
    });
  }
}
