import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { containerSkip, serviceCommand, sharedContainer } from "../_container.ts";
import { docBlock, writeDocBlock } from "../_docs.ts";
import { FIXTURES, ROOT, RUNTIME } from "../_helpers.ts";

const adoptApp = { deno: "deno_adopt.ts", bun: "bun_adopt.ts", node: "node_adopt.ts" }[RUNTIME];
const skip = containerSkip();
// Written when this module loads, before the shared container boots: the container sees the host's files as they
// were at its boot.
const dir = join(ROOT, "test", ".tmp", `serve-systemd-${process.pid}`);
const apps = skip ? [] : [
  {
    unit: "ho-serve",
    port: 8091,
    file: writeDocBlock(dir, "serve_app.ts", docBlock("docs/serving.md", "serve_app.ts")),
  },
  { unit: "ho-adopt", port: 8092, file: writeDocBlock(dir, adoptApp, docBlock("docs/serving.md", adoptApp)) },
];

it(
  `under systemd, docs/serving.md's serve_app.ts and ${adoptApp} answer the first connection and no request fails across 10 restarts each, half the requests taking 100 ms`,
  { skip, timeout: 600_000 },
  async () => {
    const container = await sharedContainer();
    try {
      const units: Record<string, string> = {};
      for (const { unit, port, file } of apps) {
        units[`${unit}.socket`] = `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=web\n`;
        units[`${unit}.service`] =
          "[Unit]\n# Ten restarts in a row: more than systemd's default start limit (5 in 10 s).\nStartLimitIntervalSec=0\n" +
          "[Service]\nType=notify\n" +
          `ExecStart=${serviceCommand(RUNTIME, file)}\nEnvironment=HOME=/root\n`;
      }
      await container.installUnits(units);
      for (const { unit, port } of apps) {
        await container.ok(["systemctl", "start", `${unit}.socket`]);
        // The first connection starts the service (socket activation); it must be answered, not dropped.
        const first = await container.exec(["curl", "-sf", "-m", "60", `http://127.0.0.1:${port}/first`]);
        assert.equal(first.stdout, "hello\n", `${first.stderr}\n${await container.journal(`${unit}.service`)}`);
        const pid = (await container.show(`${unit}.service`, ["MainPID"])).MainPID;
        // 4 clients (two open a connection per request, two keep one alive) while the service restarts 10 times.
        const stopFile = `/root/stop-${unit}`;
        const load = container.exec([
          "/usr/bin/node",
          join(FIXTURES, "http_load.mjs"),
          JSON.stringify({
            port,
            durationMs: 240_000,
            slowShare: 0.5,
            stopFile,
            clients: [{ keepAlive: false }, { keepAlive: false }, { keepAlive: true }, { keepAlive: true }],
          }),
        ], { timeoutMs: 300_000 });
        for (let i = 0; i < 10; i++) {
          await new Promise((resolve) => setTimeout(resolve, 300));
          await container.ok(["systemctl", "restart", `${unit}.service`], { timeoutMs: 120_000 });
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        await container.ok(["touch", stopFile]);
        const result = await load;
        const report = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}");
        assert.equal(
          report.failed,
          0,
          `${result.stdout}\n${result.stderr}\n${await container.journal(`${unit}.service`)}`,
        );
        assert.ok(report.ok > 30, result.stdout);
        const shown = await container.show(`${unit}.service`, ["ActiveState", "Result", "MainPID", "NRestarts"]);
        assert.equal(shown.ActiveState, "active");
        assert.equal(shown.Result, "success");
        assert.notEqual(shown.MainPID, pid, "the service was restarted");
        // Every stop was a drain that ended in exit 0 after STOPPING=1, not a kill.
        const journal = await container.journal(`${unit}.service`);
        assert.doesNotMatch(journal, /killed|SIGKILL|status=1\//, journal);
      }
    } finally {
      await container.exec(["systemctl", "stop", ...apps.flatMap(({ unit }) => [`${unit}.socket`, `${unit}.service`])]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
