import assert from "node:assert/strict";
import { it } from "node:test";
import { Container, containerSkip, serviceCommand } from "./_container.ts";
import { RUNTIME } from "./_helpers.ts";

const serverName = { deno: "Deno.serve", bun: "Bun.serve", node: "node:http" }[RUNTIME];

it(
  `under systemd, a ${serverName} service behind a socket unit answers the first connection and no request fails across restarts`,
  { skip: containerSkip() },
  async () => {
    const container = await Container.boot(`serve-${RUNTIME}`);
    try {
      await container.installUnits({
        "web.socket": "[Socket]\nListenStream=127.0.0.1:8081\nFileDescriptorName=web\n",
        "web.service": "[Service]\n" +
          `ExecStart=${serviceCommand(RUNTIME, "test/fixtures/serve_adopt.ts", ["serve", "web"])}\n` +
          "Environment=HOME=/root\n",
      });
      await container.ok(["systemctl", "start", "web.socket"]);
      // The first connection starts the service (socket activation); it must be answered, not dropped.
      const first = await container.ok(["curl", "-sf", "-m", "30", "http://127.0.0.1:8081/first"]);
      assert.match(first, /^serve \d+ \/first$/, await container.journal("web.service"));
      const firstPid = first.split(" ")[1];
      // A client loops while the service restarts twice: the socket stays with systemd, so every
      // request waits in its queue instead of failing.
      const loop = container.exec([
        "sh",
        "-c",
        'ok=0; fail=0; for i in $(seq 1 60); do if curl -sf -m 20 -o /dev/null http://127.0.0.1:8081/l$i; then ok=$((ok+1)); else fail=$((fail+1)); fi; done; echo "$ok $fail"',
      ], { timeoutMs: 240_000 });
      for (let i = 0; i < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await container.ok(["systemctl", "restart", "web.service"]);
      }
      const result = await loop;
      assert.equal(
        result.stdout.trim(),
        "60 0",
        `${result.stdout}\n${result.stderr}\n${await container.journal("web.service")}`,
      );
      const last = await container.ok(["curl", "-sf", "-m", "30", "http://127.0.0.1:8081/last"]);
      assert.notEqual(last.split(" ")[1], firstPid, "the service was restarted");
      const shown = await container.show("web.service", ["ActiveState", "Result"]);
      assert.deepEqual(shown, { ActiveState: "active", Result: "success" });
    } finally {
      const verdict = await container.stop();
      assert.doesNotMatch(verdict, /FAIL/);
    }
  },
);
