// The sandbox page: a small Slack drawn from the emulator's state, which arrives over server-sent events
// (GET /page/events?as=U…) each time what the viewer sees changes. What the person does goes back as JSON posts
// (/page/send, /page/click, /page/submit, /page/close, /page/home_open, /page/home_click), which the emulator
// turns into the Socket Mode envelopes Slack would send. No HTML is ever parsed from data (see mrkdwn.js).

import { renderBlocks } from "./blocks.js";
import { askToConfirm, ModalLayer } from "./dialogs.js";
import { element, mrkdwn } from "./mrkdwn.js";

const $ = (id) => document.getElementById(id);
const ui = {
  viewer: sessionStorage.getItem("sandbox.as"),
  place: JSON.parse(sessionStorage.getItem("sandbox.place") ?? "null"), // {type: "channel", id} | {type: "app", tab}
  thread: null, // {channel, ts}
  state: null,
  source: null,
  modal: null, // the ModalLayer, made in setUp
  shownPlace: null,
  seen: {}, // viewer -> channel -> the newest ts they have seen there
  opened: null, // "viewer:tab" of the app tab last opened
};

// -- talking to the emulator -----------------------------------------------------------------------------------

function connect() {
  if (ui.source) ui.source.close();
  const query = ui.viewer ? `?as=${encodeURIComponent(ui.viewer)}` : "";
  const source = new EventSource(`/page/events${query}`);
  let received = false;
  source.addEventListener("state", (event) => {
    received = true;
    ui.state = JSON.parse(event.data);
    render();
  });
  source.addEventListener("error", () => {
    $("status").textContent = "Reconnecting to the sandbox…";
    $("status").className = "status offline";
    if (!received && ui.viewer) {
      ui.viewer = null; // a person of an earlier sandbox: start over as the first one
      sessionStorage.removeItem("sandbox.as");
      connect();
    }
  });
  ui.source = source;
}

