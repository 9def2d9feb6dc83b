// The launcher demo: `handover --on-demand` holds a port, starts the demo
// server (examples/demo_server.ts) at the first request, shows its READY and
// STATUS notifications, and starts it again after it exits when idle. The
// launcher and the app run in the runtime that runs this file:
//   node --import tsx examples/cli_demo.ts      (npm run demo)
//   deno run -A examples/cli_demo.ts
//   bun examples/cli_demo.ts
// By hand, in a terminal:
//   node --import tsx cli.ts --on-demand -s web=http::8080 -- node --import tsx examples/demo_server.ts
import { spawn } from "node:child_process";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";
const run = (script: string) =>
  runtime === "deno"
    ? [process.execPath, "run", "-A", script]
    : runtime === "bun"
    ? [process.execPath, script]
    : [process.execPath, "--import", "tsx", script];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const [command, ...args] = run(join(root, "cli.ts"));
const launcher = spawn(command!, [
  ...args,
  "--on-demand",
  "-s",
  "web=http::0",
  "--",
  ...run(join(root, "examples", "demo_server.ts")),
], {
  stdio: ["ignore", "inherit", "pipe"],
  env: { ...process.env, NODE_EXTRA_CA_CERTS: "" },
});
let output = "";
launcher.stderr!.setEncoding("utf8");
launcher.stderr!.on("data", (text: string) => {
  output += text;
  process.stdout.write(text.replace(/^(?=.)/gm, "  launcher | "));
});

async function get(port: number): Promise<string> {
  return await new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, agent: false }, (response) => {
      let body = "";
      response.on("data", (d) => body += d);
      response.on("end", () => resolve(body.trim()));
    }).on("error", reject);
  });
}

let port = 0;
for (let i = 0; i < 200 && port === 0; i++) {
  port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1] ?? 0);
  await sleep(25);
}
console.log(`demo | nothing runs yet; first request to http://127.0.0.1:${port}/ …`);
await sleep(500);
for (let i = 0; i < 3; i++) {
  const started = performance.now();
  const body = await get(port);
  console.log(`demo | ${body} (${(performance.now() - started).toFixed(1)} ms)`);
  await sleep(300);
}
console.log("demo | waiting for the server's idle exit (5 s) …");
for (let i = 0; i < 100 && !/exited with code 0/.test(output); i++) await sleep(100);
console.log(`demo | ${await get(port)} (started again on demand)`);
await sleep(300);
process.kill(launcher.pid!, "SIGTERM");
await new Promise((resolve) => launcher.on("close", resolve));
