// The chat panel: a webview that sends `localforge/chat` with the whole conversation and renders
// the answer as Markdown while it streams in as `$/progress` partial results.

import * as crypto from "crypto";
import * as vscode from "vscode";
import { BaseLanguageClient, ProgressType } from "vscode-languageclient/node";

import { AnswerMeta, ChatSession, progressNote, progressText } from "./chatSession";
import { escapeHtml, renderMarkdown } from "./markdown";
import { ChatResult, FeedbackKind, Requests } from "./protocol";

type FromWebview =
  | { type: "ask"; text: string }
  | { type: "stop" }
  | { type: "reset" }
  | { type: "feedback"; kind: FeedbackKind };

export interface ChatHost {
  client(): BaseLanguageClient | undefined;
  model(): string | undefined;
  feedback(kind: FeedbackKind, answer: AnswerMeta | undefined): Promise<void>;
  log: vscode.LogOutputChannel;
}

const RENDER_INTERVAL_MS = 50;

export class ChatPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly session = new ChatSession();
  private cancel: vscode.CancellationTokenSource | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly host: ChatHost) {}

  get lastAnswer(): AnswerMeta | undefined {
    return this.session.lastAnswer;
  }

  show(question?: string): void {
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(
        "localforge.chat",
        "LocalForge Chat",
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
        { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [] },
      );
      this.panel.webview.html = this.html(this.panel.webview);
      this.panel.onDidDispose(() => {
        this.cancel?.cancel();
        this.panel = undefined;
        this.session.reset();
      }, null, this.disposables);
      this.panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m), null, this.disposables);
    } else {
      this.panel.reveal();
    }
    if (question) {
      void this.ask(question);
    }
  }

  private post(message: Record<string, unknown>): void {
    void this.panel?.webview.postMessage(message);
  }

  private async onMessage(message: FromWebview): Promise<void> {
    switch (message.type) {
      case "ask":
        return this.ask(message.text);
      case "stop":
        this.cancel?.cancel();
        return;
      case "reset":
        this.cancel?.cancel();
        this.session.reset();
        this.post({ type: "cleared" });
        return;
      case "feedback":
        return this.host.feedback(message.kind, this.session.lastAnswer);
    }
  }

  async ask(question: string): Promise<void> {
    const text = question.trim();
    if (!text) {
      return;
    }
    const client = this.host.client();
    if (!client || !client.isRunning()) {
      this.post({ type: "error", message: "the LocalForge language server is not running (see LocalForge: Show Log)" });
      return;
    }
    if (this.session.busy) {
      this.post({ type: "error", message: "an answer is still streaming: stop it first" });
      return;
    }
    const params = this.session.ask(text, this.host.model());
    this.post({ type: "question", html: renderMarkdown(text) });
    this.post({ type: "answerStart" });
    const partialResultToken = `localforge-chat-${crypto.randomUUID()}`;
    const workDoneToken = `localforge-chat-work-${crypto.randomUUID()}`;
    let dirty = false;
    let pieces = 0;
    let timer: NodeJS.Timeout | undefined;
    const render = () => {
      timer = undefined;
      if (dirty) {
        dirty = false;
        this.post({ type: "answerUpdate", html: renderMarkdown(this.session.answerSoFar) });
      }
    };
    const progress = new ProgressType<unknown>();
    const subscriptions = [
      client.onProgress(progress, partialResultToken, (value) => {
        const delta = progressText(value);
        if (delta) {
          pieces++;
          this.session.append(delta);
          dirty = true;
          timer ??= setTimeout(render, RENDER_INTERVAL_MS);
        }
      }),
      client.onProgress(progress, workDoneToken, (value) => {
        const delta = progressText(value);
        const note = progressNote(value);
        if (delta) {
          this.session.append(delta);
          dirty = true;
          timer ??= setTimeout(render, RENDER_INTERVAL_MS);
        } else if (note && !this.session.answerSoFar) {
          this.post({ type: "note", text: note });
        }
      }),
    ];
    this.cancel = new vscode.CancellationTokenSource();
    try {
      const result = await client.sendRequest<ChatResult>(
        Requests.chat,
        { ...params, partialResultToken, workDoneToken },
        this.cancel.token,
      );
      if (timer) {
        clearTimeout(timer);
      }
      const meta = this.session.finish(result ?? { text: this.session.answerSoFar, model: "", request_id: "", task_type: "" });
      const answer = this.session.history[this.session.history.length - 1]?.content ?? "";
      this.host.log.info(
        `chat: ${meta.model || "?"} answered ${meta.requestId || "(no id)"} in ${pieces} streamed pieces, ${answer.length} characters`,
      );
      this.post({
        type: "answerDone",
        html: renderMarkdown(answer),
        meta: escapeHtml([meta.model, meta.taskType].filter(Boolean).join(" · ")),
        rateable: Boolean(meta.requestId),
      });
    } catch (error) {
      if (timer) {
        clearTimeout(timer);
      }
      const stopped = this.cancel?.token.isCancellationRequested;
      const soFar = this.session.answerSoFar;
      this.session.abandon();
      this.post({
        type: "answerFailed",
        html: renderMarkdown(soFar),
        message: stopped ? "stopped" : errorMessage(error),
      });
      if (!stopped) {
        this.host.log.error(`chat failed: ${errorMessage(error)}`);
      }
    } finally {
      subscriptions.forEach((s) => s.dispose());
      this.cancel?.dispose();
      this.cancel = undefined;
    }
  }

  dispose(): void {
    this.cancel?.cancel();
    this.panel?.dispose();
    this.disposables.forEach((d) => d.dispose());
  }

  private html(webview: vscode.Webview): string {
    const nonce = crypto.randomBytes(16).toString("base64");
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `script-src 'nonce-${nonce}'`,
      "img-src data:",
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 12px; }
  #log { padding-bottom: 9em; }
  .turn { margin: 10px 0; }
  .question { background: var(--vscode-editor-inactiveSelectionBackground); border-radius: 4px; padding: 4px 10px; }
  .answer { padding: 0 2px; }
  .meta { color: var(--vscode-descriptionForeground); font-size: 0.9em; display: flex; gap: 8px; align-items: center; }
  .error { color: var(--vscode-errorForeground); }
  pre { background: var(--vscode-textCodeBlock-background); padding: 8px; overflow-x: auto; }
  code { font-family: var(--vscode-editor-font-family); }
  #form { position: fixed; bottom: 0; left: 0; right: 0; padding: 8px 12px; background: var(--vscode-editor-background); display: flex; gap: 6px; }
  textarea { flex: 1; resize: vertical; min-height: 3em; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); font-family: inherit; }
  button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 10px; cursor: pointer; }
  button.small { background: transparent; color: var(--vscode-foreground); padding: 0 4px; }
