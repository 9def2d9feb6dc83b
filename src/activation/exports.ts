/**
 * What the start-up entry (`handover/activation`) exports, without loading
 * anything: `activation.ts` adds the load for ES modules, and
 * `src/activation/commonjs.ts` for the CommonJS build.
 *
 * @module
 */

export { type ActivationOptions, collect, isActivated } from "./collect.ts";
export { HandoverError, type HandoverErrorOptions } from "../sys/errors.ts";
export { init } from "../init.ts";
