// Express on Node (or Bun) on the socket systemd passes as "web" (examples/systemd/express.socket), or on
// port 8000 when started by hand. An Express app is a node:http request listener; adopt() takes the server.
//   node --import tsx examples/express.ts   |   bun examples/express.ts
import express from "express";
import http from "node:http";
import { adopt, exitWhenIdle, isActivated } from "../mod.ts";

const app = express();
app.get("/", (_req, res) => {
  res.send("hello from Express\n");
});

const server = http.createServer(app);
if (isActivated()) {
  // On demand: exit after 120 s without requests; systemd starts the service again on the next connection.
  exitWhenIdle(120, { onIdle: () => void server.close(() => process.exit(0)) }).watch(server);
  await adopt(server, "web");
} else {
  server.listen(8000, "127.0.0.1", () => console.log("http://127.0.0.1:8000/"));
}
