// Block Kit as DOM nodes (docs.slack.dev/reference/block-kit/blocks): header, section (text, fields, accessory),
// context, divider, actions (buttons with styles and confirm dialogs), image (its alt text: the page fetches
// nothing), rich_text, markdown, and in modals input blocks with plain_text_input. Built with createElement and
// text nodes only (see mrkdwn.js); a block type the page does not draw shows as a note, never as its JSON.
//
// `ctx`: {names, press(button, block) -> Promise, values: {block_id: {action_id: {value}}}, errors: {block_id: text}}

import { channelLink, element, formatDate, link, mrkdwn, safeUrl } from "./mrkdwn.js";

export function renderBlocks(blocks, ctx) {
  const out = element("div", "blocks");
  for (const block of blocks ?? []) out.append(renderBlock(block, ctx));
  return out;
}

function renderBlock(block, ctx) {
  switch (block?.type) {
    case "header":
      return element("div", "block-header", textOf(block.text));
    case "section":
      return section(block, ctx);
    case "context":
      return context(block, ctx);
    case "divider":
      return element("hr", "block-divider");
    case "actions":
      return actions(block, ctx);
    case "image":
      return element("div", "block-image", `[image: ${block.alt_text ?? ""}]`);
    case "rich_text":
      return richText(block, ctx);
    case "markdown":
      return withClass(textObject({ type: "mrkdwn", text: block.text }, ctx), "block-markdown");
    case "input":
      return input(block, ctx);
    default:
      return element("div", "block-unknown", `[a ${String(block?.type)} block: not drawn in the sandbox]`);
  }
}

function withClass(node, className) {
  node.classList.add(className);
  return node;
}

// A text object: mrkdwn or plain_text (docs.slack.dev/reference/block-kit/composition-objects/text-object).
export function textObject(text, ctx) {
  const node = element("div", "text");
  if (!text) return node;
  if (text.type === "mrkdwn") node.append(mrkdwn(text.text, ctx.names, { verbatim: text.verbatim === true }));
  else node.textContent = String(text.text ?? "");
  return node;
}

function textOf(text) {
  return text ? String(text.text ?? "") : "";
}

function section(block, ctx) {
  const node = element("div", "block-section");
  const body = element("div", "section-body");
  if (block.text) body.append(textObject(block.text, ctx));
  if (block.fields) {
    const fields = element("div", "section-fields");
    for (const field of block.fields) fields.append(textObject(field, ctx));
    body.append(fields);
  }
  node.append(body);
  if (block.accessory) node.append(withClass(blockElement(block.accessory, block, ctx), "accessory"));
  return node;
}

function context(block, ctx) {
  const node = element("div", "block-context");
  for (const item of block.elements ?? []) {
    if (item.type === "image") node.append(element("span", "context-image", `[${item.alt_text ?? "image"}]`));
    else node.append(withClass(textObject(item, ctx), "context-text"));
  }
  return node;
}

function actions(block, ctx) {
  const node = element("div", "block-actions");
  for (const item of block.elements ?? []) node.append(blockElement(item, block, ctx));
  return node;
}

function blockElement(item, block, ctx) {
  if (item.type === "button") return button(item, block, ctx);
  if (item.type === "image") return element("span", "block-image", `[image: ${item.alt_text ?? ""}]`);
  const label = item.placeholder ? textOf(item.placeholder) : item.type;
  const node = element("button", "button unsupported", label);
  node.disabled = true;
  node.title = `a ${item.type} element: not usable in the sandbox`;
  return node;
}

// A button (docs.slack.dev/reference/block-kit/block-elements/button-element): style primary or danger; with
// `confirm`, its dialog is shown first and only "confirm" sends the click; a `url` opens (http/https only) and
// Slack still sends the click.
function button(item, block, ctx) {
  const node = element("button", "button", textOf(item.text));
  if (item.style === "primary" || item.style === "danger") node.classList.add(item.style);
  node.dataset.actionId = String(item.action_id ?? "");
  if (!ctx.press) {
    node.disabled = true;
    node.title = "buttons here are not usable in the sandbox";
    return node;
  }
  node.addEventListener("click", async () => {
    if (item.confirm && !(await ctx.confirm(item.confirm))) return;
    const url = item.url ? safeUrl(String(item.url)) : null;
    if (url) window.open(url, "_blank", "noopener,noreferrer");
    node.disabled = true;
    node.classList.add("pressed");
    try {
      await ctx.press(item, block);
    } finally {
      node.disabled = false;
      node.classList.remove("pressed");
    }
  });
  return node;
}

