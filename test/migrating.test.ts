// docs/migrating.md's handover code, run: each block is a file of examples/migrating/ (checked here to be the
// same), run in the runtime under test against what it replaces another package for: systemd-socket-activate, a
// real NOTIFY_SOCKET receiver (credentials included), a child process at the other end of a pair, and the
// handover launcher (systemfd's options, --on-demand).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { freePort, httpGet } from "./_activate.ts";
import { guarded, ROOT, run, runtimeArgv } from "./_helpers.ts";
import { NotifyReceiver } from "./_notify.ts";
import { answer, socketActivate, Started } from "./_package.ts";

const EXAMPLES = join(ROOT, "examples", "migrating");
const example = (name: string): string => join(EXAMPLES, name);

/** This process's environment without a service manager's variables, for the examples' own. */
function cleanEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(LISTEN_|NOTIFY_SOCKET$|WATCHDOG_|HANDOVER_LAUNCHER$)/.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

it("every handover block of docs/migrating.md is a file of examples/migrating/, shown as it is there", () => {
  const doc = readFileSync(join(ROOT, "docs", "migrating.md"), "utf8");
  const shown = [...doc.matchAll(/<!-- examples\/migrating\/(\S+) -->\n\n```ts\n([\s\S]*?)\n```/g)];
  const files = readdirSync(EXAMPLES).filter((name) => name.endsWith(".ts")).sort();
  assert.deepEqual(shown.map((match) => match[1]).sort(), files);
  for (const [, name, block] of shown) {
    const code = readFileSync(example(name!), "utf8").trimEnd().replaceAll('"../../mod.ts"', '"handover"');
    assert.equal(block, code, `docs/migrating.md shows examples/migrating/${name} otherwise`);
  }
  // Every other TypeScript or JavaScript block is another package's code, marked as such.
  const blocks = [...doc.matchAll(/^```(\S+)(.*)$/gm)].filter((match) => match[2] !== undefined);
  for (const [line, language, info] of blocks) {
    if (language === "ts" && info === "") continue;
    if (!/^(ts|js|rust|sh)$/.test(language!) || info!.trim().startsWith("peer:")) continue;
    assert.ok(language === "sh", `an unmarked block: ${line}`);
  }
});

it(
  "socket-activation → collect(): the same loop serves under systemd-socket-activate --fdname=app",
  guarded(async () => {
    const port = await freePort();
    const [command, argv] = runtimeArgv(example("socket_activation.ts"));
    const activated = await socketActivate(port, "app", [command, ...argv], ROOT);
    try {
      assert.equal(await answer(port), "hello!\n", activated.stderr);
      const [line] = await activated.output(/Listening on[^\n]*(\n[^\n]*){0,4}/);
      assert.match(line, new RegExp(`port: ${port}`));
    } finally {
      await activated.stop();
    }
  }),
);

/** Runs an example with NOTIFY_SOCKET at a fresh receiver; returns the receiver and the started child. */
function withNotifyReceiver(
  name: string,
  kind: "path" | "abstract",
  env: Record<string, string>,
  body: (receiver: NotifyReceiver, child: Started) => Promise<void>,
): Promise<void> {
  const receiver = NotifyReceiver.open(kind);
  const [command, argv] = runtimeArgv(example(name));
  const child = new Started(command, argv, {
    cwd: ROOT,
    env: cleanEnvironment({ NOTIFY_SOCKET: receiver.address, ...env }),
  });
  return body(receiver, child).finally(async () => {
    await child.stop();
    receiver.drain();
    receiver.close();
  });
}

it(
  "sd-notify → ready(), status(), startWatchdog(): READY=1, STATUS= and WATCHDOG=1 at half of WATCHDOG_USEC, from the app's pid",
  guarded(() =>
    withNotifyReceiver("sd_notify.ts", "path", { PORT: "0", WATCHDOG_USEC: "400000" }, async (receiver, child) => {
      const seen = new Map<string, number | undefined>();
      const deadline = Date.now() + 30_000;
      while (!(seen.has("READY=1") && seen.has("STATUS") && seen.has("WATCHDOG=1")) && Date.now() < deadline) {
        const message = await receiver.receive(30_000);
        for (const line of message.text.split("\n")) {
          if (line !== "") seen.set(line.startsWith("STATUS=") ? "STATUS" : line, message.credentials?.pid);
        }
      }
      assert.equal(seen.get("READY=1"), child.child.pid);
      assert.equal(seen.get("STATUS"), child.child.pid);
      assert.equal(seen.get("WATCHDOG=1"), child.child.pid);
    })
  ),
);

it(
  "sd_notify_promise → notify(state, { unsetEnv }): the same string, and false without NOTIFY_SOCKET",
  guarded(async () => {
    await withNotifyReceiver("sd_notify_promise.ts", "path", {}, async (receiver, child) => {
      const message = await receiver.receive(30_000);
      assert.equal(message.text, "READY=1\nSTATUS=started");
      assert.equal(message.credentials?.pid, child.child.pid);
      await child.output(/^told the service manager$/m);
    });
    const [command, argv] = runtimeArgv(example("sd_notify_promise.ts"));
    const direct = await run(command, argv, { env: cleanEnvironment(), timeoutMs: 60_000 });
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /^no NOTIFY_SOCKET: not started by systemd$/m);
  }),
);

it(
  "unix-dgram → notifySync(): one call, to an @abstract NOTIFY_SOCKET too",
  guarded(() =>
    withNotifyReceiver("unix_dgram.ts", "abstract", {}, async (receiver, child) => {
      const message = await receiver.receive(30_000);
      assert.deepEqual(message.text.split("\n").filter(Boolean).sort(), ["READY=1", "STATUS=serving"]);
      assert.equal(message.credentials?.pid, child.child.pid);
      await child.output(/sent READY=1/);
    })
  ),
);

it(
  "systemd-notify → notify(): READY=1 and STATUS= come from the app's own pid, which NotifyAccess=main takes",
  guarded(() =>
    withNotifyReceiver("systemd_notify.ts", "path", {}, async (receiver, child) => {
      const message = await receiver.receive(30_000);
      assert.deepEqual(message.text.split("\n").filter(Boolean).sort(), ["READY=1", "STATUS=serving"]);
      assert.equal(message.credentials?.pid, child.child.pid);
    })
  ),
);

it(
  "unix-socketpair → socketpair(), childStdio(), openSocketStream(): a child answers over its end at fd 3",
  guarded(async () => {
    const [command, argv] = runtimeArgv(example("unix_socketpair.ts"));
    const result = await run(command, argv, { env: cleanEnvironment(), timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "got hello");
  }),
);

/** The launcher (in the runtime under test) in front of an example; stopped by pid after `body`. */
async function underLauncher(options: readonly string[], name: string, body: (port: number) => Promise<void>) {
  const port = await freePort();
  const [runtime, runtimeArgs] = runtimeArgv(join(ROOT, "cli.ts"));
  const [command, argv] = runtimeArgv(example(name));
  const spec = options.map((option) => option.replace("PORT", String(port)));
  const launcher = new Started(runtime, [...runtimeArgs, "-q", ...spec, "--", command, ...argv], {
    cwd: ROOT,
    env: cleanEnvironment(),
  });
  try {
    await body(port);
  } catch (error) {
    throw new assert.AssertionError({ message: `${error}\nlauncher stderr:\n${launcher.stderr}` });
  } finally {
    await launcher.stop();
  }
}

/** GETs `path` until the app answers (it may still be starting), bounded. */
async function getWhenUp(port: number, path = "/"): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return (await httpGet({ host: "127.0.0.1", port }, path)).body;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

it(
  "systemfd + listenfd → listenFds({ lenient: true }) and serve(): served under the launcher with systemfd's --no-pid, and without it",
  guarded(async () => {
    await underLauncher(["--no-pid", "-s", "http::127.0.0.1:PORT"], "listenfd.ts", async (port) => {
      assert.equal(await getWhenUp(port), "hello\n");
    });
    await underLauncher(["-s", "http::127.0.0.1:PORT"], "listenfd.ts", async (port) => {
      assert.equal(await getWhenUp(port), "hello\n");
    });
  }),
);

it(
  "autostart-server → handover --on-demand and serve(): the first connection starts the app, which answers it",
  guarded(() =>
    underLauncher(["--on-demand", "-s", "web=127.0.0.1:PORT"], "autostart.ts", async (port) => {
      assert.equal(await getWhenUp(port), "hello\n");
    })
  ),
);

it(
  "deno serve --port / Bun.serve({ port }) → serve(handler): the same handler on the socket systemd-socket-activate passed",
  guarded(async () => {
    const port = await freePort();
    const [command, argv] = runtimeArgv(example("fetch_handler.ts"));
    const activated = await socketActivate(port, "web", [command, ...argv], ROOT);
    try {
      assert.equal((await httpGet({ host: "127.0.0.1", port }, "/migrated")).body, "hello from /migrated\n");
    } finally {
      await activated.stop();
    }
  }),
);
