// The README's demo: socket activation on this machine, as systemd does it. systemd-socket-activate
// (from the systemd package) binds 127.0.0.1:PORT, waits for the first connection and only then starts
// examples/serve.ts with the socket at fd 3; handover's serve() adopts it into the runtime's own server.
// The first request, made before the server existed, is answered; so are the next ones.
//   npm run demo            (Deno, Bun and Node in turn)
//   npm run demo -- bun     (one runtime)
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const server = join(root, "examples", "serve.ts");
const commands: Record<string, string[]> = {
  deno: [join(root, "node_modules", ".bin", "deno"), "run", "-A", server],
  bun: [join(root, "node_modules", ".bin", "bun"), server],
  node: [process.execPath, "--import", "tsx", server],
};

if (spawnSync("sh", ["-c", "command -v systemd-socket-activate"]).status !== 0) {
  console.error("systemd-socket-activate is missing: apt-get install systemd");
  process.exit(1);
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => socket.destroy(new Error("no answer in 20 s")), 20_000);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => text += d);
    socket.once("error", reject);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(text.split("\r\n\r\n").slice(1).join("").trim());
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  });
}

const port = 18000 + (process.pid % 1000);
const wanted = process.argv.slice(2);
for (const runtime of wanted.length > 0 ? wanted : ["deno", "bun", "node"]) {
  const command = commands[runtime];
  if (command === undefined) throw new Error(`Unknown runtime ${runtime}: use deno, bun or node`);
  console.log(`\n$ systemd-socket-activate --listen=127.0.0.1:${port} --fdname=web ${runtime} examples/serve.ts`);
  const child = spawn("systemd-socket-activate", [`--listen=127.0.0.1:${port}`, "--fdname=web", ...command], {
    stdio: ["ignore", "inherit", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (d) => {
    log += d;
    process.stderr.write(d);
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!log.includes("Listening on") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    console.log(
      `GET /first  -> ${await get(port, "/first")}   (${
        (performance.now() - started).toFixed(0)
      } ms, server started on demand)`,
    );
    for (const path of ["/second", "/third"]) console.log(`GET ${path} -> ${await get(port, path)}`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}
