/**
 * Wrapping a fetch handler to see each request begin and end, without
 * turning a response the handler returns at once into a promise: Deno.serve
 * and Bun.serve answer a synchronous `Response` on a faster path.
 *
 * @module
 */

import type { FetchHandler } from "../types.ts";

/**
 * Wraps `handler`: `begin()` runs before each call and returns what runs once its response (or error) is there;
 * `respond` may replace the response. A synchronous response stays synchronous; a handler that throws gives a
 * rejected promise, as an `async` handler would.
 *
 * @param handler The fetch handler.
 * @param begin Called as a request begins; returns its end.
 * @param respond Maps the response (default: as it is).
 * @returns The wrapped handler.
 *
 * @example Count requests being answered
 * ```ts
 * import { observeHandler } from "./handler.ts";
 * let open = 0;
 * const counted = observeHandler(() => new Response("hi"), () => {
 *   open++;
 *   return () => open--;
 * });
 * const response = counted(new Request("http://localhost/")) as Response; // synchronous, as the handler's
 * await response.text(); // "hi"; open is 0 again
 * ```
 */
export function observeHandler(
  handler: FetchHandler,
  begin: () => () => void,
  respond: (response: Response) => Response = (response) => response,
): FetchHandler {
  return (request) => {
    const end = begin();
    let result: Response | Promise<Response>;
    try {
      result = handler(request);
    } catch (error) {
      end();
      return Promise.reject(error);
    }
    if (typeof (result as { then?: unknown } | null)?.then !== "function") {
      end();
      return respond(result as Response);
    }
    return Promise.resolve(result).then((response) => {
      end();
      return respond(response);
    }, (error: unknown) => {
      end();
      throw error;
    });
  };
}
