/**
 * The CommonJS build of the start-up entry (`dist/activation.cjs`,
 * `require("handover/activation")`): `collect()`, `isActivated()`,
 * `HandoverError` and `init()`, with the FFI loaded synchronously at
 * `require()` in Node and Bun, so that `collect()` works at once.
 *
 * @module
 */

import { loadActivationSync } from "./collect.ts";
import * as managerSupport from "./manager_support.ts";

export * from "./exports.ts";

// A failure to load (no C library) is kept and thrown by collect(), as in the ES modules.
loadActivationSync(managerSupport);
