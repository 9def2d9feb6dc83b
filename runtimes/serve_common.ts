/**
 * What the serving adapters share, without loading any `node:` module (Deno
 * takes longer to load `node:http` than to adopt a socket).
 *
 * @module
 */

import type { AdoptMode } from "../src/backend.ts";

/**
 * Runs adoption with the mode's fallback: `fallback` runs the fallback only;
 * `auto` falls back when adoption cannot run here (`ENOTSUP`, raised before
 * anything changed); any other failure closes the server and is thrown.
 *
 * @param mode The mode.
 * @param adoption Adoption.
 * @param fallback The fallback.
 * @param closeServer Stops the server after a failure.
 * @returns What adoption or the fallback returned.
 */
export async function withFallback<T>(
  mode: AdoptMode,
  adoption: () => Promise<T>,
  fallback: () => T | Promise<T>,
  closeServer: () => Promise<void>,
): Promise<T> {
  if (mode === "fallback") return await fallback();
  try {
    return await adoption();
  } catch (error) {
    if (mode === "auto" && (error as { code?: string }).code === "ENOTSUP") return await fallback();
    await closeServer().catch(() => {});
    throw error;
  }
}

/** The `node:net`/`node:http`/`node:dgram` objects the Node adapter handles, told apart without importing them. */
export function looksLikeNodeObject(server: unknown): "stream" | "dgram" | undefined {
  const v = server as Record<string, unknown> | null;
  if (typeof v !== "object" || v === null || typeof v.on !== "function" || typeof v.address !== "function") {
    return undefined;
  }
  if (typeof v.listen === "function" && typeof v.getConnections === "function") return "stream";
  if (typeof v.bind === "function" && typeof v.send === "function" && typeof v.addMembership === "function") {
    return "dgram";
  }
  return undefined;
}
