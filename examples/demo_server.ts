// The demo app: a fetch handler served with serve() on the socket named "web"
// that a service manager (the handover launcher, or systemd) passed, or on port
// 8080 when started by hand. It tells the manager when it is ready and what it
// is doing (sd_notify READY=1 and STATUS=), and exits after 5 s without
// requests, so that an on-demand launcher starts it again on the next one.
// The same file runs in Node (tsx), Deno and Bun:
//   node --import tsx cli.ts --on-demand -s web=http::8080 -- node --import tsx examples/demo_server.ts
//   deno run -A cli.ts --on-demand -s web=http::8080 -- deno run -A examples/demo_server.ts
//   bun cli.ts --on-demand -s web=http::8080 -- bun examples/demo_server.ts
import { detectRuntime, exitWhenIdle, ready, serve, status, stopping } from "../mod.ts";

let served = 0;
const idle = exitWhenIdle(5, {
  async onIdle() {
    await stopping("Idle for 5 s: exiting until the next request");
    await server.close();
    process.exit(0);
  },
});
const server = await serve(
  idle.wrap(async () => {
    served++;
    await status(`Served ${served} request${served === 1 ? "" : "s"}`);
    return new Response(`Hello from ${detectRuntime()} pid ${process.pid} (request ${served})\n`);
  }),
  { name: "web", port: 8080 },
);
const where = server.sockets.map((socket) => JSON.stringify(socket.address)).join(", ");
await ready(`Waiting for requests on ${server.activated ? "the activated socket " : ""}${where}`);
