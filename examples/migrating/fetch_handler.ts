import { serve } from "../../mod.ts";

// The handler `deno serve` or Bun.serve() took, on the socket named "web" when socket-activated, on port 8000
// when started directly; Deno.serve in Deno, Bun.serve in Bun, node:http in Node.
await serve((request) => new Response(`hello from ${new URL(request.url).pathname}\n`), { name: "web", port: 8000 });
