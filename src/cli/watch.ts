/**
 * Restart on change: `node:fs` `watch()` (recursive for directories) in
 * every runtime, debounced, ignoring `.git` and `node_modules`.
 *
 * @module
 */

import { type FSWatcher, statSync, watch } from "node:fs";
import { UsageError } from "./args.ts";

const IGNORED = /(^|[\\/])(\.git|node_modules)([\\/]|$)/;

/** Watches paths and calls back once per burst of changes. */
export class ChangeWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private first: string | undefined;

  /**
   * Starts watching.
   *
   * @param paths Files or directories.
   * @param debounceMs Quiet time after the last change before calling back.
   * @param onChange Called with the first changed path of the burst.
   * @throws {UsageError} When a path does not exist.
   */
  constructor(paths: readonly string[], debounceMs: number, onChange: (path: string) => void) {
    for (const path of paths) {
      let directory: boolean;
      try {
        directory = statSync(path).isDirectory();
      } catch {
        this.close();
        throw new UsageError(`Cannot watch ${JSON.stringify(path)}: it does not exist`);
      }
      const watcher = watch(path, { recursive: directory, persistent: false }, (_event, name) => {
        const changed = name === null || name === undefined ? path : directory ? `${path}/${name}` : path;
        if (IGNORED.test(String(name ?? ""))) return;
        this.first ??= changed;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          const first = this.first ?? path;
          this.first = undefined;
          this.timer = undefined;
          onChange(first);
        }, debounceMs);
      });
      watcher.on("error", () => {});
      this.watchers.push(watcher);
    }
  }

  /**
   * Stops watching.
   *
   * @example
   * ```ts
   * import { ChangeWatcher } from "./watch.ts";
   * const watcher = new ChangeWatcher(["."], 100, (path) => console.log(`changed: ${path}`));
   * watcher.close();
   * ```
   */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }
}
