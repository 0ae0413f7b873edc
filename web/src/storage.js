// Conversation persistence so a chat survives a page reload.
// Default is sessionStorage (kept across reloads of the tab, gone when the tab
// closes) because a medication chat on a shared computer is private; hosts may
// opt into localStorage with data-storage="local". Storage can be missing,
// full or tampered with, so every read is validated and every write may fail.

const MAX_MESSAGES = 200;
const MAX_TEXT = 5000;
const MAX_REPLIES = 10;

function pickStore(kind) {
  try {
    const store = kind === "local" ? window.localStorage : window.sessionStorage;
    const probe = "__bw_probe__";
    store.setItem(probe, "1");
    store.removeItem(probe);
    return store;
  } catch {
    return null; // private mode or blocked storage: keep the chat in memory only
  }
}

// Session ids are issued (and signed) by the server in session_confirm; "" until then.
const SESSION_ID = /^([A-Za-z0-9_-]{8,64})?$/;

/** Keep only well-formed quick replies: {title, payload} strings. */
export function cleanReplies(raw) {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((r) => r && typeof r.title === "string" && typeof r.payload === "string")
    .filter((r) => r.title.trim() !== "" && r.payload.trim() !== "")
    .slice(0, MAX_REPLIES)
    .map((r) => ({ title: r.title.slice(0, 80), payload: r.payload.slice(0, 500) }));
}

function cleanMessage(raw) {
  if (!raw || typeof raw.text !== "string") return null;
  if (raw.from !== "user" && raw.from !== "bot") return null;
  const ts = Number.isFinite(raw.ts) ? raw.ts : Date.now();
  return { from: raw.from, text: raw.text.slice(0, MAX_TEXT), ts, replies: cleanReplies(raw.replies) };
}

function emptyState() {
  return { sessionId: "", messages: [], open: false, started: false };
}

export class ConversationStore {
  constructor(key, kind) {
    this.key = key;
    this.store = pickStore(kind);
    this.state = this.load();
  }

  load() {
    if (!this.store) return emptyState();
    try {
      const raw = JSON.parse(this.store.getItem(this.key) || "null");
      if (!raw || typeof raw.sessionId !== "string" || !SESSION_ID.test(raw.sessionId)) {
        return emptyState();
      }
      const messages = Array.isArray(raw.messages) ? raw.messages.map(cleanMessage).filter(Boolean) : [];
      return {
        sessionId: raw.sessionId,
        messages: messages.slice(-MAX_MESSAGES),
        open: raw.open === true,
        started: raw.started === true,
      };
    } catch {
      return emptyState();
    }
  }

  save() {
    if (!this.store) return;
    try {
      this.state.messages = this.state.messages.slice(-MAX_MESSAGES);
      this.store.setItem(this.key, JSON.stringify(this.state));
    } catch {
      // Quota exceeded or storage revoked: the chat still works for this page view.
    }
  }

  addMessage(from, text, replies = []) {
    const message = { from, text: String(text).slice(0, MAX_TEXT), ts: Date.now(), replies: cleanReplies(replies) };
    this.state.messages.push(message);
    this.save();
    return message;
  }

  /** Quick replies are offered once: drop them when the user answers. */
  clearReplies() {
    for (const m of this.state.messages) m.replies = [];
    this.save();
  }

  reset() {
    this.state = { ...emptyState(), open: this.state.open };
    this.save();
  }
}