async function post(action, body, errorBox) {
  if (errorBox) errorBox.textContent = "";
  let answer;
  try {
    const response = await fetch(`/page/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ as: ui.viewer, ...body }),
    });
    answer = await response.json();
  } catch {
    answer = { ok: false, error: "The sandbox did not answer." };
  }
  if (!answer.ok && errorBox) errorBox.textContent = answer.error ?? "That did not work.";
  return answer.ok === true;
}

// -- drawing ---------------------------------------------------------------------------------------------------

function render() {
  const state = ui.state;
  if (ui.viewer !== state.viewer) {
    ui.viewer = state.viewer;
    sessionStorage.setItem("sandbox.as", ui.viewer);
  }
  $("team").textContent = state.team;
  renderViewerPicker(state);
  const channels = state.channels;
  if (!ui.place || (ui.place.type === "channel" && !channels.some((c) => c.id === ui.place.id))) {
    const first = channels.find((c) => c.name === "general") ?? channels[0];
    ui.place = first ? { type: "channel", id: first.id } : { type: "app", tab: "home" };
  }
  markRead(state);
  renderNav(state);
  $("status").textContent = state.connected ? `${state.bot.name} is connected` : `${state.bot.name} is not connected`;
  $("status").className = state.connected ? "status online" : "status offline";
  openApp(state);
  renderMain(state);
  renderThread(state);
  ui.modal.show(state.modal, state.names);
  document.body.dataset.viewer = state.viewer;
  document.body.dataset.ready = "1";
}

function renderViewerPicker(state) {
  const select = $("viewer");
  const wanted = state.people.map((p) => `${p.id}:${p.name}`).join(",");
  if (select.dataset.people !== wanted) {
    select.replaceChildren(...state.people.map((p) => Object.assign(element("option", "", p.name), { value: p.id })));
    select.dataset.people = wanted;
  }
  select.value = state.viewer;
}

// The newest message (or reply) of a conversation, for the sidebar's unread marks.
function latest(channel) {
  let newest = 0;
  for (const message of channel?.messages ?? []) {
    for (const m of [message, ...(message.replies ?? [])]) newest = Math.max(newest, Number(m.ts));
  }
  return newest;
}

// Unread: something arrived in a conversation since the viewer last had it open (what was there when the page
// loaded counts as read).
function unread(channel) {
  return latest(channel) > (ui.seen[ui.state.viewer][channel.id] ?? 0);
}

function markRead(state) {
  ui.seen[state.viewer] ??= Object.fromEntries(state.channels.map((c) => [c.id, latest(c)]));
  const channel = currentChannel(state);
  if (channel) ui.seen[state.viewer][channel.id] = latest(channel);
}

function navButton(label, active, onClick, name, isUnread = false) {
  const button = element("button", `nav-item${active ? " active" : ""}${isUnread && !active ? " unread" : ""}`, label);
  button.type = "button";
  button.dataset.nav = name;
  button.addEventListener("click", onClick);
  return button;
}

function renderNav(state) {
  const nav = $("nav");
  const rooms = state.channels.filter((c) => c.kind !== "im");
  const here = ui.place;
  const items = [element("div", "nav-section", "Channels")];
  for (const channel of rooms) {
    const prefix = channel.kind === "private" ? "⊘ " : "# ";
    const active = here.type === "channel" && here.id === channel.id;
    const open = () => go({ type: "channel", id: channel.id });
    items.push(navButton(prefix + channel.name, active, open, channel.name, unread(channel)));
  }
  const dm = state.channels.find((c) => c.kind === "im");
  if (dm) {
    // the bot's DM with the viewer (once the bot opened it): its Messages tab, as in Slack
    items.push(element("div", "nav-section", "Direct messages"));
    const reading = here.type === "app" && here.tab === "messages";
    items.push(navButton(state.bot.name, reading, () => go({ type: "app", tab: "messages" }), "dm", unread(dm)));
  }
  items.push(element("div", "nav-section", "Apps"));
  const home = here.type === "app" && here.tab === "home";
  items.push(navButton(state.bot.name, home, () => go({ type: "app", tab: "home" }), "app"));
  nav.replaceChildren(...items);
}

function go(place) {
  ui.place = place;
  sessionStorage.setItem("sandbox.place", JSON.stringify(place));
  if (ui.thread && (place.type !== "channel" || place.id !== ui.thread.channel)) ui.thread = null;
  $("composer-error").textContent = "";
  ui.opened = null;
  render();
}

// Opening the app's Home or Messages tab is something Slack tells the app of (app_home_opened), once per visit.
function openApp(state) {
  const visit = ui.place.type === "app" ? `${state.viewer}:${ui.place.tab}` : null;
  if (visit === ui.opened) return;
  ui.opened = visit;
  if (visit) post("home_open", { tab: ui.place.tab }, $("composer-error"));
}

function currentChannel(state) {
  const place = ui.place;
  if (place.type === "channel") return state.channels.find((c) => c.id === place.id) ?? null;
  if (place.type === "app" && place.tab === "messages") return state.channels.find((c) => c.kind === "im") ?? null;
  return null;
}

function renderMain(state) {
  const box = $("messages");
  const placeKey = JSON.stringify(ui.place);
  const stick = placeKey !== ui.shownPlace || box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const channel = currentChannel(state);
  renderTabs(state);
  if (ui.place.type === "app") {
    $("title").textContent = state.bot.name;
  } else {
    $("title").textContent = (channel?.kind === "private" ? "⊘ " : "# ") + (channel?.name ?? "");
  }
  if (ui.place.type === "app" && ui.place.tab === "home") {
    box.replaceChildren(homeView(state));
    $("composer").hidden = true;
  } else if (channel === null) {
    box.replaceChildren(element("div", "empty", `${state.bot.name} has not written to you yet.`));
    $("composer").hidden = true;
  } else {
    const nodes = channel.messages.map((m) => messageNode(m, channel, state, false));
    box.replaceChildren(...(nodes.length ? nodes : [element("div", "empty", "No messages yet.")]));
    $("composer").hidden = channel.archived;
    $("box").placeholder = channel.kind === "im" ? `Message ${state.bot.name}` : `Message #${channel.name}, or /agent-task …`;
    renderHints(state, channel);
  }
  if (stick) box.scrollTop = box.scrollHeight;
  ui.shownPlace = placeKey;
}

function renderTabs(state) {
  const tabs = $("tabs");
  if (ui.place.type !== "app") {
    tabs.replaceChildren();
    return;
  }
  const tab = (name, label) => {
    const button = element("button", ui.place.tab === name ? "tab active" : "tab", label);
    button.type = "button";
    button.setAttribute("role", "tab");
    button.dataset.tab = name;
    button.addEventListener("click", () => go({ type: "app", tab: name }));
    return button;
  };
  tabs.replaceChildren(tab("home", "Home"), tab("messages", "Messages"));
}

function renderHints(state, channel) {
  const hints = channel.kind === "im" ? [] : state.hints.length ? state.hints : ["/agent-task help"];
  const chips = hints.map((hint) => {
    const chip = element("button", "hint", hint);
    chip.type = "button";
    chip.addEventListener("click", () => {
      $("box").value = hint;
      $("box").focus();
    });
    return chip;
  });
  $("hints").replaceChildren(...(chips.length ? [element("span", "hints-label", "Try:"), ...chips] : []));
}

function homeView(state) {
  if (!state.home) {
    return element("div", "empty", `${state.bot.name} has not published a Home tab for you yet.`);
  }
  const ctx = {
    names: state.names,
    confirm,
    press: (button, block) =>
      post("home_click", { action_id: button.action_id, value: button.value, block_id: block.block_id }, $("composer-error")),
  };
  return Object.assign(renderBlocks(state.home.blocks, ctx), { className: "blocks home" });
}

function messageNode(message, channel, state, inThread) {
  const node = element("div", message.ephemeral ? "message ephemeral" : "message");
  node.dataset.ts = message.ts;
  const initial = (message.user_name || "?").slice(0, 1).toUpperCase();
  const avatar = element("div", `avatar hue-${hue(message.user)}`, initial);
  const body = element("div", "message-body");
  const meta = element("div", "meta");
  meta.append(element("span", "author", message.user_name));
  if (message.is_bot) meta.append(element("span", "badge", "APP"));
  meta.append(element("span", "time", clock(message.ts)));
  if (message.edited) meta.append(element("span", "edited", "(edited)"));
  body.append(meta);
  const ctx = {
    names: state.names,
    confirm,
    press: (button) =>
      post("click", { channel: channel.id, ts: message.ts, action_id: button.action_id, value: button.value }, errorBox(inThread)),
  };
  const content = element("div", "content");
  content.append(message.blocks?.length ? renderBlocks(message.blocks, ctx) : mrkdwn(message.text, state.names));
  body.append(content);
  for (const file of message.files ?? []) body.append(element("div", "file", `File: ${file}`));
  if (message.ephemeral) body.append(element("div", "ephemeral-note", "Only visible to you"));
  if (!inThread && !message.ephemeral) {
    const count = message.reply_count ?? 0;
    const label = count ? `${count} ${count === 1 ? "reply" : "replies"}` : "Reply in thread";
    const open = element("button", count ? "replies" : "replies quiet", label);
    open.type = "button";
    open.addEventListener("click", () => {
      ui.thread = { channel: channel.id, ts: message.ts };
      render();
      $("thread-box").focus();
    });
    body.append(open);
  }
  node.append(avatar, body);
  return node;
}

function errorBox(inThread) {
  return inThread ? $("thread-error") : $("composer-error");
}

function renderThread(state) {
  const pane = $("thread");
  const channel = ui.thread ? state.channels.find((c) => c.id === ui.thread.channel) : null;
  const parent = channel?.messages.find((m) => m.ts === ui.thread.ts);
  if (!parent) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  const box = $("thread-messages");
  const stick = box.dataset.ts !== parent.ts || box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const replies = parent.replies ?? [];
  const n = parent.reply_count ?? 0; // the thread's replies; the viewer's own ephemerals in it are not counted
  const count = element("div", "thread-count", `${n} ${n === 1 ? "reply" : "replies"}`);
  box.replaceChildren(
    messageNode(parent, channel, state, true),
    count,
    ...replies.map((m) => messageNode(m, channel, state, true)),
  );
  box.dataset.ts = parent.ts;
  if (stick) box.scrollTop = box.scrollHeight;
}

// -- small things ----------------------------------------------------------------------------------------------

function clock(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
}

function hue(id) {
  let sum = 0;
  for (const char of String(id)) sum = (sum * 31 + char.charCodeAt(0)) % 997;
  return sum % 8;
}

function sendFrom(box, errorBox, extra) {
  const text = box.value.trimEnd(); // a leading space is how a message may start with "/" (see actions.py)
  if (!text.trim()) return;
  const channel = extra.channel;
  post("send", { channel, text, ...extra }, errorBox).then((ok) => {
    if (ok) box.value = "";
  });
}

// Links inside the workspace stay in the page: a channel name opens the channel, a message permalink
// (https://<domain>/archives/<channel>/p<ts>[?thread_ts=…], chat.getPermalink's shape) opens it and its thread.
function follow(event) {
  const channelLink = event.target.closest(".channel-link[data-channel]");
  const anchor = event.target.closest("a.link");
  let channel = channelLink?.dataset.channel;
  let ts = null;
  let thread = null;
  if (!channel && anchor && ui.state) {
    const url = new URL(anchor.href);
    const found = url.hostname === ui.state.domain && url.pathname.match(/^\/archives\/(\w+)\/p(\d+)(\d{6})$/);
    if (!found) return;
    [channel, ts] = [found[1], `${found[2]}.${found[3]}`];
    thread = url.searchParams.get("thread_ts");
  }
  if (!channel || !ui.state?.channels.some((c) => c.id === channel)) return;
  event.preventDefault();
  go({ type: "channel", id: channel });
  if (thread || ts) {
    const parent = thread ?? ts;
    const shown = ui.state.channels.find((c) => c.id === channel).messages.some((m) => m.ts === parent);
    if (thread && shown) {
      ui.thread = { channel, ts: parent };
      render();
    }
    const target = document.querySelector(`#messages .message[data-ts="${CSS.escape(parent)}"]`);
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.classList.add("flash");
      setTimeout(() => target.classList.remove("flash"), 1500);
    }
  }
}

