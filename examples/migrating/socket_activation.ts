import net from "node:net";
import { collect } from "../../mod.ts";

// The same loop: collect() takes the fds of the socket named "app" (FileDescriptorName=, launchd's Sockets key).
for (const fd of collect("app")) {
  const server = net.createServer((conn) => conn.end("hello!\n"));
  server.on("error", (err) => {
    throw err;
  });
  server.listen({ fd }, () => console.log("Listening on", server.address()));
}