// rich_text (docs.slack.dev/reference/block-kit/blocks/rich-text-block): its text elements are not escaped.
function richText(block, ctx) {
  const node = element("div", "block-rich-text");
  for (const part of block.elements ?? []) node.append(richPart(part, ctx));
  return node;
}

function richPart(part, ctx) {
  switch (part.type) {
    case "rich_text_list": {
      const list = element(part.style === "ordered" ? "ol" : "ul", "rich-list");
      list.style.marginLeft = `${Number(part.indent ?? 0) * 1.5}em`;
      for (const item of part.elements ?? []) {
        const li = element("li");
        li.append(richPart(item, ctx));
        list.append(li);
      }
      return list;
    }
    case "rich_text_preformatted":
      return inline(part.elements, ctx, element("pre", "code-block"));
    case "rich_text_quote":
      return inline(part.elements, ctx, element("blockquote", "quote"));
    default:
      return inline(part.elements, ctx, element("div", "rich-section"));
  }
}

function inline(items, ctx, parent) {
  for (const item of items ?? []) parent.append(styledInline(item, ctx));
  return parent;
}

function styledInline(item, ctx) {
  let node = inlineNode(item, ctx);
  const style = item.style ?? {};
  for (const [key, tag] of [["code", "code"], ["strike", "s"], ["italic", "i"], ["bold", "b"]]) {
    if (!style[key]) continue;
    const wrap = element(tag, key === "code" ? "code" : "");
    wrap.append(node);
    node = wrap;
  }
  return node;
}

function inlineNode(item, ctx) {
  const names = ctx.names;
  switch (item.type) {
    case "text":
      return textLines(String(item.text ?? ""));
    case "link":
      return link(String(item.url ?? ""), String(item.text || item.url || ""));
    case "user":
      return element("span", "mention", "@" + (names.users[item.user_id] ?? item.user_id));
    case "usergroup":
      return element("span", "mention", "@" + (names.usergroups[item.usergroup_id] ?? item.usergroup_id));
    case "channel":
      return channelLink(item.channel_id, null, names);
    case "broadcast":
      return element("span", "mention broadcast", "@" + String(item.range ?? ""));
    case "emoji":
      return document.createTextNode(item.unicode ? codePoints(item.unicode) : `:${item.name}:`);
    case "date":
      return element("span", "date", formatDate(Number(item.timestamp), String(item.format ?? "")) ?? item.fallback ?? "");
    default:
      return document.createTextNode(String(item.text ?? ""));
  }
}

function textLines(text) {
  const out = document.createDocumentFragment();
  text.split("\n").forEach((line, n) => {
    if (n > 0) out.append(document.createElement("br"));
    if (line) out.append(document.createTextNode(line));
  });
  return out;
}

function codePoints(unicode) {
  try {
    return String.fromCodePoint(...String(unicode).split("-").map((hex) => parseInt(hex, 16)));
  } catch {
    return "";
  }
}

// An input block of a modal (docs.slack.dev/reference/block-kit/blocks/input-block) with a plain_text_input
// (multiline, initial_value, placeholder); what was typed before (state.values) wins over initial_value; the
// error of a response_action "errors" answer shows under it.
function input(block, ctx) {
  const node = element("div", "block-input");
  node.dataset.blockId = String(block.block_id ?? "");
  const label = element("label", "input-label", textOf(block.label));
  if (block.optional) label.append(element("span", "optional", " (optional)"));
  node.append(label);
  const item = block.element ?? {};
  if (item.type !== "plain_text_input") {
    node.append(element("div", "block-unknown", `[a ${String(item.type)} input: not usable in the sandbox]`));
    return node;
  }
  const field = element(item.multiline ? "textarea" : "input", "input-field");
  if (!item.multiline) field.type = "text";
  field.dataset.blockId = String(block.block_id ?? "");
  field.dataset.actionId = String(item.action_id ?? "");
  if (item.placeholder) field.placeholder = textOf(item.placeholder);
  if (item.max_length) field.maxLength = Number(item.max_length);
  const typed = ctx.values?.[block.block_id]?.[item.action_id]?.value;
  field.value = String(typed ?? item.initial_value ?? "");
  label.htmlFor = field.id = `input-${block.block_id}`;
  node.append(field);
  if (block.hint) node.append(element("div", "input-hint", textOf(block.hint)));
  const error = ctx.errors?.[block.block_id];
  if (error) {
    node.classList.add("has-error");
    node.append(element("div", "input-error", String(error)));
  }
  return node;
}
