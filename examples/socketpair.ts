// A parent hands one end of a socket pair to a child process at fd 3 and the
// two talk over it. Runs unchanged in Node (tsx), Deno and Bun:
//   node --import tsx examples/socketpair.ts
//   deno run -A examples/socketpair.ts
//   bun examples/socketpair.ts
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childStdio, close, detectRuntime, openSocketStream, socketpair } from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += decoder.decode(chunk);
  return text;
}

if (process.argv.includes("--child")) {
  // The child: fd 3 is our end of the pair.
  const channel = await openSocketStream(3);
  const question = await new Response(channel.readable).text();
  const writer = channel.writable.getWriter();
  await writer.write(encoder.encode(`child ${process.pid} (${detectRuntime()}) got "${question}"`));
  await writer.close();
} else {
  const [mine, theirs] = socketpair("stream");
  const script = fileURLToPath(import.meta.url);
  const argv = detectRuntime() === "deno"
    ? ["run", "-A", script, "--child"]
    : detectRuntime() === "node"
    ? ["--import", "tsx", script, "--child"]
    : [script, "--child"];
  const child = spawn(process.execPath, argv, { stdio: childStdio({ 3: theirs }) });
  close(theirs); // the child has its own copy now
  const channel = await openSocketStream(mine);
  const writer = channel.writable.getWriter();
  await writer.write(encoder.encode("hello over a socketpair"));
  await writer.close(); // the child sees end of stream
  console.log(`parent ${process.pid} (${detectRuntime()}) heard: ${await readAll(channel.readable)}`);
  await new Promise((resolve) => child.on("exit", resolve));
  await channel.close();
}
