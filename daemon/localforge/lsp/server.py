"""``lfd lsp``: the language server, a door onto the daemon for one editor window.

Thin handlers in the jedi-language-server manner: read the document, call the
``Session``, convert the answer to LSP types. Capabilities: inline completion
(LSP 3.18) with ``completion`` as the fallback, incremental sync, the commands
below and the ``localforge/*`` methods. stdout carries only LSP frames.

Editor → server (beyond LSP itself):
  localforge/didShow             {requestId}                  notification
  localforge/didPartiallyAccept  {requestId, acceptedLength}  notification (UTF-16 units)
  localforge/didReject           {requestId}                  notification
  localforge/didYank             {uri, text}                  notification (extra context)
  localforge/chat                {messages | text, model?, maxTokens?, partialResultToken?}
                                 → {text, model, requestId, taskType}; with a
                                 partialResultToken each piece comes first as
                                 $/progress {token, value: {delta}}
  localforge/explain             {requestId?} → the decision's trace
  localforge/status              {} → the status below
  localforge/feedback            {kind: thumbs_up | thumbs_down, requestId?} → the outcome
                                 (default: the last chat answer of this window)
Server → editor:
  localforge/status              {state, model, progress, mode, resident, degraded, text, detail}
Commands (workspace/executeCommand):
  localforge.accept [requestId]
Code action "Ask LocalForge about the selection" runs the client-side command
  localforge.askSelection [{uri, range, text, languageId}].
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from localforge import __version__
from localforge.lsp.documents import DocumentView, offset_at
from localforge.lsp.session import Served, Session, SessionError

log = logging.getLogger(__name__)

ACCEPT = "localforge.accept"
ASK_SELECTION = "localforge.askSelection"  # handled by the editor plugins
USER_ERROR = -32000  # an application error whose message says what to do

Notify = Callable[[str, Any], None]
TextOf = Callable[[str], "str | None"]
SessionFactory = Callable[[Any, Notify, TextOf], Session]


class LocalForgeServer(LanguageServer):
    session: Session | None = None
    # The client shows inline completions (its capabilities say so, or its plugin does in
    # initializationOptions {"inlineCompletion": true}): completion then answers nothing,
    # or every keystroke would ask the model twice and each request supersede the other.
    inline_client: bool = False


def build_server(make_session: SessionFactory) -> LocalForgeServer:
    """The server with every feature registered.

    ``make_session(initialization_options, notify, text_of)`` runs at ``initialize``.
    """
    server = LocalForgeServer(
        "localforge", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
    )

    def session() -> Session:
        if server.session is None:
            raise SessionError("the server is not initialized yet")
        return server.session

    def view(uri: str) -> DocumentView:
        document = server.workspace.get_text_document(uri)
        return DocumentView(uri, document.source, document.language_id, document.path)

    def text_of(uri: str) -> str | None:
        document = server.workspace.text_documents.get(uri)
        return None if document is None else document.source

    def notify(method: str, params: Any) -> None:
        if method == types.WINDOW_SHOW_MESSAGE:  # a typed LSP message: pygls wants its type
            message = types.ShowMessageParams(types.MessageType(params["type"]), params["message"])
            server.window_show_message(message)
        else:
            server.protocol.notify(method, params)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        document = params.capabilities.text_document
        options = params.initialization_options
        server.inline_client = bool(
            (document is not None and document.inline_completion is not None)
            or (isinstance(options, dict) and options.get("inlineCompletion"))
        )
        server.session = make_session(options, notify, text_of)

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        session().start()

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: Any) -> None:
        if server.session is not None:
            await server.session.stop()

    # --- documents ------------------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        session().opened(view(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        text = text_of(uri) or ""
        last = params.content_changes[-1] if params.content_changes else None
        if isinstance(last, types.TextDocumentContentChangePartial):
            start = offset_at(text, last.range.start.line, last.range.start.character)
            session().changed(uri, start + len(last.text), new_line="\n" in last.text)
        else:
            session().changed(uri, len(text))

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        session().saved(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        session().closed(params.text_document.uri)

    # --- completion -------------------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList | None:
        doc = view(params.text_document.uri)
        offset = offset_at(doc.text, params.position.line, params.position.character)
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        served = await session().complete(doc, offset, invoked=invoked)
        if served is None:
            return types.InlineCompletionList(items=[])
        return types.InlineCompletionList(items=[_inline_item(served, params.position)])

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "])
    )
    async def completion(params: types.CompletionParams) -> types.CompletionList:
        """For editors without inline completion: the suggestion as one completion item."""
        if server.inline_client:
            return types.CompletionList(is_incomplete=False, items=[])
        doc = view(params.text_document.uri)
        offset = offset_at(doc.text, params.position.line, params.position.character)
        invoked = (
            params.context is None
            or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        served = await session().complete(doc, offset, invoked=invoked)
        if served is None:
            return types.CompletionList(is_incomplete=True, items=[])
        return types.CompletionList(
            is_incomplete=True, items=[_completion_item(served, params.position)]
        )

    # --- feedback ---------------------------------------------------------------------

    @server.command(ACCEPT)
    def accept(*args: Any) -> None:
        request_id = _request_id(args[0] if args else None)
        if request_id:
            session().accepted(request_id)

    @server.feature("localforge/feedback")
    async def feedback(params: Any) -> dict[str, Any]:
        """Thumbs up or down on an answer (a request, not a command: editors keep their own
        command names, and a server command would clash with an extension's)."""
        kind = _field(params, "kind")
        if kind not in ("thumbs_up", "thumbs_down"):
            raise _user_error(
                SessionError("localforge/feedback needs kind 'thumbs_up' or 'thumbs_down'")
            )
        try:
            return await session().thumbs(kind == "thumbs_up", _request_id(params))
        except SessionError as exc:
            raise _user_error(exc) from exc

    @server.feature("localforge/didShow")
    def did_show(params: Any) -> None:
        request_id = _request_id(params)
        if request_id:
            session().shown(request_id)

    @server.feature("localforge/didReject")
    def did_reject(params: Any) -> None:
        request_id = _request_id(params)
        if request_id:
            session().rejected(request_id)

    @server.feature("localforge/didPartiallyAccept")
    def did_partially_accept(params: Any) -> None:
        request_id = _request_id(params)
        length = _field(params, "acceptedLength")
        if request_id and isinstance(length, int | float):
            session().partially_accepted(request_id, int(length))

    @server.feature("localforge/didYank")
    def did_yank(params: Any) -> None:
        uri, text = _field(params, "uri"), _field(params, "text")
        if isinstance(uri, str) and isinstance(text, str):
            session().yanked(uri, text)

    # --- chat, explain, status, code action -------------------------------------------

    @server.feature("localforge/chat")
    async def chat(params: Any) -> dict[str, Any]:
        messages = _field(params, "messages")
        text = _field(params, "text")
        if not messages:
            if not isinstance(text, str) or not text.strip():
                raise _user_error(SessionError("localforge/chat needs 'messages' or 'text'"))
            messages = [{"role": "user", "content": text}]
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
        ):
            raise _user_error(
                SessionError("localforge/chat: 'messages' must be a list of {role, content}")
            )
        token = _field(params, "partialResultToken")

        def on_delta(piece: str) -> None:
            if token is not None and piece:
                server.progress(types.ProgressParams(token=token, value={"delta": piece}))

        try:
            return await session().chat(
                [{"role": str(m.get("role")), "content": m["content"]} for m in messages],
                model=str(_field(params, "model") or "auto"),
                max_tokens=int(_field(params, "maxTokens") or 512),
                on_delta=on_delta,
            )
        except SessionError as exc:
            raise _user_error(exc) from exc

    @server.feature("localforge/explain")
    def explain(params: Any) -> dict[str, Any]:
        try:
            return session().explain(_request_id(params))
        except SessionError as exc:
            raise _user_error(exc) from exc

    @server.feature("localforge/status")
    async def status(params: Any) -> dict[str, Any]:
        return await session().refresh_status()

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions())
    def code_action(params: types.CodeActionParams) -> list[types.Command]:
        """A bare Command (LSP allows it): the plugin runs it, no edit comes from here."""
        selected = params.range
        if selected.start == selected.end:
            return []
        doc = view(params.text_document.uri)
        start = offset_at(doc.text, selected.start.line, selected.start.character)
        end = offset_at(doc.text, selected.end.line, selected.end.character)
        argument = {
            "uri": doc.uri,
            "range": server.protocol._converter.unstructure(selected),
            "text": doc.text[start:end],
            "languageId": doc.language_id,
        }
        return [
            types.Command("Ask LocalForge about the selection", ASK_SELECTION, arguments=[argument])
        ]

    return server


