// Deno.serve on the socket systemd passes as "web" (examples/systemd/deno-serve.socket), or on port
// 8000 when started by hand. Deno.serve takes no fd (deno#14006): the server starts on an ephemeral
// loopback port and adopt() moves the inherited socket into its place, at full speed.
//   deno run -A examples/deno_serve.ts
import { adopt, exitWhenIdle, isActivated } from "../mod.ts";

const handler = (request: Request) => new Response(`hello from Deno.serve: ${new URL(request.url).pathname}\n`);

if (isActivated()) {
  // Started by systemd: exit after 60 s without requests; the socket unit starts us again on demand.
  const idle = exitWhenIdle(60, { onIdle: () => server.shutdown() });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, idle.wrap(handler));
  const { address } = await adopt(server, "web");
  console.log("serving the activated socket", address);
} else {
  Deno.serve({ hostname: "127.0.0.1", port: 8000 }, handler);
}
