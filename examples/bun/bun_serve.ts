// Bun.serve on the socket systemd passes as "web" (examples/systemd/bun-serve.socket), or on port 8000
// when started by hand. Bun.serve takes no fd: it starts on an ephemeral loopback port and adopt() moves
// the inherited socket into its place, at full speed. (In examples/bun/ because it names Bun's globals,
// which the Deno type check of examples/*.ts does not know.)
//   bun examples/bun/bun_serve.ts
import { adopt, exitWhenIdle, isActivated } from "../../mod.ts";

const handler = (request: Request) => new Response(`hello from Bun.serve: ${new URL(request.url).pathname}\n`);

if (isActivated()) {
  const idle = exitWhenIdle(60, { onIdle: () => server.stop() });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: idle.wrap(handler) });
  const { address } = await adopt(server, "web");
  console.log("serving the activated socket", address);
} else {
  Bun.serve({ hostname: "127.0.0.1", port: 8000, fetch: handler });
}