</style></head>
<body>
<div id="log"></div>
<form id="form">
  <textarea id="input" placeholder="Ask LocalForge (Enter sends, Shift+Enter for a new line)"></textarea>
  <button type="submit" id="send">Send</button>
  <button type="button" id="stop" disabled>Stop</button>
  <button type="button" id="reset" title="Start a new conversation">New</button>
</form>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const input = document.getElementById('input');
  const stop = document.getElementById('stop');
  let answer;
  function turn(cls, html) {
    const div = document.createElement('div');
    div.className = 'turn ' + cls;
    div.innerHTML = html;
    log.appendChild(div);
    div.scrollIntoView({block: 'end'});
    return div;
  }
  function send() {
    const text = input.value.trim();
    if (!text) return;
    vscode.postMessage({type: 'ask', text});
    input.value = '';
  }
  document.getElementById('form').addEventListener('submit', (e) => { e.preventDefault(); send(); });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } });
  stop.addEventListener('click', () => vscode.postMessage({type: 'stop'}));
  document.getElementById('reset').addEventListener('click', () => vscode.postMessage({type: 'reset'}));
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m.type === 'question') { turn('question', m.html); }
    else if (m.type === 'answerStart') { answer = turn('answer', '<p class="meta">…</p>'); stop.disabled = false; }
    else if (m.type === 'note' && answer) { answer.innerHTML = '<p class="meta"></p>'; answer.firstChild.textContent = m.text; }
    else if (m.type === 'answerUpdate' && answer) { answer.innerHTML = m.html; answer.scrollIntoView({block: 'end'}); }
    else if (m.type === 'answerDone' && answer) {
      answer.innerHTML = m.html;
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.innerHTML = '<span>' + m.meta + '</span>';
      if (m.rateable) {
        for (const [kind, label] of [['thumbs_up', '👍'], ['thumbs_down', '👎']]) {
          const b = document.createElement('button');
          b.className = 'small'; b.textContent = label; b.title = kind.replace('_', ' ');
          b.addEventListener('click', () => { vscode.postMessage({type: 'feedback', kind}); meta.querySelectorAll('button').forEach(x => x.disabled = true); b.textContent += ' ✓'; });
          meta.appendChild(b);
        }
      }
      answer.appendChild(meta);
      answer = undefined; stop.disabled = true;
    }
    else if (m.type === 'answerFailed') {
      if (answer) { answer.innerHTML = m.html; const e = document.createElement('p'); e.className = 'error'; e.textContent = m.message; answer.appendChild(e); }
      answer = undefined; stop.disabled = true;
    }
    else if (m.type === 'error') { const e = turn('error', ''); e.textContent = m.message; }
    else if (m.type === 'cleared') { log.innerHTML = ''; answer = undefined; stop.disabled = true; }
  });
  input.focus();
</script>
</body></html>`;
  }
}

export function errorMessage(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}
