// One server for bench/serve.bench.mjs, in the runtime that runs it.
// Usage: serve_server.ts SERVER WHERE
//   SERVER: native (Deno.serve / Bun.serve / node:http in Node), node-http (node:http with a plain
//           listener), fetch-node (node:http through @hono/node-server, what serve() uses in Node),
//           fetch-node-srvx (node:http through srvx's toNodeHandler, the adapter not chosen),
//           proxy (the runtime's native server behind handover's accept-loop fallback),
//           serve-fallback (handover's serve() with mode "fallback": node:http in Deno),
//           node-adopted (Node: an http.Server listening on an ephemeral port, then adopted into libuv)
//   WHERE: port:N (the server's own port, handover not imported for native/node-http) or activated (fd 3)
// Prints "ready" when it serves.
import type httpModule from "node:http";

// Deno reads its arguments from Deno.args: touching `process` there loads Deno's Node compatibility layer (about
// 12 ms), which a Deno.serve app on its own port does not pay, so the first-byte reference would carry it.
const [server = "native", where = "activated"] = "Deno" in globalThis ? Deno.args : process.argv.slice(2);
const body = "hello";
const fetchHandler = () => new Response(body);
const nodeListener = (_req: httpModule.IncomingMessage, res: httpModule.ServerResponse) => res.end(body);
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
// node:http only where it is used: Deno takes about 20 ms to load it, which Deno.serve does not need.
const http: typeof httpModule = runtime === "node" || server !== "native"
  ? (await import("node:http")).default
  : (undefined as unknown as typeof httpModule);
const ownPort = where.startsWith("port:") ? Number(where.slice(5)) : undefined;
// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;

function nativeServer(port: number): unknown {
  if (runtime === "deno") return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, fetchHandler);
  if (runtime === "bun") return Bun.serve({ hostname: "127.0.0.1", port, fetch: fetchHandler });
  return http.createServer(nodeListener);
}

async function nodeListenerFor(kind: string): Promise<httpModule.RequestListener> {
  if (kind === "fetch-node") return (await import("@hono/node-server")).getRequestListener(fetchHandler);
  if (kind === "fetch-node-srvx") {
    return (await import("srvx/node")).toNodeHandler(fetchHandler) as httpModule.RequestListener;
  }
  return nodeListener;
}

if (ownPort !== undefined && (server === "native" || server.startsWith("node") || server.startsWith("fetch-node"))) {
  // The reference: the runtime's server on a port of its own, without handover.
  if (server === "native" && runtime !== "node") nativeServer(ownPort);
  else {
    const s = http.createServer(await nodeListenerFor(server === "native" ? "node-http" : server));
    await new Promise<void>((resolve) => s.listen(ownPort, "127.0.0.1", () => resolve()));
  }
} else {
  const handover = await import("../mod.ts");
  if (server === "native" && runtime === "node") {
    // Node's native path: an http.Server that is not listening takes the fd with listen({ fd }).
    await handover.adopt(http.createServer(nodeListener), 3);
  } else if (server === "native" || server === "proxy") {
    await handover.adopt(nativeServer(0), 3, { mode: server === "proxy" ? "fallback" : "auto" });
  } else if (server === "node-adopted") {
    // Adoption into libuv's epoll: a server already listening on an ephemeral port.
    const s = http.createServer(nodeListener);
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
    await handover.adopt(s, 3);
  } else if (server === "node-http" || server.startsWith("fetch-node")) {
    await handover.adopt(http.createServer(await nodeListenerFor(server)), 3);
  } else if (server === "serve-fallback") {
    await handover.serve(fetchHandler, { mode: "fallback" });
  } else {
    throw new Error(`unknown server ${server}`);
  }
}
console.log("ready");
