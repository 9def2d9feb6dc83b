// node:http on the socket systemd passes as "web" (examples/systemd/node-http.socket), or on port 8000
// when started by hand. In Node, adopt() uses Node's own listen({ fd }); in Bun, whose listen({ fd })
// binds a random port instead (bun#22559), and in Deno, the same call adopts the socket.
//   node --import tsx examples/node_http.ts   (or: bun examples/node_http.ts, deno run -A examples/node_http.ts)
import http from "node:http";
import { adopt, isActivated } from "../mod.ts";

const server = http.createServer((req, res) => res.end(`hello from node:http: ${req.url}\n`));

if (isActivated()) {
  const { address, method } = await adopt(server, "web");
  console.log("serving the activated socket", address, method);
} else {
  server.listen(8000, "127.0.0.1", () => console.log("http://127.0.0.1:8000/"));
}
