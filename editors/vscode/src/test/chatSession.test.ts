import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ChatSession, progressNote, progressText } from "../chatSession";

describe("chat session", () => {
  it("sends the whole conversation and keeps the final text as the answer", () => {
    const chat = new ChatSession();
    assert.deepEqual(chat.ask("hi"), { messages: [{ role: "user", content: "hi" }] });
    assert.equal(chat.append("Hel"), "Hel");
    assert.equal(chat.append("lo"), "Hello");
    const meta = chat.finish({ text: "Hello!", model: "m", request_id: "r1", task_type: "general" });
    assert.deepEqual(meta, { requestId: "r1", model: "m", taskType: "general" });
    assert.deepEqual(chat.ask("more", "coder"), {
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "more" },
      ],
      model: "coder",
    });
    assert.equal(chat.busy, true);
    assert.throws(() => chat.ask("again"), /still streaming/);
  });

  it("keeps what streamed when a turn is stopped, and drops a question with no answer", () => {
    const chat = new ChatSession();
    chat.ask("one");
    chat.append("partial");
    chat.abandon();
    chat.ask("two");
    chat.abandon();
    assert.deepEqual(chat.history, [
      { role: "user", content: "one" },
      { role: "assistant", content: "partial" },
    ]);
    assert.equal(chat.lastAnswer, undefined);
  });

  it("reads streamed pieces from the shapes partial results come in", () => {
    assert.equal(progressText("ab"), "ab");
    assert.equal(progressText({ text: "ab" }), "ab");
    assert.equal(progressText({ delta: "ab" }), "ab");
    assert.equal(progressText([{ text: "a" }, "b"]), "ab");
    assert.equal(progressText({ kind: "report", message: "loading", percentage: 40 }), "");
    assert.equal(progressText(null), "");
    assert.equal(progressNote({ kind: "report", title: "loading qwen", percentage: 40 }), "loading qwen 40%");
    assert.equal(progressNote("x"), undefined);
  });

  it("reads the final result's ids in camelCase too", () => {
    const chat = new ChatSession();
    chat.ask("hi");
    const meta = chat.finish({ text: "yo", model: "m", requestId: "r9", taskType: "coding" });
    assert.deepEqual(meta, { requestId: "r9", model: "m", taskType: "coding" });
  });
});
