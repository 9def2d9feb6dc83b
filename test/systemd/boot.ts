// The shared container boots (test/systemd.test.ts runs this case first).
import assert from "node:assert/strict";
import { it } from "node:test";
import { containerSkip, sharedContainer } from "../_container.ts";

it("the systemd container boots and runs a command", { skip: containerSkip(), timeout: 300_000 }, async () => {
  const container = await sharedContainer();
  const version = await container.ok(["systemctl", "--version"]);
  assert.match(version, /^systemd 2\d\d/);
  const state = (await container.exec(["systemctl", "is-system-running"])).stdout.trim();
  assert.ok(["running", "degraded"].includes(state), state);
});
