// One app for examples/up/handover.json, the same file in Deno, Bun and Node: serves the socket named
// "web" that handover passes (port $PORT or 8080 when started by hand), says READY=1 and a STATUS= line, and
// answers with its runtime, its APP name and its pid. GET /crash ends it with exit code 3 (for the
// restart policy), GET /slow answers after 200 ms.
//   handover up -f examples/up/handover.json
import process from "node:process";
import { ready, serve, status } from "../../mod.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const name = process.env.APP ?? "app";
const port = Number(process.env.PORT ?? 8080);
const server = await serve(async (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/crash") setTimeout(() => process.exit(3), 10);
  if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 200));
  return new Response(`${name} ${runtime} ${process.pid}\n`);
}, { name: "web", port });
await ready();
await status(`serving ${name} on ${runtime}`);
console.log(`${name}: ${server.activated ? "serving the socket handover passed" : `serving 127.0.0.1:${port}`}`);
