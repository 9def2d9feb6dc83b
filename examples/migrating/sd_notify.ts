import http from "node:http";
import { ready, startWatchdog, status } from "../../mod.ts";

const server = http.createServer((_request, response) => response.end("hello\n"));
server.listen(Number(process.env.PORT ?? 8080), "127.0.0.1", async () => {
  await ready(); // READY=1; false (and nothing sent) when not started by systemd
  await status(`listening on ${JSON.stringify(server.address())}`);
});
// WATCHDOG=1 at half of the unit's WatchdogSec= (WATCHDOG_USEC); null, and no timer, without one.
startWatchdog();
