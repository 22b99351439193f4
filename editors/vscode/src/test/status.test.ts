import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { describeStatus, percent } from "../status";

describe("status bar", () => {
  it("says starting until the client is ready", () => {
    const view = describeStatus({ phase: "starting", completionEnabled: true });
    assert.match(view.text, /sync~spin/);
    assert.equal(view.label, "LocalForge starting");
  });

  it("shows the model and CPU/GPU mode once ready", () => {
    const view = describeStatus({
      phase: "ready",
      completionEnabled: true,
      server: { model: "qwen-coder", state: "ready", mode: "gpu", degraded: [] },
    });
    assert.equal(view.text, "$(sparkle) LocalForge · qwen-coder · GPU");
    assert.equal(view.label, "LocalForge ready, model qwen-coder, GPU");
    assert.equal(view.warning, false);
  });

  it("shows load progress as a percentage from a fraction or a percentage", () => {
    assert.equal(percent(0.42), 42);
    assert.equal(percent(42), 42);
    assert.equal(percent(1), 100);
    assert.equal(percent(undefined), undefined);
    assert.equal(percent(null), undefined);
    const view = describeStatus({
      phase: "ready",
      completionEnabled: true,
      server: { model: "big", state: "loading", progress: 0.5, mode: "cpu" },
    });
    assert.equal(view.text, "$(sync~spin) LocalForge · big 50% · CPU");
    assert.match(view.tooltip, /loading 50%/);
  });

  it("warns about degraded models", () => {
    const view = describeStatus({
      phase: "ready",
      completionEnabled: true,
      server: { model: "a", mode: "cpu", degraded: ["b", { model: "c", reason: "cooling down" }] },
    });
    assert.match(view.text, /\$\(warning\) 2$/);
    assert.match(view.tooltip, /degraded: b; c: cooling down/);
    assert.equal(view.warning, true);
  });

  it("says when completion is off", () => {
    const view = describeStatus({ phase: "ready", completionEnabled: false });
    assert.match(view.text, /circle-slash/);
    assert.match(view.label, /completion off/);
    assert.match(view.tooltip, /Toggle Inline Completion/);
  });

  it("names the problem when the server failed", () => {
    const view = describeStatus({ phase: "failed", completionEnabled: true, problem: "'lfd' is not on PATH" });
    assert.match(view.label, /failed: 'lfd' is not on PATH/);
    assert.equal(view.warning, true);
  });

  it("says offline, with the daemon's words, when the server cannot reach the daemon", () => {
    const view = describeStatus({
      phase: "ready",
      completionEnabled: true,
      server: { state: "offline", model: null, mode: null, degraded: [], detail: "lfd is not running" },
    });
    assert.match(view.text, /debug-disconnect/);
    assert.match(view.label, /^LocalForge offline/);
    assert.match(view.tooltip, /lfd is not running/);
    assert.equal(view.warning, true);
  });
});
