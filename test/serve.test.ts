import assert from "node:assert/strict";
import { closeSync, fstatSync, openSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import {
  activate,
  type Endpoint,
  endpointOf,
  exchange,
  freePort,
  httpGet,
  listeningSockets,
  refused,
  udpExchange,
} from "./_activate.ts";
import { guarded, openFds, RUNTIME } from "./_helpers.ts";
import { adopt, close, describeFd, exitWhenIdle, HandoverError, socketpair } from "../mod.ts";
import { bindSocket, listenSocket, openSocket } from "../src/fd/socket.ts";
import { openFdNumbers } from "../src/serve/transplant.ts";

// The runtime's own HTTP server and stream listener, as the fixture names them.
const nativeHttp = RUNTIME === "node" ? "node-http" : "native-http";
const nativeStream = RUNTIME === "node" ? "node-net" : "native-stream";
const serverName = { deno: "Deno.serve", bun: "Bun.serve", node: "node:http" }[RUNTIME];
const listenerName = { deno: "Deno.listen", bun: "Bun.listen", node: "node:net" }[RUNTIME];

function unixPath(tag: string): string {
  return join(tmpdir(), `handover-test-${process.pid}-${tag}.sock`);
}

/** Opens `count` HTTP requests at once (they queue while the process starts) and returns their bodies. */
function requestsAtOnce(endpoint: Endpoint, count: number): Promise<{ status: string; body: string }[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => httpGet(endpoint, `/queued-${i}`)));
}

async function checkAdoptedHttp(kind: string, listen: string, method: string): Promise<void> {
  const endpoint = endpointOf(listen);
  const activation = await activate([{ listen, name: "web" }], "serve_adopt.ts", [kind, "web"]);
  try {
    // These connect before the fixture exists: systemd-socket-activate starts it on the first one.
    const answers = await requestsAtOnce(endpoint, 24);
    const report = await activation.nextJson<{ pid: number; adopted: { method: string; fd: number } }>();
    assert.equal(answers.length, 24);
    answers.forEach((answer, i) => {
      assert.match(answer.status, /^HTTP\/1\.1 200/);
      assert.equal(answer.body, `${kind} ${report.pid} /queued-${i}`);
    });
    assert.equal(report.adopted.method, method);
    // One listening socket: the inherited one; the server's ephemeral socket is gone.
    const listening = listeningSockets(report.pid);
    assert.equal(listening.length, 1, listening.join(", "));
    activation.send("close");
    assert.deepEqual(await activation.nextJson(), { closed: true });
    assert.ok(await refused(endpoint), "the socket is released when the server closes");
  } finally {
    await activation.stop();
    if (listen.startsWith("/")) rmSync(listen, { force: true });
  }
}

it(`serve() answers on an activated TCP socket, all 24 connections made before the process started`, async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const endpoint = endpointOf(listen);
  const activation = await activate([{ listen, name: "web" }], "serve_adopt.ts", ["serve", "web"]);
  try {
    const answers = await requestsAtOnce(endpoint, 24);
    const report = await activation.nextJson<{ pid: number; adopted: { method: string }[] }>();
    answers.forEach((answer, i) => assert.equal(answer.body, `serve ${report.pid} /queued-${i}`));
    assert.equal(report.adopted[0]!.method, RUNTIME === "node" ? "native" : "adopted");
    assert.deepEqual(listeningSockets(report.pid).length, 1);
    activation.send("close");
    assert.deepEqual(await activation.nextJson(), { closed: true });
    assert.ok(await refused(endpoint));
  } finally {
    await activation.stop();
  }
});

it(`${serverName} adopts an activated TCP socket: queued connections answered, one listener left, released on close`, async () => {
  await checkAdoptedHttp(nativeHttp, `127.0.0.1:${await freePort()}`, RUNTIME === "node" ? "native" : "adopted");
});

it(`${serverName} adopts an activated IPv6 socket`, async () => {
  await checkAdoptedHttp(nativeHttp, `[::1]:${await freePort("::1")}`, RUNTIME === "node" ? "native" : "adopted");
});

it(`${serverName} adopts an activated unix path socket`, async () => {
  await checkAdoptedHttp(nativeHttp, unixPath("http"), RUNTIME === "node" ? "native" : "adopted");
});