def _inline_item(served: Served, position: types.Position) -> types.InlineCompletionItem:
    request_id = served.suggestion.request_id
    return types.InlineCompletionItem(
        insert_text=served.text,
        range=types.Range(position, position),
        command=types.Command("Accept", ACCEPT, arguments=[request_id]),
    )


def _completion_item(served: Served, position: types.Position) -> types.CompletionItem:
    text = served.text
    first = text.split("\n", 1)[0].strip() or text.strip().split("\n", 1)[0]
    return types.CompletionItem(
        label=first[:60],
        kind=types.CompletionItemKind.Text,
        detail=f"LocalForge · {served.suggestion.model}",
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(types.Range(position, position), text),
        filter_text=first,
        sort_text="0",
        command=types.Command("Accept", ACCEPT, arguments=[served.suggestion.request_id]),
    )


def _plain(value: Any) -> Any:
    """Custom payloads arrive as pygls named tuples: make them dicts and lists again."""
    if hasattr(value, "_asdict"):
        return {key: _plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _field(params: Any, name: str) -> Any:
    if isinstance(params, dict):
        return _plain(params.get(name))
    return _plain(getattr(params, name, None))


def _request_id(value: Any) -> str | None:
    """A request id given bare (``"abc"``) or as ``{"requestId": "abc"}``."""
    if isinstance(value, str):
        return value or None
    found = _field(value, "requestId")
    return found if isinstance(found, str) and found else None


def _user_error(exc: SessionError) -> JsonRpcException:
    return JsonRpcException(str(exc), code=USER_ERROR)