const NO_NAMES = { users: {}, channels: {}, usergroups: {} };

function confirm(dialog) {
  return askToConfirm($("confirm-layer"), dialog, ui.state?.names ?? NO_NAMES);
}

function setUp() {
  ui.modal = new ModalLayer($("modal-layer"), {
    submit: (viewId, values, errorBox) => post("submit", { view_id: viewId, values }, errorBox),
    close: (viewId, errorBox) => post("close", { view_id: viewId }, errorBox),
    confirm,
  });
  document.addEventListener("click", follow);
  $("viewer").addEventListener("change", (event) => {
    ui.viewer = event.target.value;
    sessionStorage.setItem("sandbox.as", ui.viewer);
    ui.thread = null;
    ui.modal.forget();
    connect();
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const channel = ui.state && currentChannel(ui.state);
    if (channel) sendFrom($("box"), $("composer-error"), { channel: channel.id });
  });
  $("thread-composer").addEventListener("submit", (event) => {
    event.preventDefault();
    if (ui.thread) sendFrom($("thread-box"), $("thread-error"), { channel: ui.thread.channel, thread_ts: ui.thread.ts });
  });
  for (const [box, form] of [["box", "composer"], ["thread-box", "thread-composer"]]) {
    $(box).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $(form).requestSubmit();
      }
    });
  }
  $("thread-close").addEventListener("click", () => {
    ui.thread = null;
    render();
  });
  connect();
}

setUp();
