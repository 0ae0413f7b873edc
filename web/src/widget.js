// Baclofen Assistant chat widget: one <script> tag, talks to Rasa's socket.io
// channel (session_persistence: true). Source of web/widget.js (built by
// `npm run build`; see web/README.md).
import { io } from "socket.io-client";
import css from "./widget.css";
import { messageKind, renderText, safeHref } from "./render.js";
import { ConversationStore, cleanReplies } from "./storage.js";

const UNAVAILABLE = "Assistant unavailable — please try again later. In an emergency call 911.";
const STATUS_TEXT = {
  online: "",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  unavailable: UNAVAILABLE,
};
const FAILURES_BEFORE_UNAVAILABLE = 3; // failed connection attempts
const UNAVAILABLE_AFTER_MS = 8000; // or this long without a connection
const RETRY_AFTER_MS = 10000; // when socket.io itself stops retrying
const REPLY_TIMEOUT_MS = 30000;
const REPLY_TOP_GAP_PX = 8; // room above the first bubble of a reply kept in view
const MAX_INPUT = 1000;

/** An http(s) data-server, absolute or relative to this page ("/" when a reverse proxy
 *  puts Rasa on the page's own origin); null when it is neither. */
function serverHref(raw) {
  try {
    return safeHref(new URL(raw, window.location.href).href);
  } catch {
    return null;
  }
}

/** Read settings from the embedding <script> tag's data-* attributes. */
function readConfig(script) {
  const data = (script && script.dataset) || {};
  const host = window.location.hostname || "localhost";
  const fallback = `${window.location.protocol === "https:" ? "https:" : "http:"}//${host}:5005`;
  let server = data.server ? serverHref(data.server) : fallback;
  if (!server) {
    console.warn("[baclofen-widget] data-server must be an http(s) URL or a path; using", fallback);
    server = fallback;
  }
  const origin = new URL(server).origin;
  return {
    origin,
    path: data.socketPath || "/socket.io",
    title: data.title || "Baclofen Assistant",
    initPayload: data.initPayload || "",
    storage: data.storage === "local" ? "local" : "session",
  };
}

/** Tiny element builder: h("button", {class: "x", onclick: f}, "text", child). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value != null) el.setAttribute(key, String(value));
  }
  for (const child of children) el.append(child);
  return el;
}

const ICONS = {
  chat: "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z",
  emergency: "M12 2 1 21h22L12 2zm-1 7h2v6h-2V9zm0 8h2v2h-2v-2z",
  info: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm-1 8h2v7h-2v-7zm0-4h2v2h-2V6z",
};

/** A decorative inline SVG icon (same look everywhere, unlike emoji fonts). */
function icon(name, className) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (className) svg.setAttribute("class", className);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}

// The bot marks emergency advice with 🚨 and the disclaimer with ℹ️; the widget
// shows its own icon instead, since not every device has an emoji font.
const KIND_MARK = /^\s*(?:\u{1F6A8}|\u2139\uFE0F?)\s*/u;

function formatTime(ts) {
  try {
    return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  } catch {
    return "";
  }
}

/** Turn a bot_uttered payload into {text, replies}, or null if nothing to show. */
function normaliseBotMessage(data) {
  if (typeof data === "string") return data.trim() ? { text: data, replies: [] } : null;
  if (!data || typeof data !== "object") return null;
  let text = typeof data.text === "string" ? data.text : "";
  const image = data.attachment && data.attachment.payload && data.attachment.payload.src;
  if (typeof image === "string" && safeHref(image)) text += `${text ? "\n" : ""}[Image](${image})`;
  const replies = cleanReplies(data.quick_replies || data.buttons);
  return text.trim() || replies.length ? { text, replies } : null;
}

class ChatWidget {
  constructor(config) {
    this.config = config;
    this.store = new ConversationStore(`baclofen-assistant:${config.origin}`, config.storage);
    this.socket = null;
    this.ready = false; // connected and session confirmed
    this.everReady = false;
    this.status = "connecting";
    this.failures = 0;
    this.unavailableTimer = null;
    this.replyTimer = null;
    this.retryTimer = null;
    this.lastStamp = ""; // sender + minute of the last rendered message
    this.lastTime = null; // its <time>, hidden on screen when the next one repeats it
    this.replyStart = null; // the first bubble of the reply now arriving
  }

