// The last routing decision's trace (`localforge/explain`) as Markdown: the task, the winner
// and why, every candidate's four signals, and where the time went. No `vscode` import.

type Json = Record<string, unknown>;

function num(value: unknown, digits = 3): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function cell(value: unknown): string {
  return String(value ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");
}

const SIGNALS = ["benchmark", "memory", "latency", "feedback"] as const;

export function explainMarkdown(response: unknown): string {
  if (!response || typeof response !== "object") {
    return "# LocalForge: no decision yet\n\nAsk something (chat or a completion) first, then explain it.\n";
  }
  const wrapper = response as Json;
  const trace = (wrapper.trace && typeof wrapper.trace === "object" ? wrapper.trace : wrapper) as Json;
  if (!trace.winner && !trace.candidates) {
    const message = typeof wrapper.message === "string" ? wrapper.message : "the server has no decision to explain yet";
    return `# LocalForge: no decision yet\n\n${message}\n`;
  }
  const lines: string[] = [];
  lines.push(`# Why ${cell(trace.winner)} answered`);
  lines.push("");
  const task = trace.task_type ?? (trace.classification as Json | undefined)?.routed_task_type;
  lines.push(`- **request** \`${cell(trace.request_id)}\`${trace.kind ? ` (${cell(trace.kind)})` : ""}`);
  lines.push(`- **task** ${cell(task)} (confidence ${num(trace.confidence, 2)})`);
  if (trace.reason) {
    lines.push(`- **reason** ${cell(trace.reason)}`);
  }
  if (trace.forced) {
    lines.push("- the model was named in the request: no routing");
  }
  if (trace.fallback) {
    lines.push("- low confidence: the fallback on similar past queries decided");
  }
  if (typeof trace.neighbours === "number") {
    lines.push(`- **memory** ${trace.neighbours} similar past request(s)${trace.memory && trace.memory !== "ok" ? `: ${cell(trace.memory)}` : ""}`);
  }
  const weights = trace.weights as Json | undefined;
  if (weights) {
    lines.push(`- **weights** ${SIGNALS.map((s) => `${s} ${num(weights[s], 2)}`).join(", ")}`);
  }
  const candidates = Array.isArray(trace.candidates) ? (trace.candidates as Json[]) : [];
  if (candidates.length) {
    lines.push("");
    lines.push(`| model | final | ${SIGNALS.join(" | ")} | resident |`);
    lines.push(`|---|---|${SIGNALS.map(() => "---").join("|")}|---|`);
    for (const c of candidates) {
      const signals = (c.signals ?? {}) as Json;
      const mark = c.model === trace.winner ? " **(winner)**" : "";
      lines.push(
        `| ${cell(c.model)}${mark} | ${num(c.final)} | ${SIGNALS.map((s) => num(signals[s])).join(" | ")} | ${c.resident ? "yes" : "no"} |`,
      );
    }
  }
  const cooling = Array.isArray(trace.cooling) ? (trace.cooling as Json[]) : [];
  if (cooling.length) {
    lines.push("");
    lines.push("Left out while they cool down:");
    for (const c of cooling) {
      lines.push(`- ${cell(c.model)}: ${cell(c.reason)}`);
    }
  }
  const timings = trace.timings_ms as Json | undefined;
  if (timings && Object.keys(timings).length) {
    lines.push("");
    lines.push(`Timings: ${Object.entries(timings).map(([k, v]) => `${k} ${num(v, 1)} ms`).join(", ")}`);
  }
  lines.push("");
  return lines.join("\n");
}
