// The smallest server: serve() a fetch handler on the activated socket "web", or on port 8000 when the
// process was started directly. Runs unchanged in Deno (Deno.serve), Bun (Bun.serve) and Node (node:http).
//   deno run -A examples/serve.ts   |   bun examples/serve.ts   |   node --import tsx examples/serve.ts
import { detectRuntime, serve } from "../mod.ts";

const server = await serve(
  (request) => new Response(`hello from ${detectRuntime()} (pid ${process.pid}): ${new URL(request.url).pathname}\n`),
  { name: "web", port: 8000 },
);
const [socket] = server.sockets;
console.error(`${server.activated ? "activated" : "direct"}: ${JSON.stringify(socket?.address)} (${socket?.method})`);