  mount() {
    const host = h("div", { id: "baclofen-assistant-widget" });
    const root = host.attachShadow({ mode: "open" });
    this.addStyles(root);

    this.launcher = h(
      "button",
      {
        type: "button",
        class: "bw-launcher",
        "aria-expanded": "false",
        "aria-controls": "bw-panel",
        onclick: () => (this.panel.hidden ? this.open() : this.close()),
      },
      icon("chat"),
      h("span", {}, "Ask about baclofen"),
    );
    this.input = h("input", {
      id: "bw-input",
      class: "bw-input",
      type: "text",
      maxlength: MAX_INPUT,
      autocomplete: "off",
      placeholder: "Type your question…",
    });
    this.statusEl = h("p", { class: "bw-status", role: "status" });
    this.log = h("div", {
      class: "bw-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
      tabindex: "0",
    });
    this.typing = h(
      "div",
      { class: "bw-typing", hidden: true, title: "The assistant is typing" },
      h("span", { "aria-hidden": "true" }),
      h("span", { "aria-hidden": "true" }),
      h("span", { "aria-hidden": "true" }),
      h("span", { class: "bw-sr-only" }, "The assistant is typing"),
    );
    const form = h(
      "form",
      { class: "bw-composer", onsubmit: (e) => this.onSubmit(e) },
      h("label", { for: "bw-input", class: "bw-sr-only" }, "Your question about baclofen"),
      this.input,
      h("button", { type: "submit", class: "bw-send" }, "Send"),
    );
    this.panel = h(
      "section",
      {
        id: "bw-panel",
        class: "bw-panel",
        role: "dialog",
        "aria-labelledby": "bw-title",
        hidden: true,
      },
      h(
        "div",
        { class: "bw-header" },
        h("h2", { id: "bw-title", class: "bw-title" }, this.config.title),
        h("button", { type: "button", class: "bw-new", onclick: () => this.newConversation() }, "New conversation"),
        h(
          "button",
          { type: "button", class: "bw-close", "aria-label": "Close chat", onclick: () => this.close() },
          "×",
        ),
      ),
      h(
        "p",
        { class: "bw-notice" },
        "General information from checked sources, not personal medical advice. In an emergency call 911.",
      ),
      this.statusEl,
      this.log,
      this.typing,
      form,
    );

    root.append(this.panel, this.launcher);
    this.root = root;
    root.addEventListener("keydown", (e) => this.onKeydown(e));
    document.body.appendChild(host);

    for (const message of this.store.state.messages) this.renderMessage(message, false);
    if (this.store.state.open) this.open(false); // reopen after reload without stealing focus
  }

