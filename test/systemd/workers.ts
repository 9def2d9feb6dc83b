// `handover unit --workers 2` under the real systemd (the shared container of test/systemd.test.ts), in both
// modes, for docs/launcher.md's workers_app.ts in the runtime under test: systemd-analyze verify accepts the units,
// `systemctl enable --now` as the target's comment says starts both workers, each answers with its own WORKER_INDEX
// (= its instance, %i), shared mode hands both the same socket and reuseport each its own, and restarting the
// workers one at a time under load loses no request in either mode (systemd keeps every socket open).
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { it } from "node:test";
import { containerSkip, serviceCommand, sharedContainer } from "../_container.ts";
import { docBlock, writeDocBlock } from "../_docs.ts";
import { FIXTURES, ROOT, run, RUNTIME, runtimeArgv, sleep } from "../_helpers.ts";
import { unitFiles } from "../_launcher.ts";

/** What test/fixtures/http_load.mjs reports, with the answers counted by body. */
interface LoadReport {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  bodies: Record<string, number>;
}

const MODES = [
  { mode: "shared", port: 8095 },
  { mode: "reuseport", port: 8096 },
] as const;

/** `handover unit` (the CLI in the runtime under test) for the app; the printed files by name. */
async function generate(name: string, mode: string, port: number, app: string): Promise<Record<string, string>> {
  const [cli, cliArgs] = runtimeArgv(join(ROOT, "cli.ts"));
  const generated = await run(cli, [
    ...cliArgs,
    "unit",
    "--name",
    name,
    "--type",
    "notify",
    "--workers",
    "2",
    "--workers-mode",
    mode,
    "-s",
    `web=http::${port}`,
    "--",
    ...serviceCommand(RUNTIME, app).split(" "),
  ]);
  assert.equal(generated.code, 0, generated.stderr);
  return Object.fromEntries(unitFiles(generated.stdout));
}

const skip = containerSkip();
// Written when this module loads, before the shared container boots: the container sees the host's files as they
// were at its boot.
const dir = join(ROOT, "test", ".tmp", `workers-systemd-${process.pid}`);
const app = skip ? "" : writeDocBlock(dir, "workers_app.ts", docBlock("docs/launcher.md", "workers_app.ts"));

/** The load's report per mode, from the container case to the cases that judge it. */
const reports = new Map<string, { report: LoadReport; journal: string }>();

