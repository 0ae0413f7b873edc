// Safe rendering of bot and user text into DOM nodes.
// Message text is untrusted: it is only ever placed with createTextNode /
// textContent, never innerHTML. Supported markup is deliberately tiny:
// **bold**, line breaks, bullet lines ("- ", "* ", "• "), [label](url) links
// and bare http(s) URLs, and "Source: …" lines as a separate footer. Anything else
// stays literal text.

const MAX_TEXT = 5000; // longer messages are cut so one reply cannot freeze the page
const BULLET = /^\s*(?:[-*•])\s+/;
// The bot ends each answer with its source lines ("Source: [FDA label…](url), section.
// Reviewed 22 Nov 2026."): shown apart from the answer, smaller, as the answer's footer.
const SOURCE = /^\s*Source:\s+/;
// One pass over the inline tokens: **bold**, [label](url), bare URL.
const INLINE = /\*\*(.+?)\*\*|\[([^\]\n]{1,200})\]\(([^)\s]{1,2000})\)|(https?:\/\/[^\s<>()"']*[^\s<>()"'.,;:!?])/g;

/** Which visual kind a bot message is, from its first character. */
export function messageKind(text) {
  const start = String(text).trimStart();
  if (start.startsWith("🚨")) return "emergency";
  if (start.startsWith("ℹ")) return "info"; // "ℹ️" is U+2139 plus a variation selector
  return "normal";
}

/** The URL as a string if it is absolute http/https, otherwise null. */
export function safeHref(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function link(doc, href, label) {
  const a = doc.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = label;
  const hint = doc.createElement("span");
  hint.className = "bw-sr-only";
  hint.textContent = " (opens in a new tab)";
  a.appendChild(hint);
  return a;
}

/** Append inline-formatted text (bold, links) to parent. */
function appendInline(doc, parent, text, allowBold = true) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.appendChild(doc.createTextNode(text.slice(last, m.index)));
    const [whole, bold, label, target, bare] = m;
    if (bold !== undefined) {
      if (allowBold) {
        const strong = doc.createElement("strong");
        appendInline(doc, strong, bold, false);
        parent.appendChild(strong);
      } else {
        parent.appendChild(doc.createTextNode(whole));
      }
    } else if (label !== undefined) {
      const href = safeHref(target);
      // Unsafe targets (javascript:, data:, relative) are shown as plain text.
      parent.appendChild(href ? link(doc, href, label) : doc.createTextNode(whole));
    } else {
      const href = safeHref(bare);
      parent.appendChild(href ? link(doc, href, bare) : doc.createTextNode(bare));
    }
    last = m.index + whole.length;
  }
  if (last < text.length) parent.appendChild(doc.createTextNode(text.slice(last)));
}

function sourceBlock(doc) {
  const block = doc.createElement("footer");
  block.className = "bw-sources";
  return block;
}

/**
 * Render message text into a DocumentFragment of <p> and <ul> blocks.
 * Blank lines separate paragraphs; single newlines become <br>.
 */
export function renderText(doc, rawText) {
  let text = String(rawText ?? "");
  if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT) + "…";
  const frag = doc.createDocumentFragment();
  let para = null;
  let list = null;
  let sources = null;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (SOURCE.test(line)) {
      para = null;
      list = null;
      if (!sources) sources = frag.appendChild(sourceBlock(doc));
      const item = sources.appendChild(doc.createElement("p"));
      item.className = "bw-source";
      const label = item.appendChild(doc.createElement("span"));
      label.className = "bw-source-label";
      label.textContent = "Source: ";
      appendInline(doc, item, line.replace(SOURCE, ""), false);
      continue;
    }
    sources = null;
    if (line.trim() === "") {
      para = null;
      list = null;
    } else if (BULLET.test(line)) {
      para = null;
      if (!list) list = frag.appendChild(doc.createElement("ul"));
      const li = list.appendChild(doc.createElement("li"));
      appendInline(doc, li, line.replace(BULLET, ""));
    } else {
      list = null;
      if (para) para.appendChild(doc.createElement("br"));
      else para = frag.appendChild(doc.createElement("p"));
      appendInline(doc, para, line);
    }
  }
  return frag;
}
