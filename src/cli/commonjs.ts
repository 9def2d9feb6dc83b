/**
 * The CommonJS build of the launcher API (`dist/launcher.cjs`,
 * `require("handover/launcher")`): the exports of `launcher.ts`, with the FFI
 * loaded synchronously at `require()` in Node and Bun, so that
 * `new Launcher()` works at once.
 *
 * @module
 */

import { loadActivationSync } from "../activation/collect.ts";
import * as managerSupport from "../activation/manager_support.ts";

export * from "./exports.ts";

// A failure to load (no C library) is kept and thrown by the first call that needs the FFI, as in the ES modules.
loadActivationSync(managerSupport);
