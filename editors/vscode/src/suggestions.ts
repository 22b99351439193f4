// What happened to each inline suggestion the user saw, told to the server as the notifications
// `localforge/didShow`, `localforge/didPartiallyAccept` and `localforge/didReject`.
//
// The rules (the server turns them into outcomes for its memory):
// - didShow once per request id, the first time its ghost text is on screen;
// - a full accept runs the item's `localforge.accept` command, which the server records; the
//   tracker only stops watching the suggestion;
// - a partial accept (next word / next line) sends the accepted length so far, and from then on
//   that partial outcome stands: a later dismissal is not a rejection;
// - a shown suggestion is rejected when the user dismisses it, when a different suggestion
//   replaces it, or when it has been on screen `rejectAfterMs` (10 s) without being accepted.
// The server ignores suggestions shown for less than 250 ms; the tracker reports them all.
//
// No `vscode` import, so the rules are tested in plain node.

import {
  DidPartiallyAcceptParams,
  DidRejectParams,
  DidShowParams,
  Notifications,
} from "./protocol";

export interface Notifier {
  notify(method: string, params: DidShowParams | DidPartiallyAcceptParams | DidRejectParams): void;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type SuggestionState = "provided" | "shown" | "partial" | "accepted" | "rejected";

/** Why a suggestion left the screen, as VS Code reports the end of an item's lifetime. */
export type EndReason = "accepted" | "rejected" | "ignored";

interface Entry {
  state: SuggestionState;
  acceptedLength: number;
  timer?: unknown;
}

export const REJECT_AFTER_MS = 10_000;

export class SuggestionTracker {
  private readonly entries = new Map<string, Entry>();
  private current: string | undefined;

  constructor(
    private readonly notifier: Notifier,
    private readonly timers: Timers = realTimers,
    private readonly rejectAfterMs: number = REJECT_AFTER_MS,
    private readonly capacity: number = 256,
  ) {}

  /** The server answered with this suggestion; it is not on screen yet. */
  provided(requestId: string): void {
    if (!this.entries.has(requestId)) {
      this.remember(requestId, { state: "provided", acceptedLength: 0 });
    }
  }

  /** Its ghost text is on screen. A different suggestion that was on screen is superseded. */
  shown(requestId: string): void {
    if (this.current !== undefined && this.current !== requestId) {
      this.dismissed(this.current);
    }
    let entry = this.entries.get(requestId);
    if (!entry) {
      entry = { state: "provided", acceptedLength: 0 };
      this.remember(requestId, entry);
    }
    if (entry.state !== "provided") {
      if (entry.state === "shown" || entry.state === "partial") {
        this.current = requestId;
      }
      return;
    }
    entry.state = "shown";
    this.current = requestId;
    this.notifier.notify(Notifications.didShow, { requestId });
    entry.timer = this.timers.setTimeout(() => this.expired(requestId), this.rejectAfterMs);
  }

  /** The user took the first `acceptedLength` UTF-16 units of the suggestion (cumulative). */
  partiallyAccepted(requestId: string, acceptedLength: number): void {
    const entry = this.entries.get(requestId);
    if (!entry || !Number.isFinite(acceptedLength) || acceptedLength <= entry.acceptedLength) {
      return;
    }
    if (entry.state === "accepted" || entry.state === "rejected") {
      return;
    }
    if (entry.state === "provided") {
      this.shown(requestId);
    }
    this.stopTimer(entry);
    entry.state = "partial";
    entry.acceptedLength = Math.floor(acceptedLength);
    this.notifier.notify(Notifications.didPartiallyAccept, {
      requestId,
      acceptedLength: entry.acceptedLength,
    });
  }

  /** The whole suggestion went in (its accept command reports that to the server). */
  accepted(requestId: string): void {
    const entry = this.entries.get(requestId) ?? { state: "provided", acceptedLength: 0 };
    this.stopTimer(entry);
    entry.state = "accepted";
    this.remember(requestId, entry);
    if (this.current === requestId) {
      this.current = undefined;
    }
  }

  /** The suggestion left the screen without being accepted. */
  dismissed(requestId: string): void {
    const entry = this.entries.get(requestId);
    if (this.current === requestId) {
      this.current = undefined;
    }
    if (!entry) {
      return;
    }
    this.stopTimer(entry);
    if (entry.state === "shown") {
      entry.state = "rejected";
      this.notifier.notify(Notifications.didReject, { requestId });
    } else if (entry.state === "partial") {
      entry.state = "accepted"; // the partial outcome stands; nothing more to report
    }
  }

  /** The user dismissed whatever suggestion is on screen (Escape). */
  dismissCurrent(): void {
    if (this.current !== undefined) {
      this.dismissed(this.current);
    }
  }

  /** VS Code ended an item's lifetime; `supersededBy` is the request id of its replacement. */
  ended(requestId: string, reason: EndReason, supersededBy?: string): void {
    if (reason === "accepted") {
      this.accepted(requestId);
    } else if (supersededBy !== requestId) {
      this.dismissed(requestId);
    }
  }

  state(requestId: string): SuggestionState | undefined {
    return this.entries.get(requestId)?.state;
  }

  get shownRequestId(): string | undefined {
    return this.current;
  }

  dispose(): void {
    for (const entry of this.entries.values()) {
      this.stopTimer(entry);
    }
    this.entries.clear();
    this.current = undefined;
  }

  private expired(requestId: string): void {
    const entry = this.entries.get(requestId);
    if (entry) {
      entry.timer = undefined;
      if (entry.state === "shown") {
        this.dismissed(requestId);
      }
    }
  }

  private stopTimer(entry: Entry): void {
    if (entry.timer !== undefined) {
      this.timers.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
  }

  private remember(requestId: string, entry: Entry): void {
    this.entries.delete(requestId);
    this.entries.set(requestId, entry);
    for (const [id, old] of this.entries) {
      if (this.entries.size <= this.capacity) {
        break;
      }
      if (id !== this.current && id !== requestId) {
        this.stopTimer(old);
        this.entries.delete(id);
      }
    }
  }
}