it(`node:http in ${RUNTIME} serves an activated socket (Bun's own listen({ fd }) cannot, bun#22559)`, async () => {
  await checkAdoptedHttp("node-http", `127.0.0.1:${await freePort()}`, RUNTIME === "bun" ? "adopted" : "native");
});

it(`${listenerName} adopts activated TCP and unix stream sockets`, async () => {
  for (const listen of [`127.0.0.1:${await freePort()}`, unixPath("stream")]) {
    const endpoint = endpointOf(listen);
    const activation = await activate([{ listen, name: "raw" }], "serve_adopt.ts", [nativeStream, "raw"]);
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => exchange(endpoint, "")));
      const report = await activation.nextJson<{ pid: number }>();
      for (const answer of answers) assert.equal(answer, `${nativeStream} ${report.pid}\n`);
      assert.equal(listeningSockets(report.pid).length, 1);
    } finally {
      await activation.stop();
      rmSync(unixPath("stream"), { force: true });
    }
  }
});

it(`a datagram socket is adopted by ${RUNTIME === "bun" ? "Bun.udpSocket and " : ""}node:dgram`, async () => {
  for (const kind of RUNTIME === "bun" ? ["native-dgram", "node-dgram"] : ["node-dgram"]) {
    const port = await freePort();
    const activation = await activate([{ listen: `127.0.0.1:${port}`, name: "udp" }], "serve_adopt.ts", [kind, "udp"], {
      datagram: true,
    });
    try {
      // The first datagram starts the fixture; it is answered once the socket is adopted.
      const first = udpExchange("127.0.0.1", port, "one", 20_000);
      const report = await activation.nextJson<{ pid: number; adopted: { method: string } }>();
      assert.equal(await first, `${kind} ${report.pid} one`);
      assert.equal(await udpExchange("127.0.0.1", port, "two"), `${kind} ${report.pid} two`);
      assert.equal(report.adopted.method, "adopted");
      assert.deepEqual(listeningSockets(report.pid), [`udp ${listeningSockets(report.pid)[0]!.split(" ")[1]}`]);
    } finally {
      await activation.stop();
    }
  }
});

it("two named sockets go to two servers", async () => {
  const web = `127.0.0.1:${await freePort()}`;
  const admin = `127.0.0.1:${await freePort()}`;
  const activation = await activate(
    [{ listen: web, name: "web" }, { listen: admin, name: "admin" }],
    "serve_adopt.ts",
    ["serve", "web,admin"],
  );
  try {
    const first = await httpGet(endpointOf(web), "/w");
    const report = await activation.nextJson<{ pid: number }>();
    assert.equal(first.body, `serve ${report.pid} web /w`);
    assert.equal((await httpGet(endpointOf(admin), "/a")).body, `serve ${report.pid} admin /a`);
    assert.equal(listeningSockets(report.pid).length, 2);
  } finally {
    await activation.stop();
  }
});

it(`the fallback (accept loop forwarding to ${serverName}) answers queued connections`, async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const endpoint = endpointOf(listen);
  const activation = await activate([{ listen, name: "web" }], "serve_adopt.ts", [nativeHttp, "web", "fallback"]);
  try {
    const answers = await requestsAtOnce(endpoint, 20);
    const report = await activation.nextJson<{ pid: number; adopted: { method: string } }>();
    answers.forEach((answer, i) => assert.equal(answer.body, `${nativeHttp} ${report.pid} /queued-${i}`));
    assert.equal(report.adopted.method, "proxy");
  } finally {
    await activation.stop();
  }
});