  addStyles(root) {
    // Constructed sheets also work under a strict style-src CSP; <style> is the fallback.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.appendChild(h("style", {}, css));
    }
  }

  // ---- open / close -------------------------------------------------------

  open(focus = true) {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    this.store.state.open = true;
    this.store.save();
    this.connect();
    this.scrollToEnd();
    if (focus) this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.store.state.open = false;
    this.store.save();
    this.launcher.focus();
  }

  onKeydown(event) {
    if (this.panel.hidden) return;
    if (event.key === "Escape") {
      event.stopPropagation();
      this.close();
    } else if (event.key === "Tab" && window.matchMedia("(max-width: 480px)").matches) {
      this.trapFocus(event); // full screen on phones: the page behind is hidden
    }
  }

  /** Keep Tab inside the panel while it covers the whole screen. */
  trapFocus(event) {
    const items = [...this.panel.querySelectorAll("button, input, [tabindex='0']")].filter(
      (el) => !el.disabled && el.getClientRects().length > 0,
    );
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = this.root.activeElement;
    if (event.shiftKey && (active === first || !this.panel.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !this.panel.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  // ---- connection ---------------------------------------------------------

  connect() {
    if (this.socket) return;
    this.setStatus("connecting");
    this.armUnavailableTimer();
    const socket = io(this.config.origin, {
      path: this.config.path,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: 5000,
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.failures = 0;
      // No id yet: the server issues one. A stored id continues that conversation if the
      // server signed it; otherwise the server confirms a fresh one.
      socket.emit("session_request", { session_id: this.store.state.sessionId || null });
    });
    socket.on("session_confirm", (data) => this.onSessionConfirm(data));
    socket.on("bot_uttered", (data) => this.onBotMessage(data));
    socket.on("disconnect", (reason) => this.onDisconnect(reason));
    socket.on("connect_error", () => this.onConnectError());
  }

  onSessionConfirm(data) {
    const id = typeof data === "string" ? data : data && data.session_id;
    if (typeof id === "string" && /^[A-Za-z0-9_-]{8,64}$/.test(id) && id !== this.store.state.sessionId) {
      this.store.state.sessionId = id;
      this.store.save();
    }
    const wasDown = this.status === "reconnecting" || this.status === "unavailable";
    this.ready = true;
    this.everReady = true;
    clearTimeout(this.unavailableTimer);
    this.unavailableTimer = null;
    this.setStatus("online", wasDown ? "Connected again." : "");
    if (!this.store.state.started) {
      this.store.state.started = true;
      this.store.save();
      // Optional opening message (e.g. "/greet") so the bot introduces itself.
      if (this.config.initPayload) this.emitMessage(this.config.initPayload);
    }
  }

  onDisconnect(reason) {
    this.ready = false;
    this.hideTyping();
    if (reason === "io client disconnect") return; // we asked for it (new conversation)
    if (reason === "io server disconnect") this.retryLater(); // socket.io will not retry itself
    if (this.status !== "unavailable") this.setStatus("reconnecting");
    this.armUnavailableTimer();
  }

  onConnectError() {
    this.ready = false;
    this.failures += 1;
    if (!this.socket.active) this.retryLater(); // refused by the server: retry slowly
    if (this.failures >= FAILURES_BEFORE_UNAVAILABLE) this.setStatus("unavailable");
    else if (this.status !== "unavailable") this.setStatus(this.everReady ? "reconnecting" : "connecting");
    this.armUnavailableTimer();
  }

  armUnavailableTimer() {
    if (this.unavailableTimer) return;
    this.unavailableTimer = setTimeout(() => {
      this.unavailableTimer = null;
      if (!this.ready) this.setStatus("unavailable");
    }, UNAVAILABLE_AFTER_MS);
  }

  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.socket && !this.socket.connected) this.socket.connect();
    }, RETRY_AFTER_MS);
  }

  setStatus(status, note = "") {
    this.status = status;
    this.statusEl.textContent = note || STATUS_TEXT[status];
    this.statusEl.classList.toggle("bw-status--unavailable", status === "unavailable");
    if (note) {
      setTimeout(() => {
        if (this.status === status && this.statusEl.textContent === note) this.statusEl.textContent = "";
      }, 4000);
    }
  }

  // ---- messages -----------------------------------------------------------

  onSubmit(event) {
    event.preventDefault();
    const text = this.input.value.trim();
    if (!text) return;
    if (this.send(text, text)) this.input.value = "";
  }

  /** Send payload to the bot, showing display as the user's bubble. */
  send(payload, display) {
    if (!this.ready) {
      this.statusEl.textContent = `${STATUS_TEXT[this.status] || UNAVAILABLE} Your message was not sent.`;
      return false;
    }
    this.removeReplies();
    this.renderMessage(this.store.addMessage("user", display), true);
    this.emitMessage(payload);
    return true;
  }

  emitMessage(payload) {
    this.socket.emit("user_uttered", { message: payload, session_id: this.store.state.sessionId });
    this.showTyping();
  }

  onBotMessage(data) {
    const message = normaliseBotMessage(data);
    if (!message) return;
    this.hideTyping();
    this.renderMessage(this.store.addMessage("bot", message.text, message.replies), true);
  }

  renderMessage(message, live) {
    const kind = message.from === "bot" ? messageKind(message.text) : "user";
    const who = message.from === "user" ? "You said:" : kind === "emergency" ? "Assistant, urgent:" : "Assistant said:";
    const bubble = h("div", { class: "bw-bubble" }, h("span", { class: "bw-sr-only" }, `${who} `));
    let text = message.text;
    if (kind === "emergency" || kind === "info") {
      bubble.appendChild(icon(kind, "bw-kind-icon"));
      text = text.replace(KIND_MARK, "");
    }
    bubble.appendChild(renderText(document, text));
    // A live emergency reply interrupts the screen reader; a restored one does not.
    if (kind === "emergency" && live) bubble.setAttribute("role", "alert");
    const label = formatTime(message.ts);
    const time = h("time", { class: "bw-time", datetime: new Date(message.ts).toISOString() }, label);
    // Several parts of one reply in the same minute: show the time once, under the last.
    if (this.lastTime && this.lastStamp === `${message.from} ${label}`) this.lastTime.classList.add("bw-time--repeat");
    this.lastStamp = `${message.from} ${label}`;
    this.lastTime = time;
    const item = h("div", { class: `bw-msg bw-msg--${message.from} bw-kind--${kind}` }, bubble, time);
    if (message.replies.length) item.appendChild(this.repliesGroup(message.replies));
    this.log.appendChild(item);
    if (message.from === "user" || !live) {
      this.replyStart = null; // the next bot message starts a new reply
      this.scrollToEnd();
      return;
    }
    if (!this.replyStart) this.replyStart = item;
    this.keepReplyInView();
  }

  /**
   * Show as much of the new reply as fits, from its first bubble: a reply taller than the
   * log (an emergency card, then the answer, then the disclaimer) must not push its first
   * bubble ("Call 911 now…") off the top.
   */
  keepReplyInView() {
    const first = this.replyStart;
    if (!first || !first.isConnected) {
      this.scrollToEnd();
      return;
    }
    const offset = first.getBoundingClientRect().top - this.log.getBoundingClientRect().top + this.log.scrollTop;
    const end = this.log.scrollHeight - this.log.clientHeight;
    this.log.scrollTop = Math.max(0, Math.min(offset - REPLY_TOP_GAP_PX, end));
  }

  repliesGroup(replies) {
    return h(
      "div",
      { class: "bw-replies", role: "group", "aria-label": "Suggested replies" },
      ...replies.map((reply) =>
        h(
          "button",
          {
            type: "button",
            class: "bw-reply",
            onclick: () => {
              if (this.send(reply.payload, reply.title)) this.input.focus();
            },
          },
          reply.title,
        ),
      ),
    );
  }

  removeReplies() {
    this.store.clearReplies();
    for (const group of this.log.querySelectorAll(".bw-replies")) group.remove();
  }

  addSystemNote(text) {
    this.log.appendChild(h("p", { class: "bw-system" }, text));
    this.scrollToEnd();
  }

  showTyping() {
    this.typing.hidden = false;
    clearTimeout(this.replyTimer);
    this.replyTimer = setTimeout(() => {
      this.hideTyping();
      this.addSystemNote("No reply yet. Please try again in a moment. In an emergency call 911.");
    }, REPLY_TIMEOUT_MS);
    this.scrollToEnd();
  }

  hideTyping() {
    this.typing.hidden = true;
    clearTimeout(this.replyTimer);
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  newConversation() {
    this.store.reset();
    this.log.replaceChildren();
    this.lastStamp = "";
    this.lastTime = null;
    this.replyStart = null;
    this.hideTyping();
    this.ready = false;
    if (this.socket) {
      // Reconnect so this socket leaves the old session's room on the server.
      this.socket.disconnect();
      this.socket.connect();
      this.setStatus("connecting", "New conversation started.");
      this.armUnavailableTimer();
    }
    this.input.value = "";
    this.input.focus();
  }
}

function start() {
  if (window.BaclofenAssistant) return; // the script tag was included twice
  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"][data-server]') || null;
  const widget = new ChatWidget(readConfig(script));
  window.BaclofenAssistant = {
    open: () => widget.open(),
    close: () => widget.close(),
    newConversation: () => widget.newConversation(),
  };
  const mount = () => widget.mount();
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
}

start();
