import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Notifications } from "../protocol";
import { SuggestionTracker, Timers } from "../suggestions";

class FakeTimers implements Timers {
  now = 0;
  private next = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, timer] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at <= this.now) {
        this.pending.delete(id);
        timer.callback();
      }
    }
  }
  get count(): number {
    return this.pending.size;
  }
}

function tracker(rejectAfterMs = 10_000, capacity = 256) {
  const sent: Array<[string, unknown]> = [];
  const timers = new FakeTimers();
  const t = new SuggestionTracker({ notify: (m, p) => sent.push([m, p]) }, timers, rejectAfterMs, capacity);
  return { t, sent, timers };
}

describe("SuggestionTracker", () => {
  it("reports a suggestion once, the first time it is shown", () => {
    const { t, sent } = tracker();
    t.provided("a");
    assert.deepEqual(sent, []);
    t.shown("a");
    t.shown("a");
    assert.deepEqual(sent, [[Notifications.didShow, { requestId: "a" }]]);
    assert.equal(t.shownRequestId, "a");
  });

  it("sends nothing itself for a full accept: the item's command records it", () => {
    const { t, sent, timers } = tracker();
    t.shown("a");
    t.accepted("a");
    t.dismissed("a");
    timers.advance(20_000);
    assert.deepEqual(sent.map((s) => s[0]), [Notifications.didShow]);
    assert.equal(t.state("a"), "accepted");
  });

  it("rejects a shown suggestion the user dismisses, once", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.dismissCurrent();
    t.dismissed("a");
    assert.deepEqual(sent, [
      [Notifications.didShow, { requestId: "a" }],
      [Notifications.didReject, { requestId: "a" }],
    ]);
    assert.equal(t.shownRequestId, undefined);
  });

  it("never rejects a suggestion that was not shown", () => {
    const { t, sent } = tracker();
    t.provided("a");
    t.dismissed("a");
    t.ended("b", "rejected");
    assert.deepEqual(sent, []);
  });

  it("rejects a suggestion superseded by a different one", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.shown("b");
    assert.deepEqual(sent, [
      [Notifications.didShow, { requestId: "a" }],
      [Notifications.didReject, { requestId: "a" }],
      [Notifications.didShow, { requestId: "b" }],
    ]);
  });

  it("keeps a suggestion replaced by an item with the same request id (typed ahead)", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.ended("a", "ignored", "a");
    t.shown("a");
    assert.deepEqual(sent.map((s) => s[0]), [Notifications.didShow]);
    assert.equal(t.state("a"), "shown");
  });

  it("maps VS Code's end-of-life reasons", () => {
    const { t, sent } = tracker();
    t.shown("a");
    t.ended("a", "accepted");
    t.shown("b");
    t.ended("b", "ignored", "c");
    t.shown("d");
    t.ended("d", "rejected");
    assert.deepEqual(sent.map(([m, p]) => `${m.split("/")[1]} ${(p as { requestId: string }).requestId}`), [
      "didShow a",
      "didShow b",
      "didReject b",
      "didShow d",
      "didReject d",
    ]);
  });

  it("rejects a suggestion left on screen for 10 s without acceptance", () => {
    const { t, sent, timers } = tracker();
    t.shown("a");
    timers.advance(9_999);
    assert.equal(sent.length, 1);
    timers.advance(1);
    assert.deepEqual(sent[1], [Notifications.didReject, { requestId: "a" }]);
    t.dismissed("a");
    assert.equal(sent.length, 2);
    assert.equal(timers.count, 0);
  });

  it("an accept in time stops the 10 s timer", () => {
    const { t, sent, timers } = tracker();
    t.shown("a");
    timers.advance(5_000);
    t.accepted("a");
    timers.advance(10_000);
    assert.deepEqual(sent.map((s) => s[0]), [Notifications.didShow]);
    assert.equal(timers.count, 0);
  });

  it("reports partial accepts with the cumulative length, and the partial outcome stands", () => {
    const { t, sent, timers } = tracker();
    t.shown("a");
    t.partiallyAccepted("a", 4);
    t.partiallyAccepted("a", 4); // VS Code calls both hook signatures with the same length
    t.partiallyAccepted("a", 9);
    t.partiallyAccepted("a", 3);
    t.dismissed("a");
    timers.advance(20_000);
    assert.deepEqual(sent, [
      [Notifications.didShow, { requestId: "a" }],
      [Notifications.didPartiallyAccept, { requestId: "a", acceptedLength: 4 }],
      [Notifications.didPartiallyAccept, { requestId: "a", acceptedLength: 9 }],
    ]);
  });

  it("a partial accept of an item not yet seen as shown reports the show first", () => {
    const { t, sent } = tracker();
    t.provided("a");
    t.partiallyAccepted("a", 2);
    assert.deepEqual(sent.map((s) => s[0]), [Notifications.didShow, Notifications.didPartiallyAccept]);
  });

  it("forgets old suggestions but never the one on screen", () => {
    const { t, sent } = tracker(10_000, 3);
    t.shown("live");
    for (const id of ["p1", "p2", "p3", "p4", "p5"]) {
      t.provided(id);
    }
    assert.equal(t.state("p1"), undefined);
    assert.equal(t.state("live"), "shown");
    t.dismissCurrent();
    assert.deepEqual(sent.at(-1), [Notifications.didReject, { requestId: "live" }]);
  });

  it("dispose stops every timer", () => {
    const { t, sent, timers } = tracker();
    t.shown("a");
    t.dispose();
    timers.advance(20_000);
    assert.equal(timers.count, 0);
    assert.equal(sent.length, 1);
  });
});
