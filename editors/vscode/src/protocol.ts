// The LocalForge additions to LSP, as `lfd lsp` speaks them. No `vscode` import: the pure
// modules and their tests use these types in plain node.

export const ACCEPT_COMMAND = "localforge.accept";

export const Notifications = {
  didShow: "localforge/didShow",
  didPartiallyAccept: "localforge/didPartiallyAccept",
  didReject: "localforge/didReject",
  status: "localforge/status",
} as const;

export const Requests = {
  chat: "localforge/chat",
  explain: "localforge/explain",
  feedback: "localforge/feedback",
} as const;

export interface DidShowParams {
  requestId: string;
}

/** `acceptedLength` counts UTF-16 code units from the start of the item's insertText. */
export interface DidPartiallyAcceptParams {
  requestId: string;
  acceptedLength: number;
}

export interface DidRejectParams {
  requestId: string;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatParams {
  messages: ChatMessage[];
  model?: string;
}

/** The final chat result; servers may spell the ids in snake_case or camelCase. */
export interface ChatResult {
  text: string;
  model: string;
  request_id?: string;
  task_type?: string;
  requestId?: string;
  taskType?: string;
}

export type FeedbackKind = "thumbs_up" | "thumbs_down";

export interface FeedbackParams {
  requestId: string;
  kind: FeedbackKind;
}

/** The server's `localforge/status` notification. */
export interface ServerStatus {
  model?: string | null;
  state?: string;
  /** Load progress: a fraction in [0, 1] or a percentage; absent when nothing loads. */
  progress?: number | null;
  mode?: "cpu" | "gpu" | null;
  degraded?: Array<string | { model?: string; name?: string; reason?: string }>;
  /** A ready-made line and the daemon's own words, when the server sends them. */
  text?: string;
  detail?: string;
  message?: string;
}

/** The request id an inline item carries as the argument of its accept command. */
export function requestIdOf(command: { command: string; arguments?: unknown[] } | undefined): string | undefined {
  if (!command || command.command !== ACCEPT_COMMAND) {
    return undefined;
  }
  const first = command.arguments?.[0];
  if (typeof first === "string" && first.length > 0) {
    return first;
  }
  if (first && typeof first === "object") {
    const id = (first as { requestId?: unknown; request_id?: unknown }).requestId
      ?? (first as { request_id?: unknown }).request_id;
    return typeof id === "string" ? id : undefined;
  }
  return undefined;
}
