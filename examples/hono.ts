// A Hono app served with handover's serve(): Deno.serve in Deno, Bun.serve in Bun, node:http through
// @hono/node-server in Node — on the socket systemd passes as "web" (examples/systemd/hono.socket), or
// on port 8000 when started by hand. Ends after 120 s without requests when socket-activated.
//   deno run -A examples/hono.ts   |   bun examples/hono.ts   |   node --import tsx examples/hono.ts
import { Hono } from "hono";
import { isActivated, serve } from "../mod.ts";

const app = new Hono();
app.get("/", (c) => c.text("hello from Hono\n"));
app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name") }));

const server = await serve(app.fetch, { name: "web", port: 8000, idleTimeout: isActivated() ? 120 : undefined });
console.log(server.activated ? "serving the activated socket" : "serving", server.sockets.map((s) => s.address));
