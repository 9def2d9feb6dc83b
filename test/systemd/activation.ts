// Socket activation by the real systemd (PID 1 of a throw-away container):
// two .socket units (web: two ListenStream=, admin: one) start a service in
// the runtime under test on the first connection; it collects by name and
// answers clients inside the container; the listener it puts in the fd store
// comes back, named "stored", after `systemctl restart`.
import assert from "node:assert/strict";
import { it } from "node:test";
import { type Container, containerSkip, serviceCommand, sharedContainer } from "../_container.ts";
import { ROOT, RUNTIME, sleep } from "../_helpers.ts";

interface Answer {
  name: string;
  fd: number;
  pid: number;
  runtime: string;
  storedPort: number;
  fds: { fd: number; name: string; type: string; family: string; listening: boolean; address: { port?: number } }[];
}

const WEB_PORTS = [8081, 8082];
const ADMIN_PORT = 8083;

// A client inside the container: connect (retrying while the socket units come up), read one line.
const CLIENT = [
  "import socket, sys, time",
  "deadline = time.monotonic() + 90",
  "while True:",
  "    try:",
  "        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=90)",
  "        break",
  "    except ConnectionRefusedError:",
  "        if time.monotonic() > deadline: raise",
  "        time.sleep(0.1)",
  "print(s.makefile().readline().strip())",
].join("\n");

async function ask(container: Container, port: number): Promise<Answer> {
  const out = await container.ok(["python3", "-c", CLIENT, String(port)], { timeoutMs: 120_000 });
  return JSON.parse(out.trim()) as Answer;
}

it(
  "real systemd: .socket units start the service, which collects web (two fds) and admin by name and gets its stored fd back after a restart",
  { skip: containerSkip(), timeout: 300_000 },
  async () => {
    const service = `ho-act-${RUNTIME}.service`;
    const web = `ho-web-${RUNTIME}.socket`;
    const admin = `ho-admin-${RUNTIME}.socket`;
    const container = await sharedContainer();
    try {
      await container.installUnits({
        [web]: [
          "[Socket]",
          ...WEB_PORTS.map((port) => `ListenStream=127.0.0.1:${port}`),
          "FileDescriptorName=web",
          `Service=${service}`,
        ].join("\n"),
        [admin]: ["[Socket]", `ListenStream=127.0.0.1:${ADMIN_PORT}`, "FileDescriptorName=admin", `Service=${service}`]
          .join("\n"),
        [service]: [
          "[Service]",
          `ExecStart=${serviceCommand(RUNTIME, "test/fixtures/activation_service.ts")}`,
          `Sockets=${web} ${admin}`,
          "NotifyAccess=main",
          "FileDescriptorStoreMax=4",
          "Environment=HOME=/root",
          // node --import tsx resolves tsx from the working directory.
          `WorkingDirectory=${ROOT}`,
        ].join("\n"),
      });
      await container.ok(["systemctl", "start", web, admin]);
      assert.equal((await container.show(service, ["ActiveState"])).ActiveState, "inactive");

      // The first connection starts the service (socket activation proper).
      const first = await ask(container, WEB_PORTS[0]!).catch(async (error) => {
        assert.fail(`${error}\n${await container.journal(service)}`);
      });
      assert.equal(first.runtime, RUNTIME);
      assert.equal(first.name, "web");
      const names = first.fds.map((d) => d.name).sort();
      assert.deepEqual(names, ["admin", "web", "web"]);
      assert.ok(first.fds.every((d) => d.type === "stream" && d.family === "inet" && d.listening));
      assert.deepEqual(
        first.fds.filter((d) => d.name === "web").map((d) => d.address.port).sort(),
        WEB_PORTS,
      );
      assert.deepEqual(first.fds.filter((d) => d.name === "admin").map((d) => d.address.port), [ADMIN_PORT]);
      assert.deepEqual(first.fds.map((d) => d.fd).sort(), [3, 4, 5]);
      const second = await ask(container, WEB_PORTS[1]!);
      assert.deepEqual([second.name, second.pid], ["web", first.pid]);
      const third = await ask(container, ADMIN_PORT);
      assert.deepEqual([third.name, third.pid], ["admin", first.pid]);
      assert.equal(Number((await container.show(service, ["MainPID"])).MainPID), first.pid);

      // Wait until systemd has taken the FDSTORE=1 message, then restart.
      let stored = "0";
      for (let i = 0; i < 150 && stored !== "1"; i++) {
        stored = (await container.show(service, ["NFileDescriptorStore"])).NFileDescriptorStore ?? "0";
        if (stored !== "1") await sleep(100);
      }
      assert.equal(stored, "1", `the service stored no fd:\n${await container.journal(service)}`);
      await container.ok(["systemctl", "restart", service]);

      const after = await ask(container, WEB_PORTS[0]!);
      assert.notEqual(after.pid, first.pid);
      const storedFd = after.fds.find((d) => d.name === "stored");
      assert.ok(storedFd, `no fd named stored after the restart: ${JSON.stringify(after.fds)}`);
      assert.equal(storedFd.listening, true);
      assert.equal(storedFd.address.port, first.storedPort);
      assert.deepEqual(after.fds.map((d) => d.name).sort(), ["admin", "stored", "web", "web"]);
      assert.equal(after.storedPort, first.storedPort);
      // The stored listener is the same socket: a client of its port reaches the new instance.
      const fromStore = await ask(container, first.storedPort);
      assert.deepEqual([fromStore.name, fromStore.pid], ["stored", after.pid]);
    } finally {
      await container.exec(["systemctl", "stop", web, admin, service]);
    }
  },
);