it(
  "handover unit --workers 3 prints NAME@.service with WORKER_INDEX=%i and NAME.target wanting NAME@0..2; reuseport gives each worker its own NAME@%i.socket; plist and a mixed name refuse with exit 2",
  async () => {
    const [cli, cliArgs] = runtimeArgv(join(ROOT, "cli.ts"));
    const unit = (args: string[]) =>
      run(cli, [...cliArgs, "unit", "--name", "app", "--workers", "3", ...args, "--", "/bin/sh", "-c", "exit 0"]);
    const shared = await unit(["-s", "web=http::8080", "-s", "admin=/run/app.sock"]);
    assert.equal(shared.code, 0, shared.stderr);
    const s = unitFiles(shared.stdout);
    assert.deepEqual([...s.keys()], ["app-web.socket", "app-admin.socket", "app@.service", "app.target"]);
    assert.match(s.get("app-web.socket")!, /^Service=app@0\.service$/m);
    assert.doesNotMatch(s.get("app-web.socket")!, /ReusePort/);
    // systemd would clear the shared socket's O_NONBLOCK at each worker's start, under the serving workers.
    assert.match(s.get("app@.service")!, /^NonBlocking=yes$/m);
    const service = s.get("app@.service")!;
    assert.match(service, /^Sockets=app-web\.socket app-admin\.socket$/m);
    assert.match(service, /^Environment=WORKER_INDEX=%i WORKER_COUNT=3 HANDOVER_WORKERS=shared$/m);
    assert.match(service, /^Restart=always$/m);
    assert.match(service, /^PartOf=app\.target$/m);
    assert.match(s.get("app.target")!, /^Wants=app@0\.service app@1\.service app@2\.service$/m);
    assert.match(s.get("app.target")!, /^;\s+systemctl enable --now app-web\.socket app-admin\.socket app\.target$/m);

    const reuseport = await unit(["--workers-mode", "reuseport", "-s", "web=http::8080", "-s", "admin=/run/app.sock"]);
    assert.equal(reuseport.code, 0, reuseport.stderr);
    const r = unitFiles(reuseport.stdout);
    assert.deepEqual([...r.keys()], ["app-web@.socket", "app-admin.socket", "app@.service", "app.target"]);
    assert.match(r.get("app-web@.socket")!, /^ReusePort=yes$/m);
    // admin (a unix socket) stays shared.
    assert.match(r.get("app@.service")!, /^NonBlocking=yes$/m);
    assert.match(r.get("app-web@.socket")!, /^Service=app@%i\.service$/m);
    assert.doesNotMatch(r.get("app-web@.socket")!, /\[Install\]/);
    assert.match(r.get("app@.service")!, /^Sockets=app-web@%i\.socket app-admin\.socket$/m);
    assert.match(r.get("app@.service")!, /HANDOVER_WORKERS=reuseport$/m);
    assert.match(r.get("app.target")!, /^;\s+systemctl enable --now app-admin\.socket app\.target$/m);

    const refusals: [string[], RegExp][] = [
      [["--workers-mode", "reuseport", "-s", "web=http::8080", "-s", "web=/run/app.sock"], /all TCP or none/],
    ];
    for (const [args, message] of refusals) {
      const result = await unit(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, "");
    }
    const plist = await run(cli, [...cliArgs, "plist", "--workers", "2", "-s", "http::8080", "--", "/bin/sh"]);
    assert.equal(plist.code, 2, plist.stderr);
    assert.match(
      plist.stderr,
      /^handover: --workers belongs to the launcher and handover unit: a plist is one launchd job/,
    );
  },
);

