import { spawn } from "node:child_process";
import { once } from "node:events";
import { childStdio, close, openSocketStream, setNonBlocking, socketpair } from "../../mod.ts";

const [mine, theirs] = socketpair("stream"); // close-on-exec and non-blocking, as unix-socketpair's
setNonBlocking(theirs, false); // most programs expect blocking reads on what they inherit
// The child finds its end at fd 3 (here a shell that answers one line).
const child = spawn("sh", ["-c", 'read line <&3; echo "got $line" >&3'], { stdio: childStdio({ 3: theirs }) });
const exited = once(child, "exit");
close(theirs); // the child has its own copy
const channel = await openSocketStream(mine); // net.Socket in Node and Deno, Bun.connect in Bun
const writer = channel.writable.getWriter();
await writer.write(new TextEncoder().encode("hello\n"));
console.log((await new Response(channel.readable).text()).trim()); // "got hello", once the child ends
await exited;
