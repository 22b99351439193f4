// One chat conversation: the messages sent with every `localforge/chat` request, the answer
// streaming in from `$/progress` partial results, and the last finished answer, which the
// thumbs up/down commands rate. No `vscode` import.

import { ChatMessage, ChatParams, ChatResult } from "./protocol";

export interface AnswerMeta {
  requestId: string;
  model: string;
  taskType: string;
}

/**
 * The text a `$/progress` value adds to the answer. The server streams partial results;
 * accepted shapes: a string, `{text}`/`{delta}`/`{content}` (pieces to append), an array of
 * those, or work-done progress `{kind: "report", message}`. Work-done `begin`/`end` and
 * anything else (load progress, say) add nothing.
 */
export function progressText(value: unknown): string {
  if (typeof value === "string") {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map(progressText).join("");
  }
  if (!value || typeof value !== "object") {
    return "";
  }
  const v = value as Record<string, unknown>;
  if (v.kind === "begin" || v.kind === "report" || v.kind === "end") {
    return ""; // work-done progress: a note, not part of the answer
  }
  for (const key of ["delta", "text", "content", "token"]) {
    if (typeof v[key] === "string") {
      return v[key] as string;
    }
  }
  return "";
}

/** A work-done report worth showing while the answer has not started (e.g. a model loading). */
export function progressNote(value: unknown): string | undefined {
  if (!value || typeof value !== "object") {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (v.kind === "begin" || v.kind === "report") {
    const title = typeof v.title === "string" ? v.title : "";
    const message = typeof v.message === "string" ? v.message : "";
    const pct = typeof v.percentage === "number" ? ` ${Math.round(v.percentage)}%` : "";
    const note = [title, message].filter(Boolean).join(": ") + pct;
    return note || undefined;
  }
  return undefined;
}

export class ChatSession {
  private readonly messages: ChatMessage[] = [];
  private streaming: string | undefined;
  private last: AnswerMeta | undefined;

  /** Start a turn; returns the params of the `localforge/chat` request. */
  ask(question: string, model?: string): ChatParams {
    if (this.streaming !== undefined) {
      throw new Error("an answer is still streaming: stop it or wait for it");
    }
    this.messages.push({ role: "user", content: question });
    this.streaming = "";
    const params: ChatParams = { messages: this.messages.map((m) => ({ ...m })) };
    if (model) {
      params.model = model;
    }
    return params;
  }

  /** Append streamed text; returns the answer so far. */
  append(delta: string): string {
    if (this.streaming === undefined) {
      return "";
    }
    this.streaming += delta;
    return this.streaming;
  }

  /** The final result replaces what streamed (it is authoritative). */
  finish(result: ChatResult): AnswerMeta {
    const text = typeof result.text === "string" ? result.text : this.streaming ?? "";
    this.messages.push({ role: "assistant", content: text });
    this.streaming = undefined;
    this.last = {
      requestId: result.request_id ?? result.requestId ?? "",
      model: result.model ?? "",
      taskType: result.task_type ?? result.taskType ?? "",
    };
    return this.last;
  }

  /** The turn failed or was stopped: keep what streamed as the answer, if anything did. */
  abandon(): void {
    if (this.streaming) {
      this.messages.push({ role: "assistant", content: this.streaming });
    } else {
      this.messages.pop(); // the question had no answer: do not send it again
    }
    this.streaming = undefined;
  }

  reset(): void {
    this.messages.length = 0;
    this.streaming = undefined;
    this.last = undefined;
  }

  get busy(): boolean {
    return this.streaming !== undefined;
  }

  get answerSoFar(): string {
    return this.streaming ?? "";
  }

  get lastAnswer(): AnswerMeta | undefined {
    return this.last;
  }

  get history(): readonly ChatMessage[] {
    return this.messages;
  }
}
