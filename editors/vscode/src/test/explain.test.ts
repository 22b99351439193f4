import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { explainMarkdown } from "../explain";

const trace = {
  request_id: "r1",
  kind: "code",
  task_type: "coding",
  confidence: 0.91,
  weights: { benchmark: 0.4, memory: 0.3, latency: 0.15, feedback: 0.15 },
  candidates: [
    { model: "coder", final: 0.8, signals: { benchmark: 0.9, memory: 0.7, latency: 0.95, feedback: 0.5 }, resident: true },
    { model: "writer", final: 0.4, signals: { benchmark: 0.3, memory: 0.2, latency: 0.6, feedback: 0.5 }, resident: false },
  ],
  winner: "coder",
  reason: "highest final score",
  neighbours: 6,
  memory: "ok",
  timings_ms: { classify: 1.2, memory: 0.6 },
  cooling: [{ model: "broken", reason: "crashed 3 times" }],
};

describe("explain", () => {
  it("shows the task, the winner and every candidate's signals", () => {
    const md = explainMarkdown(trace);
    assert.match(md, /^# Why coder answered/);
    assert.match(md, /\*\*task\*\* coding \(confidence 0.91\)/);
    assert.match(md, /\| coder \*\*\(winner\)\*\* \| 0.800 \| 0.900 \| 0.700 \| 0.950 \| 0.500 \| yes \|/);
    assert.match(md, /\| writer \| 0.400 \|/);
    assert.match(md, /6 similar past request/);
    assert.match(md, /broken: crashed 3 times/);
    assert.match(md, /classify 1.2 ms/);
  });

  it("accepts the trace wrapped in {trace}", () => {
    assert.match(explainMarkdown({ trace }), /# Why coder answered/);
  });

  it("says so when there is no decision yet", () => {
    assert.match(explainMarkdown(null), /no decision yet/);
    assert.match(explainMarkdown({ message: "nothing routed in this window" }), /nothing routed/);
  });
});