it("the main entry as built for JSR (jsr/mod.js) serves in Deno: serve(), node:http and the accept-loop fallback", {
  skip: RUNTIME === "deno"
    ? false
    : "JSR's build is Deno's (elsewhere it says to install from npm: activation.test.ts)",
}, async () => {
  // Each loads a chunk of its own at its first use: Deno's serving adapter, Node's (node:http), the forwarder.
  const cases = [["serve", "auto", "adopted"], ["node-http", "auto", "native"], ["native-http", "fallback", "proxy"]];
  for (const [kind, mode, method] of cases) {
    const listen = `127.0.0.1:${await freePort()}`;
    const endpoint = endpointOf(listen);
    const activation = await activate([{ listen, name: "web" }], "serve_adopt.ts", [`jsr:${kind}`, "web", mode!]);
    try {
      const answers = await requestsAtOnce(endpoint, 4);
      const report = await activation.nextJson<{ pid: number; adopted: { method: string } | { method: string }[] }>();
      answers.forEach((answer, i) => assert.equal(answer.body, `${kind} ${report.pid} /queued-${i}`, kind));
      assert.equal([report.adopted].flat()[0]!.method, method, kind);
      activation.send("close");
      assert.deepEqual(await activation.nextJson(), { closed: true });
      // The forwarder's accept loop is not the server's to close (as with mod.ts: the fallback test above).
      if (method !== "proxy") assert.ok(await refused(endpoint), `${kind}: the socket is released on close`);
    } finally {
      await activation.stop();
    }
  }
});

// deno-lint-ignore no-explicit-any
const BunGlobal = (globalThis as any).Bun;

