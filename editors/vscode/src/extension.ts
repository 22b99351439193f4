// LocalForge for VS Code: starts `lfd lsp` with vscode-languageclient, shows inline suggestions
// and reports what happened to them, a status bar item, chat, explain and feedback commands.

import * as vscode from "vscode";
import {
  ErrorCodes,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

import { AnswerMeta } from "./chatSession";
import { ChatPanel, errorMessage } from "./chatPanel";
import { explainMarkdown } from "./explain";
import { FALLBACK_CONTEXT_KEY, InlineSuggestionFeature } from "./inlineFeature";
import { LocalForgeClient } from "./localForgeClient";
import { ACCEPT_COMMAND, FeedbackKind, Notifications, Requests, ServerStatus, requestIdOf } from "./protocol";
import { resolveServer, ServerSettings } from "./serverCommand";
import { ClientPhase, describeStatus } from "./status";
import { Notifier, SuggestionTracker } from "./suggestions";

interface SelectionArg {
  text?: unknown;
  languageId?: unknown;
}

const SELECTOR = [{ scheme: "file" }, { scheme: "untitled" }];
const EXPLAIN_URI = vscode.Uri.parse("localforge-explain:/Last%20decision.md");

class Extension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private phase: ClientPhase = "starting";
  private problem: string | undefined;
  private serverStatus: ServerStatus | undefined;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly log: vscode.LogOutputChannel;
  private readonly tracker: SuggestionTracker;
  private readonly chat: ChatPanel;
  private explainText = explainMarkdown(undefined);
  private readonly explainChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly disposables: vscode.Disposable[] = [];
  private clientDisposables: vscode.Disposable[] = [];

  constructor() {
    // a plain output channel makes vscode-languageclient 11 fail at activation
    this.log = vscode.window.createOutputChannel("LocalForge", { log: true });
    this.statusItem = vscode.window.createStatusBarItem("localforge.status", vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = "LocalForge";
    this.statusItem.command = "localforge.chat";
    const notifier: Notifier = {
      notify: (method, params) => {
        const client = this.client;
        if (client?.isRunning()) {
          this.log.debug(`${method} ${JSON.stringify(params)}`);
          client.sendNotification(method, params).catch((e) => this.log.warn(`${method} failed: ${errorMessage(e)}`));
        }
      },
    };
    this.tracker = new SuggestionTracker(notifier);
    this.chat = new ChatPanel({
      client: () => this.client,
      model: () => this.settings().get<string>("chat.model") || undefined,
      feedback: (kind, answer) => this.feedback(kind, answer),
      log: this.log,
    });
    this.disposables.push(this.log, this.statusItem, this.chat, this.explainChanged);
    this.render();
    this.statusItem.show();
  }

  private settings(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration("localforge");
  }

  private completionEnabled(): boolean {
    return this.settings().get<boolean>("completion.enabled", true);
  }

  private render(): void {
    const view = describeStatus({
      phase: this.phase,
      server: this.serverStatus,
      completionEnabled: this.completionEnabled(),
      problem: this.problem,
    });
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.accessibilityInformation = { label: view.label };
    this.statusItem.backgroundColor = view.warning
      ? new vscode.ThemeColor("statusBarItem.warningBackground")
      : undefined;
  }

  registerCommands(): void {
    const command = (id: string, run: (...args: any[]) => unknown) =>
      this.disposables.push(vscode.commands.registerCommand(id, run));
    command("localforge.chat", () => this.chat.show());
    command("localforge.askSelection", (arg?: SelectionArg) => this.askSelection(arg));
    command("localforge.explain", () => this.explain());
    command("localforge.rateUp", () => this.feedback("thumbs_up", this.chat.lastAnswer));
    command("localforge.rateDown", () => this.feedback("thumbs_down", this.chat.lastAnswer));
    command("localforge.toggleCompletion", () => this.toggleCompletion());
    command("localforge.restartServer", () => this.restart());
    command("localforge.showLog", () => this.log.show());
    command("localforge.dismiss", async () => {
      this.tracker.dismissCurrent();
      await vscode.commands.executeCommand("editor.action.inlineSuggest.hide");
    });
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider("localforge-explain", {
        onDidChange: this.explainChanged.event,
        provideTextDocumentContent: () => this.explainText,
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("localforge.completion.enabled")) {
          this.render();
        }
        if (e.affectsConfiguration("localforge.server") || e.affectsConfiguration("localforge.completion.proposedApi")) {
          void vscode.window
            .showInformationMessage("LocalForge: the server settings changed.", "Restart the server")
            .then((choice) => (choice ? this.restart() : undefined));
        }
      }),
    );
  }

  async start(): Promise<void> {
    this.phase = "starting";
    this.problem = undefined;
    this.render();
    const config = this.settings();
    const settings: ServerSettings = {
      path: config.get<string>("server.path", "lfd"),
      args: config.get<string[]>("server.args", ["lsp"]),
      env: config.get<Record<string, string>>("server.env", {}),
    };
    const resolved = resolveServer(settings, process.env);
    if ("error" in resolved) {
      this.fail(resolved.error);
      return;
    }
    const serverOptions: ServerOptions = {
      command: resolved.command,
      args: resolved.args,
      transport: TransportKind.stdio,
      options: { env: resolved.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: SELECTOR,
      outputChannel: this.log,
      middleware: {
        executeCommand: (command, args, next) => {
          if (command === ACCEPT_COMMAND) {
            const id = requestIdOf({ command, arguments: args });
            if (id) {
              this.tracker.accepted(id);
            }
          }
          return next(command, args);
        },
      },
    };
    const client = new LocalForgeClient("localforge", "LocalForge", serverOptions, clientOptions);
    client.registerFeature(
      new InlineSuggestionFeature(client, {
        tracker: this.tracker,
        selector: SELECTOR,
        enabled: () => this.completionEnabled(),
        useProposedApi: config.get<boolean>("completion.proposedApi", true),
        log: this.log,
        onRegistered: (withHooks) =>
          void vscode.commands.executeCommand("setContext", FALLBACK_CONTEXT_KEY, !withHooks),
      }),
    );
    this.client = client;
    this.clientDisposables = [
      client.onNotification(Notifications.status, (status: ServerStatus) => {
        this.serverStatus = status;
        this.render();
      }),
      client.onDidChangeState((event) => {
        if (event.newState === State.Stopped && this.phase === "ready") {
          this.phase = "stopped";
          this.problem = "the language server stopped (LocalForge: Restart Language Server)";
          this.render();
        } else if (event.newState === State.Running && this.phase === "stopped") {
          this.phase = "ready"; // restarted by the client after a crash
          this.problem = undefined;
          this.render();
        }
      }),
    ];
    try {
      await client.start();
    } catch (error) {
      this.fail(`lfd lsp did not start: ${errorMessage(error)}. See LocalForge: Show Log.`);
      return;
    }
    this.ensureAcceptCommand(client);
    this.phase = "ready";
    this.render();
    this.log.info(`lfd lsp is running: ${resolved.command} ${resolved.args.join(" ")}`);
  }

  /** The server should offer `localforge.accept` as an executeCommand; if not, send it anyway. */
  private ensureAcceptCommand(client: LanguageClient): void {
    const commands = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    if (!commands.includes(ACCEPT_COMMAND)) {
      this.log.warn(`the server does not list ${ACCEPT_COMMAND}; the extension sends it itself`);
      this.clientDisposables.push(
        vscode.commands.registerCommand(ACCEPT_COMMAND, (...args: unknown[]) => {
          const id = requestIdOf({ command: ACCEPT_COMMAND, arguments: args });
          if (id) {
            this.tracker.accepted(id);
          }
          return client.sendRequest("workspace/executeCommand", { command: ACCEPT_COMMAND, arguments: args });
        }),
      );
    }
  }

  private fail(problem: string): void {
    this.phase = "failed";
    this.problem = problem;
    this.render();
    this.log.error(problem);
    void vscode.window.showErrorMessage(`LocalForge: ${problem}`, "Open Settings", "Show Log").then((choice) => {
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "localforge.server");
      } else if (choice === "Show Log") {
        this.log.show();
      }
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.tracker.dispose();
    this.clientDisposables.forEach((d) => d.dispose());
    this.clientDisposables = [];
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.log.warn(`stopping lfd lsp: ${errorMessage(error)}`);
      }
    }
  }

  private async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async toggleCompletion(): Promise<void> {
    const enabled = !this.completionEnabled();
    await this.settings().update("completion.enabled", enabled, vscode.ConfigurationTarget.Global);
    if (!enabled) {
      await vscode.commands.executeCommand("editor.action.inlineSuggest.hide");
    }
    this.render();
    void vscode.window.setStatusBarMessage(`LocalForge inline completion ${enabled ? "on" : "off"}`, 3000);
  }

  /** From the context menu, or from the server's code action with {uri, range, text, languageId}. */
  private askSelection(arg?: SelectionArg): void {
    let code = typeof arg?.text === "string" ? arg.text : "";
    let language = typeof arg?.languageId === "string" ? arg.languageId : "";
    const editor = vscode.window.activeTextEditor;
    if (!code && editor && !editor.selection.isEmpty) {
      code = editor.document.getText(editor.selection);
      language = editor.document.languageId;
    }
    if (!code.trim()) {
      void vscode.window.showInformationMessage("LocalForge: select some code first.");
      return;
    }
    this.chat.show(`Explain this ${language} code:\n\n\`\`\`${language}\n${code}\n\`\`\``);
  }

  private runningClient(): LanguageClient | undefined {
    if (this.client?.isRunning()) {
      return this.client;
    }
    void vscode.window.showErrorMessage(
      `LocalForge: the language server is not running${this.problem ? `: ${this.problem}` : ""}.`,
    );
    return undefined;
  }

  private async explain(): Promise<void> {
    const client = this.runningClient();
    if (!client) {
      return;
    }
    try {
      const trace = await client.sendRequest(Requests.explain, {});
      this.explainText = explainMarkdown(trace);
    } catch (error) {
      this.explainText = `# LocalForge: explain failed\n\n${errorMessage(error)}\n`;
    }
    this.explainChanged.fire(EXPLAIN_URI);
    const doc = await vscode.workspace.openTextDocument(EXPLAIN_URI);
    await vscode.languages.setTextDocumentLanguage(doc, "markdown");
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }

  private async feedback(kind: FeedbackKind, answer: AnswerMeta | undefined): Promise<void> {
    if (!answer?.requestId) {
      void vscode.window.showInformationMessage("LocalForge: no answer to rate yet: ask in LocalForge: Chat first.");
      return;
    }
    const client = this.runningClient();
    if (!client) {
      return;
    }
    try {
      try {
        await client.sendRequest(Requests.feedback, { requestId: answer.requestId, kind });
      } catch (error) {
        if ((error as { code?: number }).code !== ErrorCodes.MethodNotFound) {
          throw error;
        }
        // a server without localforge/feedback offers the same as commands
        const command = kind === "thumbs_up" ? "localforge.thumbsUp" : "localforge.thumbsDown";
        await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [answer.requestId] });
      }
      void vscode.window.setStatusBarMessage(
        `LocalForge: ${kind === "thumbs_up" ? "👍" : "👎"} recorded for ${answer.model || "the last answer"}`,
        4000,
      );
    } catch (error) {
      void vscode.window.showErrorMessage(`LocalForge: feedback failed: ${errorMessage(error)}`);
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

let extension: Extension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extension = new Extension();
  context.subscriptions.push(extension);
  extension.registerCommands();
  await extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
