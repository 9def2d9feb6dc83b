import { serve } from "../../mod.ts";

// Run as `handover --on-demand -s web=8080 -- node autostart.ts`: the launcher holds port 8080 and starts this at
// the first connection, which waits in the socket's queue; no proxy in between. After 60 s without a request it
// exits, and the launcher starts it again at the next connection.
await serve(() => new Response("hello\n"), { name: "web", port: 8080, idleTimeout: 60 });
