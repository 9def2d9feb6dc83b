/**
 * The CommonJS build of the main entry (`dist/mod.cjs`): every export of
 * `src/api.ts`, with the FFI loaded synchronously at `require()` in Node and
 * Bun (koffi and `bun:ffi` both load synchronously there), so that
 * `collect()`, `notify*()` and `socketpair()` work at once. `init()` stays,
 * resolved at once, for code written for older versions.
 *
 * @module
 */

import { loadActivationSync } from "./activation/collect.ts";
import * as managerSupport from "./activation/manager_support.ts";

export * from "./api.ts";

// A failure to load (no C library) is kept and thrown by the first call that needs the FFI, as in the ES modules.
loadActivationSync(managerSupport);
