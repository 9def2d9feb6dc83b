/**
 * Which runtime this is, and the loader of the start-up calls: with
 * `src/runtime.ts`, the only module that loads from `runtimes/` — here the
 * small `runtimes/*_startup.ts`, which open the C library for `fcntl` alone,
 * so that `collect()` can run before, or without, the whole backend.
 *
 * @module
 */

import type { RuntimeName, StartupCalls, StartupModule } from "./backend.ts";
import { HandoverError } from "./errors.ts";
import { installStartupCalls, startupCalls } from "./startup.ts";

interface RuntimeGlobals {
  Deno?: { version?: { deno?: string } };
  Bun?: unknown;
  process?: { versions?: { node?: string; bun?: string } };
}

/**
 * Which runtime this is: Deno first (it also defines `process`), then Bun,
 * then Node.
 *
 * @returns `deno`, `bun` or `node`.
 * @throws {HandoverError} `ENOTSUP` in any other JavaScript environment.
 *
 * @example Under deno test
 * ```ts
 * import { detectRuntime } from "./startup_loader.ts";
 * detectRuntime(); // "deno"
 * ```
 */
export function detectRuntime(): RuntimeName {
  const g = globalThis as RuntimeGlobals;
  if (typeof g.Deno?.version?.deno === "string") return "deno";
  if (g.Bun !== undefined || typeof g.process?.versions?.bun === "string") return "bun";
  if (typeof g.process?.versions?.node === "string") return "node";
  throw new HandoverError("ENOTSUP", "handover runs in Deno, Bun or Node, and this is none of them");
}

function importStartup(runtime: RuntimeName): Promise<StartupModule> {
  switch (runtime) {
    case "deno":
      return import("../runtimes/deno_startup.ts");
    case "bun":
      return import("../runtimes/bun_startup.ts");
    case "node":
      return import("../runtimes/node_startup.ts");
  }
}

let loading: Promise<StartupCalls> | undefined;

/**
 * Loads this runtime's start-up module once and installs its calls; later
 * calls return the same promise.
 *
 * @returns The installed calls.
 * @throws {HandoverError} `ELIBACC` when the C library cannot be loaded, `ENOTSUP` on an unknown platform.
 *
 * @example
 * ```ts
 * import { loadStartupCalls } from "./startup_loader.ts";
 * const calls = await loadStartupCalls();
 * calls.pid > 0; // true
 * ```
 */
export function loadStartupCalls(): Promise<StartupCalls> {
  loading ??= (async () => {
    try {
      installStartupCalls((await importStartup(detectRuntime())).createStartupCalls());
    } catch (error) {
      installStartupCalls(undefined, error);
    }
    return startupCalls();
  })();
  return loading;
}
