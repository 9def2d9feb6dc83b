// The benchmark app: node:http (in Node, or in Deno through its node:http)
// on the socket at fd 3 when started by a socket activator, else on $PORT.
// With IDLE_MS set, exits that long after its last request (the timer starts
// with the first request, so a slow start on a busy machine loses nothing).
import http from "node:http";

const idleMs = Number(process.env.IDLE_MS ?? 0);
let timer;
const arm = () => {
  if (idleMs <= 0) return;
  clearTimeout(timer);
  timer = setTimeout(() => process.exit(0), idleMs);
};
const server = http.createServer((_request, response) => {
  arm();
  response.end("ok\n");
});
process.on("SIGTERM", () => process.exit(0));
server.listen(process.env.LISTEN_FDS ? { fd: 3 } : { port: Number(process.env.PORT), host: "127.0.0.1" });