it(
  "handover unit --workers 2 (shared and reuseport) runs 2 workers under the real systemd: each answers as its instance, and restarting them one at a time under load loses 0 requests",
  // Both modes take ~20 s; bounded well above what a loaded machine needs.
  { skip, timeout: 600_000 },
  async () => {
    const units: Record<string, Record<string, string>> = {};
    for (const { mode, port } of MODES) {
      const name = `wk-${mode}`;
      const files = await generate(name, mode, port, app);
      const socket = mode === "shared" ? `${name}.socket` : `${name}@.socket`;
      assert.deepEqual(Object.keys(files).sort(), [socket, `${name}.target`, `${name}@.service`].sort());
      assert.match(files[`${name}.target`]!, new RegExp(`^Wants=${name}@0\\.service ${name}@1\\.service$`, "m"));
      // Deno and Bun want a HOME for their caches; systemd sets none for root services.
      files[`${name}@.service`] += "Environment=HOME=/root\n";
      units[mode] = files;
    }
    // The form the generator does not write: one .socket with a ListenStream= per worker. systemd binds both
    // SO_REUSEPORT sockets, but a service that lists the unit gets both, under the unit's one name.
    const multi = {
      "wk-multi.socket": "[Socket]\nListenStream=127.0.0.1:8097\nListenStream=127.0.0.1:8097\nReusePort=yes\n" +
        "FileDescriptorName=web\nService=wk-multi.service\n",
      "wk-multi.service": "[Service]\nSockets=wk-multi.socket\n" +
        "ExecStart=/bin/sh -c 'echo \"$LISTEN_FDS $LISTEN_FDNAMES\" > /run/wk-multi.out; exec sleep 600'\n",
    };
    const started = Date.now();
    const phase = (what: string) =>
      console.log(`# ${RUNTIME} ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const container = await sharedContainer();
    phase("container up");
    try {
      await container.installUnits(Object.assign({}, multi, ...Object.values(units)));
      await container.ok(["systemctl", "start", "wk-multi.socket", "wk-multi.service"]);
      const listeners = (await container.ok(["cat", "/proc/net/tcp"])).split("\n")
        .filter((line) => / 0100007F:1FA1 00000000:0000 0A /.test(line));
      assert.equal(listeners.length, 2, "systemd bound two SO_REUSEPORT sockets for one .socket unit");
      let out = "";
      for (let i = 0; i < 100 && out === ""; i++) {
        out = (await container.exec(["cat", "/run/wk-multi.out"])).stdout;
        if (out === "") await sleep(100);
      }
      assert.equal(out, "2 web:web\n", "the service got both sockets, named alike");
      await container.ok(["systemctl", "stop", "wk-multi.service", "wk-multi.socket"]);
      const verify = await container.exec([
        "systemd-analyze",
        "verify",
        ...Object.values(units).flatMap((files) =>
          Object.keys(files).map((file) => `/etc/systemd/system/${file.replace("@.", "@0.")}`)
        ),
      ]);
      const complaints = verify.stderr.split("\n").filter((line) => /wk-/.test(line));
      assert.deepEqual(complaints, [], verify.stderr);

      phase("verified");
      for (const { mode, port } of MODES) {
        const name = `wk-${mode}`;
        // What the target's comment says to run.
        const enable = /^;\s+(systemctl enable --now .*)$/m.exec(units[mode]![`${name}.target`]!)?.[1];
        assert.ok(enable !== undefined, units[mode]![`${name}.target`]);
        await container.ok(enable.split(" "), { timeoutMs: 120_000 });
        const mainPid = async (i: number): Promise<string> => {
          let shown: Record<string, string> = {};
          for (let tries = 0; tries < 600; tries++) {
            shown = await container.show(`${name}@${i}.service`, ["ActiveState", "SubState", "MainPID"]);
            if (shown.ActiveState === "active" && shown.SubState === "running") return shown.MainPID!;
            await sleep(100);
          }
          assert.fail(
            `${name}@${i}.service: ${JSON.stringify(shown)}\n${await container.journal(`${name}@${i}.service`)}`,
          );
        };
        const pids = [await mainPid(0), await mainPid(1)];
        // The listening sockets on the port (proc(5), /proc/net/tcp: state 0A) and which worker holds which:
        // shared mode, one socket in both workers; reuseport, one each, its own.
        const tcp = await container.ok(["cat", "/proc/net/tcp"]);
        const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
        const listening = tcp.split("\n").map((line) => line.trim().split(/\s+/))
          .filter((f) => f[1]?.endsWith(hexPort) && f[3] === "0A").map((f) => f[9]!);
        assert.equal(listening.length, mode === "shared" ? 1 : 2, tcp);
        const held: string[][] = [];
        for (const pid of pids) {
          const fds = await container.ok(["sh", "-c", `for f in /proc/${pid}/fd/*; do readlink "$f"; done`]);
          held.push(listening.filter((inode) => fds.includes(`socket:[${inode}]`)));
          const environ = (await container.ok(["cat", `/proc/${pid}/environ`])).split("\0");
          assert.ok(environ.includes("LISTEN_FDS=1"), `pid ${pid} got one socket: ${environ.join(" ")}`);
          assert.ok(environ.includes(`HANDOVER_WORKERS=${mode}`), environ.join(" "));
        }
        if (mode === "shared") assert.deepEqual(held, [listening, listening], "one socket for both workers");
        else {
          assert.equal(held[0]!.length, 1, `worker 0 holds one of ${listening}`);
          assert.equal(held[1]!.length, 1, `worker 1 holds one of ${listening}`);
          assert.notEqual(held[0]![0], held[1]![0], "a socket of its own per worker");
        }

        // 6 clients, 4 of them with a new connection per request (spread over the workers), under rolling restarts.
        const stopFile = `/root/stop-${name}`;
        const load = container.exec([
          "/usr/bin/node",
          join(FIXTURES, "http_load.mjs"),
          JSON.stringify({
            port,
            durationMs: 120_000,
            stopFile,
            countBodies: true,
            // A request held 5 s by a worker that stalls is lost all the same, and the case stays short.
            requestTimeoutMs: 5_000,
            clients: [false, false, false, false, true, true].map((keepAlive) => ({ keepAlive })),
          }),
        ], { timeoutMs: 180_000 });
        await sleep(500);
        for (const i of [0, 1, 0, 1]) {
          await container.ok(["systemctl", "restart", `${name}@${i}.service`], { timeoutMs: 120_000 });
          await mainPid(i);
          await sleep(300);
        }
        await container.ok(["touch", stopFile]);
        const result = await load;
        const report = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as LoadReport;
        const journal = async () =>
          `${result.stdout}\n${result.stderr}\n${await container.journal(`${name}@0.service`)}\n${await container
            .journal(`${name}@1.service`)}`;
        // Asserted by the next cases (one per mode), so that both modes run in this one boot whatever one loses.
        console.log(`# ${RUNTIME} ${mode}: ${JSON.stringify(report)}`);
        reports.set(mode, { report, journal: report.failed > 0 ? await journal() : "" });
        assert.ok(report.ok > 50, result.stdout);
        // Both workers answered, each as its instance (WORKER_INDEX=%i), in every incarnation.
        const answered = new Map<string, Set<string>>();
        for (const body of Object.keys(report.bodies)) {
          const match = /^worker (\d+) pid (\d+)\n$/.exec(body);
          assert.ok(match, `unexpected body ${JSON.stringify(body)}`);
          answered.set(match[1]!, (answered.get(match[1]!) ?? new Set()).add(match[2]!));
        }
        assert.deepEqual([...answered.keys()].sort(), ["0", "1"], JSON.stringify(report.bodies));
        for (const [i, pid] of pids.entries()) {
          assert.ok(answered.get(String(i))!.has(pid), `worker ${i} (pid ${pid}) answered before its restart`);
        }
        assert.ok(answered.get("0")!.size >= 2 && answered.get("1")!.size >= 2, JSON.stringify(report.bodies));
        for (const i of [0, 1]) {
          const shown = await container.show(`${name}@${i}.service`, ["ActiveState", "Result"]);
          assert.deepEqual(shown, { ActiveState: "active", Result: "success" }, await journal());
        }
        // Every stop was a drain that ended in exit 0, not a kill.
        assert.doesNotMatch(await journal(), /SIGKILL|status=1\//);
        await container.ok(["systemctl", "stop", `${name}.target`]);
        // With every worker stopped, the sockets still listen, and a connection starts a worker (worker 0 through
        // the shared socket's Service=, in reuseport mode the worker whose socket the kernel picked).
        for (const i of [0, 1]) {
          // systemctl stop NAME.target can return while the workers (stopped through PartOf=) still drain.
          let state = "";
          for (let tries = 0; tries < 300 && state !== "inactive"; tries++) {
            state = (await container.show(`${name}@${i}.service`, ["ActiveState"])).ActiveState!;
            if (state !== "inactive") await sleep(100);
          }
          assert.equal(state, "inactive", `${name}@${i}.service`);
        }
        const woken = await container.ok(["curl", "-sS", "-m", "60", `http://127.0.0.1:${port}/`], {
          timeoutMs: 90_000,
        });
        const index = /^worker (\d) pid (\d+)\n$/.exec(woken);
        assert.ok(index, woken);
        if (mode === "shared") assert.equal(index[1], "0", woken);
        assert.equal(await mainPid(Number(index[1])), index[2], woken);
        await container.ok(["systemctl", "stop", `${name}.target`, `${name}@0.service`, `${name}@1.service`]);
        phase(`${mode} done`);
      }
    } finally {
      const all = MODES.flatMap(({ mode }) => [`wk-${mode}.target`, `wk-${mode}@0.service`, `wk-${mode}@1.service`]);
      await container.exec(["systemctl", "stop", "wk-multi.service", "wk-multi.socket", ...all]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

for (const { mode } of MODES) {
  it(
    `under systemd, ${mode} mode: restarting the 2 workers one at a time under load loses 0 requests`,
    { skip },
    () => {
      const entry = reports.get(mode);
      assert.ok(entry !== undefined, "the units ran under systemd (the case above)");
      assert.equal(entry.report.failed, 0, `${JSON.stringify(entry.report.errors)}\n${entry.journal}`);
    },
  );
}
