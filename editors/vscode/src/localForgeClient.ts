// The language client, less its built-in inline completion feature: InlineSuggestionFeature
// replaces it with a provider that carries VS Code's show/accept/dismiss hooks. Both would
// otherwise ask the server for every keystroke.

import { DynamicFeature, InlineCompletionRequest, LanguageClient, StaticFeature } from "vscode-languageclient/node";

export class LocalForgeClient extends LanguageClient {
  // Called from the base constructor for the built-in features, so it must not use fields.
  override registerFeature(feature: StaticFeature | DynamicFeature<any>): void {
    const method = (feature as Partial<DynamicFeature<any>>).registrationType?.method;
    if (method === InlineCompletionRequest.method) {
      return;
    }
    super.registerFeature(feature);
  }
}