/** A server of the runtime's own kind on an ephemeral loopback port, and how to tell that it is closed. */
async function ephemeralServer(): Promise<{ server: unknown; port: number; closed(): Promise<boolean> }> {
  const handler = () => new Response("x");
  if (RUNTIME === "deno") {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    return { server, port: server.addr.port, closed: () => server.finished.then(() => true) };
  }
  if (RUNTIME === "bun") {
    const server = BunGlobal.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    const port: number = server.port;
    return { server, port, closed: () => refused({ host: "127.0.0.1", port }) };
  }
  const server = http.createServer((_req, res) => res.end("x"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  return { server, port, closed: () => refused({ host: "127.0.0.1", port }) };
}

async function expectAdoptFailure(fd: number, code: string, pattern: RegExp): Promise<void> {
  const { server, closed } = await ephemeralServer();
  await assert.rejects(adopt(server, fd), (error: HandoverError) => {
    assert.ok(error instanceof HandoverError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
  assert.ok(await closed(), "adopt() closes the server when it fails");
}

it(
  `adopt() rejects an fd that is not a socket with ENOTSOCK and closes the ${serverName} server`,
  guarded(async () => {
    const fd = openSync("/dev/null", "r");
    try {
      await expectAdoptFailure(fd, "ENOTSOCK", /Expected fd \d+ to be a socket to serve, found a other/);
    } finally {
      closeSync(fd);
    }
  }),
);

it(
  "adopt() rejects a datagram socket for an HTTP server with EPROTOTYPE",
  guarded(async () => {
    const [a, b] = socketpair("dgram");
    try {
      await expectAdoptFailure(a, "EPROTOTYPE", /is a dgram socket .* serves stream sockets/);
    } finally {
      close(a);
      close(b);
    }
  }),
);

it(
  "adopt() rejects a family mismatch with EAFNOSUPPORT and leaves the inherited socket open",
  guarded(async () => {
    const fd = openSocket("inet6", "stream");
    try {
      bindSocket(fd, { family: "inet6", address: "::1", port: 0 });
      listenSocket(fd);
      await expectAdoptFailure(
        fd,
        "EAFNOSUPPORT",
        /is an inet6 socket \(\[::1\]:\d+\), but the server listens on inet 127\.0\.0\.1:\d+: create the server on \[::1\]:0/,
      );
      assert.equal(describeFd(fd).listening, true);
    } finally {
      close(fd);
    }
  }),
);

it(
  "adopt() rejects a closed fd with EBADF",
  guarded(async () => {
    // A number above every open fd (closing one would let the server's socket reuse it).
    const fd = Math.max(...openFds().keys()) + 100;
    await expectAdoptFailure(fd, "EBADF", /EBADF/);
  }),
);

it(
  "adopt() rejects a stream socket that is not listening with EINVAL",
  guarded(async () => {
    const [a, b] = socketpair("stream");
    try {
      await expectAdoptFailure(a, "EINVAL", /not listening/);
    } finally {
      close(a);
      close(b);
    }
  }),
);

it(
  "adopt() rejects what is not a server with a TypeError, before touching the fd",
  guarded(async () => {
    await assert.rejects(adopt({}, 3), TypeError);
    await assert.rejects(adopt(null, 3), TypeError);
  }),
);

it(
  "adopt() by name throws ESRCH when the process was not socket-activated",
  guarded(async () => {
    const { server, closed } = await ephemeralServer();
    await assert.rejects(adopt(server, "web"), (error: HandoverError) => error.code === "ESRCH");
    assert.ok(await closed(), "adopt() closes the server when the name cannot be resolved");
  }),
);

it("serve({ idleTimeout }) ends the process after that many seconds without requests", async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const activation = await activate([{ listen, name: "web" }], "serve_adopt.ts", ["serve", "web", "auto", "0.6"]);
  try {
    const first = await httpGet(endpointOf(listen), "/one");
    const report = await activation.nextJson<{ pid: number }>();
    assert.equal(first.body, `serve ${report.pid} /one`);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await httpGet(endpointOf(listen), "/two")).body, `serve ${report.pid} /two`);
    const code = await new Promise<number | null>((resolve) => activation.child.once("exit", (c) => resolve(c)));
    assert.equal(code, 0);
    // The second request restarted the countdown.
    assert.ok(Date.now() - started >= 850, `exited after ${Date.now() - started} ms`);
  } finally {
    await activation.stop();
  }
});

it(
  "exitWhenIdle() waits while a request is open and calls onIdle once afterwards",
  guarded(async () => {
    let fired = 0;
    const idle = exitWhenIdle(0.1, { onIdle: () => void fired++ });
    try {
      const end = idle.begin();
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(fired, 0, "no idle exit while a request is open");
      end();
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(fired, 1);
      const handler = idle.wrap(() => new Response("x"));
      assert.equal(await (await handler(new Request("http://x/"))).text(), "x");
    } finally {
      idle.stop();
    }
    assert.throws(() => exitWhenIdle(0), RangeError);
  }),
);

it(
  "serve()'s request count keeps a handler's synchronous Response synchronous, ends a request whose handler throws, and marks responses while draining",
  async () => {
    const { RequestTracker } = await import("../src/serve/drain.ts");
    const tracker = new RequestTracker();
    let seen = -1;
    const sync = tracker.wrap(() => {
      seen = tracker.inflight;
      return new Response("now");
    });
    const response = sync(new Request("http://localhost/"));
    assert.ok(response instanceof Response, "a synchronous response is not turned into a promise");
    assert.equal(seen, 1);
    assert.equal(tracker.inflight, 0);
    const thrown = new Error("boom");
    const throwing = tracker.wrap(() => {
      throw thrown;
    });
    await assert.rejects(Promise.resolve().then(() => throwing(new Request("http://localhost/"))), thrown);
    assert.equal(tracker.inflight, 0);
    const rejecting = tracker.wrap(() => Promise.reject(thrown));
    await assert.rejects(async () => await rejecting(new Request("http://localhost/")), thrown);
    assert.equal(tracker.inflight, 0);
    tracker.draining = true;
    const later = tracker.wrap(() => Promise.resolve(new Response("later")));
    const pending = later(new Request("http://localhost/"));
    assert.equal(tracker.inflight, 1);
    const closing = await pending;
    assert.equal(closing.headers.get("connection"), "close");
    assert.equal(await closing.text(), "later");
    assert.equal(tracker.inflight, 0);
  },
);

it("openFdNumbers() lists exactly the open fds, as /proc/self/fd does, a new one included and a closed one not", () => {
  const [a, b] = socketpair();
  close(b);
  const listed = openFdNumbers();
  assert.ok(listed.includes(a), `fd ${a} is open`);
  assert.ok(!listed.includes(b), `fd ${b} was closed`);
  assert.deepEqual(listed, [...listed].sort((x, y) => x - y));
  // readdirSync() opens the directory itself: its fd is listed there and closed when it returns.
  const proc = new Set(readdirSync("/proc/self/fd").map(Number));
  for (const fd of listed) assert.ok(proc.has(fd), `fd ${fd} is in /proc/self/fd`);
  const isOpen = (fd: number): boolean => {
    try {
      fstatSync(fd);
      return true;
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, "EBADF");
      return false;
    }
  };
  for (const fd of proc) if (!listed.includes(fd)) assert.ok(!isOpen(fd), `fd ${fd} is open but not listed`);
  close(a);
  assert.ok(!openFdNumbers().includes(a));
});
