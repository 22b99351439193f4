// Inline suggestions (ghost text) from `textDocument/inlineCompletion`, with the hooks that tell
// the server what the user did with them.
//
// vscode-languageclient's own inline completion feature registers a provider without VS Code's
// show / partial-accept / end-of-life hooks, and a middleware cannot add them: VS Code reads
// which hooks a provider has when it is registered. So this feature replaces the built-in one
// (see LocalForgeClient) and registers a provider that sends the same request through the
// client, converts the answer with the client's converters, and carries the hooks.
//
// The hooks belong to VS Code's `inlineCompletionsAdditions` API proposal. Where the proposal
// is not enabled for the extension (VS Code wants `--enable-proposed-api localforge.localforge`
// or the same key in argv.json; code-server enables proposals for every extension), registering
// hooks throws: the provider is registered without them and the tracker falls back to what the
// extension sees itself — a returned item counts as shown, Escape (bound while a suggestion is
// visible) dismisses it, an accept runs the item's command. The setting
// localforge.completion.proposedApi = false chooses the fallback on purpose.

import * as vscode from "vscode";
import {
  BaseLanguageClient,
  ClientCapabilities,
  FeatureState,
  InlineCompletionRequest,
  ServerCapabilities,
  StaticFeature,
} from "vscode-languageclient/node";

import { requestIdOf } from "./protocol";
import { EndReason, SuggestionTracker } from "./suggestions";

/** The provider hooks of the `inlineCompletionsAdditions` proposal (VS Code 1.100). */
interface ProposedHooks {
  handleDidShowCompletionItem?(item: vscode.InlineCompletionItem, updatedInsertText: string): void;
  handleDidPartiallyAcceptCompletionItem?(
    item: vscode.InlineCompletionItem,
    acceptedLengthOrInfo: number | { acceptedLength: number },
  ): void;
  handleEndOfLifetime?(
    item: vscode.InlineCompletionItem,
    reason: { kind: number; supersededBy?: vscode.InlineCompletionItem },
  ): void;
  handleDidRejectCompletionItem?(item: vscode.InlineCompletionItem): void;
}

const END_REASONS: Record<number, EndReason> = { 0: "accepted", 1: "rejected", 2: "ignored" };

export const FALLBACK_CONTEXT_KEY = "localforge.fallbackTracking";

export interface InlineFeatureOptions {
  tracker: SuggestionTracker;
  selector: vscode.DocumentSelector;
  enabled(): boolean;
  /** Whether to register the proposal's hooks at all (the localforge.completion.proposedApi setting). */
  useProposedApi: boolean;
  log: vscode.LogOutputChannel;
  /** Called once registered: with hooks (exact show/dismiss events) or without. */
  onRegistered?(withHooks: boolean): void;
}

export class InlineSuggestionFeature implements StaticFeature {
  private registration: vscode.Disposable | undefined;
  private hooks = false;

  constructor(
    private readonly client: BaseLanguageClient,
    private readonly options: InlineFeatureOptions,
  ) {}

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.textDocument ??= {};
    capabilities.textDocument.inlineCompletion = { dynamicRegistration: false };
  }

  getState(): FeatureState {
    return { kind: "static" };
  }

  initialize(capabilities: ServerCapabilities): void {
    this.clear();
    if (!capabilities.inlineCompletionProvider) {
      this.options.log.warn("the server does not offer inline completion (no inlineCompletionProvider)");
      return;
    }
    this.registration = this.register();
  }

  clear(): void {
    this.registration?.dispose();
    this.registration = undefined;
  }

  get withHooks(): boolean {
    return this.hooks;
  }

  private register(): vscode.Disposable {
    const { tracker, log } = this.options;
    const base: vscode.InlineCompletionItemProvider = {
      provideInlineCompletionItems: (document, position, context, token) =>
        this.provide(document, position, context, token),
    };
    const hooks: ProposedHooks = {
      handleDidShowCompletionItem: (item) => {
        const id = requestIdOf(item.command);
        if (id) {
          tracker.shown(id);
        }
      },
      handleDidPartiallyAcceptCompletionItem: (item, lengthOrInfo) => {
        const id = requestIdOf(item.command);
        const length = typeof lengthOrInfo === "number" ? lengthOrInfo : lengthOrInfo?.acceptedLength;
        if (id && typeof length === "number") {
          tracker.partiallyAccepted(id, length);
        }
      },
      handleEndOfLifetime: (item, reason) => {
        const id = requestIdOf(item.command);
        if (id) {
          const next = reason.supersededBy ? requestIdOf(reason.supersededBy.command) : undefined;
          tracker.ended(id, END_REASONS[reason.kind] ?? "ignored", next);
        }
      },
      handleDidRejectCompletionItem: (item) => {
        const id = requestIdOf(item.command);
        if (id) {
          tracker.dismissed(id);
        }
      },
    };
    let why = "localforge.completion.proposedApi is off";
    if (this.options.useProposedApi) {
      try {
        const disposable = vscode.languages.registerInlineCompletionItemProvider(this.options.selector, {
          ...base,
          ...hooks,
        } as vscode.InlineCompletionItemProvider);
        this.hooks = true;
        log.info("inline completion: registered with show/accept/dismiss hooks");
        this.options.onRegistered?.(true);
        return disposable;
      } catch (error) {
        why = `the inlineCompletionsAdditions proposal is not enabled: ${String(error)}`;
      }
    }
    log.info(`inline completion: ${why}; tracking shown suggestions from the provider instead`);
    const disposable = vscode.languages.registerInlineCompletionItemProvider(this.options.selector, base);
    this.hooks = false;
    this.options.onRegistered?.(false);
    return disposable;
  }

  private async provide(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined> {
    if (!this.options.enabled()) {
      return null;
    }
    const client = this.client;
    let items: vscode.InlineCompletionItem[] = [];
    try {
      const params = client.code2ProtocolConverter.asInlineCompletionParams(document, position, context);
      const result = await client.sendRequest(InlineCompletionRequest.type, params, token);
      if (token.isCancellationRequested) {
        return null;
      }
      const converted = await client.protocol2CodeConverter.asInlineCompletionResult(result, token);
      items = Array.isArray(converted) ? converted : (converted?.items ?? []);
    } catch (error) {
      return client.handleFailedRequest(InlineCompletionRequest.type, token, error, null);
    }
    const ids = items.map((item) => requestIdOf(item.command)).filter((id): id is string => !!id);
    for (const id of ids) {
      this.options.tracker.provided(id);
    }
    if (!this.hooks) {
      if (ids.length) {
        this.options.tracker.shown(ids[0]); // VS Code shows the first item
      } else {
        this.options.tracker.dismissCurrent(); // what was on screen is gone
      }
    }
    return items;
  }
}
