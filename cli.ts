#!/usr/bin/env node
/**
 * The `handover` launcher: opens sockets and starts an app with them, the
 * way systemd does, on a laptop, in a container or on macOS.
 *
 * ```sh
 * node --import tsx cli.ts -s http::8080 -- node app.js
 * deno run -A cli.ts -s http::8080 -- node app.js
 * bun cli.ts -s http::8080 -- node app.js
 * ```
 *
 * @example Run an app on demand
 * ```sh
 * handover --on-demand -s web=http::8080 -- node server.js
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

// No top-level await, so that a CommonJS build of this file works too.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`handover: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
