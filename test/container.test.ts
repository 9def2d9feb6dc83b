import assert from "node:assert/strict";
import { it } from "node:test";
import { Container, containerSkip } from "./_container.ts";

it("the systemd container boots, runs a command and leaves the host unchanged", { skip: containerSkip() }, async () => {
  const container = await Container.boot("smoke");
  try {
    const version = await container.ok(["systemctl", "--version"]);
    assert.match(version, /^systemd 2\d\d/);
    const state = (await container.exec(["systemctl", "is-system-running"])).stdout.trim();
    assert.ok(["running", "degraded"].includes(state), state);
  } finally {
    const verdict = await container.stop();
    assert.doesNotMatch(verdict, /FAIL/);
  }
});
