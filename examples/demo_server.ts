// The app of the launcher demo: serves HTTP on the socket handover passed at
// fd 3 (collected by name once collect() lands), tells the launcher it is
// ready and what it is doing (sd_notify), and exits after 5 s without
// requests, so that handover --on-demand starts it again on the next one.
//
// Until handover's notify() and serve() land (issues 4 and 5) it sends the
// notification itself through handover's FFI and serves with node:http,
// which can take an fd in Node and Deno (Bun's cannot: bun#22559).
import http from "node:http";
import { close, detectRuntime } from "../mod.ts";
import { openSocket } from "../src/socket.ts";
import { cBuffer, encodeSocketAddress } from "../src/structs.ts";
import { check, system } from "../src/system.ts";

function notify(state: string): void {
  const target = process.env.NOTIFY_SOCKET;
  if (target === undefined || target === "") return;
  const { libc, c, layout } = system();
  const address = encodeSocketAddress(layout, c, { family: "unix", path: target });
  const payload = cBuffer(state.length);
  payload.set(new TextEncoder().encode(state));
  const fd = openSocket("unix", "dgram");
  try {
    check(libc.sendto(fd, payload, payload.byteLength, c.MSG_NOSIGNAL, address.bytes, address.length), "sendto");
  } finally {
    close(fd);
  }
}

const names = (process.env.LISTEN_FDNAMES ?? "").split(":");
const fd = 3 + Math.max(0, names.indexOf("web"));
let served = 0;
let idle: ReturnType<typeof setTimeout> | undefined;
const server = http.createServer((_request, response) => {
  served++;
  notify(`STATUS=Served ${served} request${served === 1 ? "" : "s"}`);
  response.end(`Hello from ${detectRuntime()} pid ${process.pid} (request ${served})\n`);
  armIdle();
});

function armIdle(): void {
  if (idle !== undefined) clearTimeout(idle);
  idle = setTimeout(() => {
    notify("STOPPING=1\nSTATUS=Idle for 5 s: exiting until the next request");
    server.close(() => process.exit(0));
  }, 5000);
}

process.on("SIGTERM", () => server.close(() => process.exit(0)));
notify("STATUS=Starting");
server.listen({ fd }, () => {
  notify("READY=1\nSTATUS=Waiting for requests");
  armIdle();
});
