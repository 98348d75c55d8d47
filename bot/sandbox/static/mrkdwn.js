// Slack mrkdwn as DOM nodes (docs.slack.dev/messaging/formatting-message-text).
//
// SAFETY: this file never parses HTML. Every piece of text becomes a text node (document.createTextNode), every
// element is made with document.createElement, and the only attribute taken from a message is a link's href,
// set only after new URL() parsed it as http: or https:. Whatever a message holds (<script>, onerror=,
// javascript: links) therefore shows as the characters it is.
//
// Rules, in Slack's order: ``` code blocks ```, `inline code` and <control sequences> are read first and are never
// formatted inside; then *bold*, _italic_ and ~strike~ (markers at word edges, as Slack's client does); lines
// starting with > (or &gt;) are a quote; the entities &lt; &gt; &amp; are unescaped last, in text nodes, so escaped text
// never turns into a mention or a link.

const TOKENS = /```([\s\S]*?)```|`([^`\n]+)`|<([^<>\n]*)>/g;
const STYLES = [
  ["b", /(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/],
  ["i", /(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])/],
  ["s", /(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])/],
];
const MARK = 0xe000; // tokens stand in the text as private-use characters while styles are found
const MARKS = /[\ue000-\uf8ff]/g;
const MAX_TOKENS = 0xf8ff - MARK;
const BARE_URL = /\bhttps?:\/\/[^\s<>]+/g;
const QUOTE = /^(?:&gt;|>) ?/; // a quoted line: as an app sends it (>) or as Slack stores typed text (&gt;)
const BROADCASTS = { "!here": "@here", "!channel": "@channel", "!everyone": "@everyone" };

export function unescapeEntities(text) {
  return text.replace(/&(lt|gt|amp);/g, (_, name) => ({ lt: "<", gt: ">", amp: "&" })[name]);
}

// A link target the page may follow: http or https only (never javascript:, data:, vbscript:...).
export function safeUrl(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function link(url, label) {
  const safe = safeUrl(url);
  if (safe === null) return element("span", "unsafe-link", label);
  const a = element("a", "link", label);
  a.href = safe;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

// #name of a channel; the page opens it when clicked (data-channel)
export function channelLink(id, label, names) {
  const node = element("span", "channel-link", "#" + (names.channels[id] ?? (label || id)));
  node.dataset.channel = id;
  return node;
}

// `names`: {users: {U…: name}, channels: {C…: name}, usergroups: {S…: handle}}; `verbatim` (a text object's
// flag) leaves bare URLs as text.
export function mrkdwn(text, names, { verbatim = false } = {}) {
  const tokens = [];
  const marked = String(text ?? "")
    .replace(MARKS, "\ufffd")
    .replace(TOKENS, (whole, block, code, control) => {
      if (tokens.length >= MAX_TOKENS) return whole.replace(/[<>]/g, "");
      tokens.push({ block, code, control });
      return String.fromCharCode(MARK + tokens.length - 1);
    });
  const ctx = { tokens, names, autolink: !verbatim };
  const out = document.createDocumentFragment();
  const lines = marked.split("\n");
  for (let i = 0; i < lines.length; ) {
    if (QUOTE.test(lines[i])) {
      const quote = element("blockquote", "quote");
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(lines[i++].replace(QUOTE, ""));
      styled(quoted.join("\n"), ctx, quote);
      out.append(quote);
    } else {
      const plain = [];
      while (i < lines.length && !QUOTE.test(lines[i])) plain.push(lines[i++]);
      styled(plain.join("\n"), ctx, out);
    }
  }
  return out;
}

function styled(text, ctx, parent) {
  let rest = text;
  while (rest) {
    let first = null;
    for (const [tag, pattern] of STYLES) {
      const match = pattern.exec(rest);
      if (match && (first === null || match.index < first.match.index)) first = { tag, match };
    }
    if (first === null) break;
    plain(rest.slice(0, first.match.index), ctx, parent);
    const node = document.createElement(first.tag);
    styled(first.match[1], ctx, node);
    parent.append(node);
    rest = rest.slice(first.match.index + first.match[0].length);
  }
  plain(rest, ctx, parent);
}

function plain(text, { tokens, names, autolink }, parent) {
  let run = "";
  const flush = () => {
    const lines = unescapeEntities(run).split("\n");
    lines.forEach((line, n) => {
      if (n > 0) parent.append(document.createElement("br"));
      if (line) parent.append(autolink ? autolinked(line) : document.createTextNode(line));
    });
    run = "";
  };
  for (const char of text) {
    const index = char.charCodeAt(0) - MARK;
    if (index >= 0 && index < tokens.length) {
      flush();
      parent.append(token(tokens[index], names));
    } else {
      run += char;
    }
  }
  flush();
}

// Bare http(s) URLs become links, as Slack links them in mrkdwn that is not `verbatim`
// (docs.slack.dev/reference/block-kit/composition-objects/text-object: "verbatim ... URLs will be auto-converted
// into links"); a closing punctuation mark stays text.
function autolinked(line) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of line.matchAll(BARE_URL)) {
    const url = match[0].replace(/[.,;:!?)\]'"]+$/, "");
    out.append(document.createTextNode(line.slice(last, match.index)), link(url, url));
    last = match.index + url.length;
  }
  out.append(document.createTextNode(line.slice(last)));
  return out;
}

function token({ block, code, control }, names) {
  if (block !== undefined) return element("pre", "code-block", unescapeEntities(block.replace(/^\n|\n$/g, "")));
  if (code !== undefined) return element("code", "code", unescapeEntities(code));
  return controlSequence(control, names);
}

// <@U…>, <#C…|name>, <!subteam^S…>, <!here>, <!date^ts^format^link|fallback>, <url|label>
// (docs.slack.dev/messaging/formatting-message-text: "Mentioning users", "Linking to channels", "Mentioning groups",
// "Special mentions", "Date formatting", "Linking to URLs").
function controlSequence(body, names) {
  const bar = body.indexOf("|");
  const target = bar < 0 ? body : body.slice(0, bar);
  const label = bar < 0 ? null : unescapeEntities(body.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return element("span", "mention", "@" + (names.users[id] ?? label ?? id));
  }
  if (target.startsWith("#")) return channelLink(target.slice(1), label, names);
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    return element("span", "mention", "@" + (names.usergroups[id] ?? (label ? label.replace(/^@/, "") : id)));
  }
  if (target.startsWith("!date^")) return dateToken(target, label);
  if (BROADCASTS[target]) return element("span", "mention broadcast", BROADCASTS[target]);
  if (target.startsWith("!")) return document.createTextNode(label ?? target.slice(1));
  const url = unescapeEntities(target);
  return link(url, label || url);
}

function dateToken(target, fallback) {
  const [, seconds, format = "", url] = target.split("^");
  const when = Number(seconds);
  const text = Number.isFinite(when) && seconds !== "" ? formatDate(when, unescapeEntities(format)) : null;
  const shown = text ?? fallback ?? "";
  const node = url ? link(unescapeEntities(url), shown) : element("span", "date", shown);
  node.classList.add("date");
  if (text !== null) node.title = new Date(when * 1000).toString();
  return node;
}

// The date tokens of docs.slack.dev/reference/block-kit/block-elements/date-element ("Date format strings"), in
// the reader's own time zone; null when a token is unknown (then Slack shows the fallback).
export function formatDate(seconds, format) {
  const date = new Date(seconds * 1000);
  const now = new Date();
  const long = (opts) => date.toLocaleDateString("en-US", opts);
  const ordinalDay = ordinal(date.getDate());
  const month = long({ month: "long" });
  const dayName = long({ weekday: "long" });
  const dateText = `${month} ${ordinalDay}, ${date.getFullYear()}`;
  const relative = relativeDay(date, now);
  const tokens = {
    date_num: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
    date_slash: `${pad(date.getDate())}/${pad(date.getMonth() + 1)}/${date.getFullYear()}`,
    date: dateText,
    date_short: long({ month: "short", day: "numeric", year: "numeric" }),
    date_long: `${dayName}, ${dateText}`,
    date_long_full: long({ month: "long", day: "numeric", year: "numeric" }),
    date_pretty: relative ?? dateText,
    date_short_pretty: relative ?? long({ month: "short", day: "numeric", year: "numeric" }),
    date_long_pretty: relative ?? `${dayName}, ${dateText}`,
    day_divider_pretty:
      relative ?? (date.getFullYear() === now.getFullYear() ? `${dayName}, ${month} ${ordinalDay}` : `${dayName}, ${dateText}`),
    time: date.toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" }),
    time_secs: date.toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: ago(date, now),
  };
  let unknown = false;
  const text = format.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in tokens)) unknown = true;
    return tokens[name] ?? whole;
  });
  return unknown ? null : text;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th";
  return `${n}${suffix}`;
}

function relativeDay(date, now) {
  const day = (d) => Math.round(new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() / 86400000);
  return { 0: "Today", [-1]: "Yesterday", 1: "Tomorrow" }[day(date) - day(now)] ?? null;
}

function ago(date, now) {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  // the largest unit the distance nearly reaches: 59 min 59 s reads "in 1 hour", 20 hours stay hours
  const [unit, size] = units.find(([, size]) => Math.abs(seconds) >= 0.9 * size) ?? ["second", 1];
  return new Intl.RelativeTimeFormat("en", { numeric: "auto" }).format(Math.round(seconds / size), unit);
}
