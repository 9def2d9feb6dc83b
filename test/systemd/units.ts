// `handover unit` generates the units that do in production what the launcher
// does on a laptop. Here they run under the real systemd (PID 1 of a
// throw-away container): systemd-analyze verify accepts them, the socket unit
// starts the demo app (examples/demo_server.ts, in the runtime under test) on
// the first connection, and its READY and STATUS reach systemd. A second pair
// carries `%`, `$`, quotes and a tab in its description, socket path and
// arguments: systemd must read them as written (issue 14, D10).
import assert from "node:assert/strict";
import { join } from "node:path";
import { it } from "node:test";
import { containerSkip, sharedContainer } from "../_container.ts";
import { ROOT, run, RUNTIME, runtimeArgv, sleep } from "../_helpers.ts";
import { unitFiles } from "../_launcher.ts";

const PORT = 8089;

it(
  "handover unit's .socket and .service run the demo app under the real systemd, with READY and STATUS, and % and $ reach it as written",
  { skip: containerSkip(), timeout: 300_000 },
  async () => {
    const name = `ho-demo-${RUNTIME}`;
    const [app, appArgs] = runtimeArgv(join(ROOT, "examples", "demo_server.ts"));
    const [cli, cliArgs] = runtimeArgv(join(ROOT, "cli.ts"));
    const generated = await run(cli, [
      ...cliArgs,
      "unit",
      "--name",
      name,
      "--type",
      "notify",
      "-s",
      `web=http::${PORT}`,
      "--",
      app,
      ...appArgs,
    ]);
    assert.equal(generated.code, 0, generated.stderr);
    const units: Record<string, string> = Object.fromEntries(unitFiles(generated.stdout));
    assert.deepEqual(Object.keys(units).sort(), [`${name}.service`, `${name}.socket`]);
    // Specifiers, variables, quotes and a tab in every field that takes text.
    const hostile = `ho-esc-${RUNTIME}`;
    const written = '50% $HOME "x"\ty';
    const socketPath = `/run/${hostile}%i.sock`;
    const escaped = await run(cli, [
      ...cliArgs,
      "unit",
      "--name",
      hostile,
      "--description",
      "50% off $HOME",
      "-s",
      socketPath,
      "--",
      "/bin/sh",
      "-c",
      `printf '%s' "$1" > /run/${hostile}.out`,
      "sh",
      written,
    ]);
    assert.equal(escaped.code, 0, escaped.stderr);
    Object.assign(units, Object.fromEntries(unitFiles(escaped.stdout)));

    const container = await sharedContainer();
    try {
      await container.installUnits(units);
      const verify = await container.exec([
        "systemd-analyze",
        "verify",
        ...[name, hostile].flatMap((
          unit,
        ) => [`/etc/systemd/system/${unit}.socket`, `/etc/systemd/system/${unit}.service`]),
      ]);
      const complaints = verify.stderr.split("\n").filter((line) => line.includes(name) || line.includes(hostile));
      assert.deepEqual(complaints, [], verify.stderr);
      await container.ok(["systemctl", "start", `${hostile}.socket`]);
      await container.ok(["test", "-S", socketPath]);
      assert.equal((await container.show(`${hostile}.service`, ["Description"])).Description, "50% off $HOME");
      await container.ok(["systemctl", "start", `${hostile}.service`]);
      let out = "";
      for (let i = 0; i < 50 && out === ""; i++) {
        out = (await container.exec(["cat", `/run/${hostile}.out`])).stdout;
        if (out === "") await sleep(100);
      }
      assert.equal(out, written, await container.journal(`${hostile}.service`));

      await container.ok(["systemctl", "start", `${name}.socket`]);
      assert.equal((await container.show(`${name}.service`, ["ActiveState"])).ActiveState, "inactive");
      const body = await container.ok(["curl", "-sS", "--max-time", "60", `http://127.0.0.1:${PORT}/`], {
        timeoutMs: 90_000,
      });
      assert.match(body, new RegExp(`^Hello from ${RUNTIME} pid \\d+ \\(request 1\\)`));
      let shown: Record<string, string> = {};
      for (let i = 0; i < 50; i++) {
        shown = await container.show(`${name}.service`, ["ActiveState", "SubState", "StatusText", "MainPID"]);
        if (shown.StatusText === "Served 1 request") break;
        await sleep(100);
      }
      assert.equal(shown.ActiveState, "active", await container.journal(`${name}.service`));
      assert.equal(shown.SubState, "running");
      assert.equal(shown.StatusText, "Served 1 request");
      assert.equal(body.match(/pid (\d+)/)?.[1], shown.MainPID);
    } finally {
      await container.exec(["systemctl", "stop", ...[name, hostile].flatMap((u) => [`${u}.socket`, `${u}.service`])]);
    }
  },
);
