/**
 * What the start-up entry (`handover/activation`) exports, without loading
 * anything: `activation.ts` adds the load, and the CommonJS build starts here
 * (its callers `await init()` first).
 *
 * @module
 */

export { type ActivationOptions, collect, isActivated } from "./collect.ts";
export { HandoverError, type HandoverErrorOptions } from "../sys/errors.ts";
export { init } from "../init.ts";
