// The status bar item's text, tooltip and accessible label, from the client's state and the
// server's last `localforge/status`. No `vscode` import.

import { ServerStatus } from "./protocol";

export type ClientPhase = "starting" | "ready" | "stopped" | "failed";

export interface StatusView {
  text: string;
  tooltip: string;
  /** Read by screen readers, and by the real-editor test to know the client is ready. */
  label: string;
  warning: boolean;
}

export interface StatusInput {
  phase: ClientPhase;
  server?: ServerStatus;
  completionEnabled: boolean;
  /** Why the client failed or stopped, with the fix. */
  problem?: string;
}

/** Load progress as a whole percentage, from a fraction in [0, 1] or a percentage. */
export function percent(progress: number | null | undefined): number | undefined {
  if (progress === null || progress === undefined || !Number.isFinite(progress)) {
    return undefined;
  }
  const value = progress <= 1 ? progress * 100 : progress;
  return Math.max(0, Math.min(100, Math.round(value)));
}

function degradedNames(status: ServerStatus | undefined): string[] {
  return (status?.degraded ?? []).map((entry) =>
    typeof entry === "string"
      ? entry
      : [entry.model ?? entry.name ?? "?", entry.reason].filter(Boolean).join(": "),
  );
}

export function describeStatus(input: StatusInput): StatusView {
  const { phase, server, completionEnabled } = input;
  if (phase === "starting") {
    return {
      text: "$(sync~spin) LocalForge",
      tooltip: "LocalForge: starting lfd lsp…",
      label: "LocalForge starting",
      warning: false,
    };
  }
  if (phase === "failed" || phase === "stopped") {
    const problem = input.problem ?? "the language server is not running";
    return {
      text: "$(error) LocalForge",
      tooltip: `LocalForge: ${problem}`,
      label: `LocalForge ${phase}: ${problem}`,
      warning: true,
    };
  }
  const parts: string[] = [];
  const loading = percent(server?.progress);
  const state = server?.state ?? "ready";
  const model = server?.model ?? undefined;
  const mode = server?.mode?.toUpperCase();
  const degraded = degradedNames(server);
  const offline = state === "offline";
  let icon = completionEnabled ? "$(sparkle)" : "$(circle-slash)";
  if (offline) {
    icon = "$(debug-disconnect)";
  } else if (state === "loading" || loading !== undefined) {
    icon = "$(sync~spin)";
  }
  if (model) {
    parts.push(loading !== undefined ? `${model} ${loading}%` : model);
  } else if (loading !== undefined) {
    parts.push(`${loading}%`);
  }
  if (mode) {
    parts.push(mode);
  }
  if (degraded.length) {
    parts.push(`$(warning) ${degraded.length}`);
  }
  const text = [`${icon} LocalForge`, ...parts].join(" · ");
  const lines = [
    `LocalForge: ${state}${model ? `, model ${model}` : ""}${loading !== undefined ? ` (loading ${loading}%)` : ""}`,
    mode ? `running on the ${mode}` : undefined,
    completionEnabled ? "inline completion on" : "inline completion off (LocalForge: Toggle Inline Completion)",
    degraded.length ? `degraded: ${degraded.join("; ")}` : undefined,
    server?.detail,
    server?.message,
  ].filter((line): line is string => Boolean(line));
  return {
    text,
    tooltip: lines.join("\n"),
    label: `LocalForge ${offline ? "offline" : "ready"}${model ? `, model ${model}` : ""}${mode ? `, ${mode}` : ""}${completionEnabled ? "" : ", completion off"}`,
    warning: offline || degraded.length > 0,
  };
}
