// Modals and confirmation dialogs, drawn from Slack's own objects (see blocks.js for the blocks inside them).

import { renderBlocks, textObject } from "./blocks.js";
import { element } from "./mrkdwn.js";

// The viewer's modal: the top view of their stack (docs.slack.dev/surfaces/modals), with the app's per-block
// errors under its inputs and Slack's own error at the top. Drawn again only when the view changes (a new view,
// a views.update, new errors); what the person typed into a view stays when it is drawn again.
// `actions`: {submit(viewId, values, errorBox), close(viewId, errorBox), confirm(dialog)}.
export class ModalLayer {
  constructor(layer, actions) {
    this.layer = layer;
    this.actions = actions;
    this.key = null;
    this.viewId = null;
  }

  forget() {
    this.key = null;
  }

  show(modal, names) {
    const key = modal ? JSON.stringify([modal.id, modal.hash, modal.errors, modal.shown_error, modal.depth]) : null;
    if (key === this.key) return;
    const typed = modal && this.viewId === modal.id ? this.typed() : {};
    this.key = key;
    this.viewId = modal?.id ?? null;
    if (!modal) {
      this.layer.hidden = true;
      this.layer.replaceChildren();
      return;
    }
    const dialog = element("div", "modal");
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.dataset.viewId = modal.id;
    const problem = element("div", "modal-error", modal.shown_error ?? "");
    problem.setAttribute("role", "alert");
    const close = () => this.actions.close(modal.id, problem);
    const header = element("div", "modal-header");
    header.append(element("h2", "modal-title", modal.title?.text ?? ""));
    header.append(button("×", "icon-button", close, "Close"));
    const ctx = { names, values: modal.values, errors: modal.errors, confirm: this.actions.confirm };
    const body = renderBlocks(modal.blocks, ctx);
    body.classList.add("modal-body");
    for (const field of body.querySelectorAll(".input-field")) {
      const kept = typed[field.dataset.blockId]?.[field.dataset.actionId];
      if (kept !== undefined) field.value = kept;
    }
    const footer = element("div", "modal-footer");
    footer.append(button(modal.close?.text ?? "Cancel", "button", close));
    if (modal.submit) {
      const submit = button(modal.submit.text ?? "Submit", "button primary", async () => {
        submit.disabled = true;
        await this.actions.submit(modal.id, this.typed(), problem);
        submit.disabled = false;
      });
      footer.append(submit);
    }
    dialog.append(header, problem, body, footer);
    this.layer.replaceChildren(dialog);
    this.layer.hidden = false;
  }

  // What is typed into the view's inputs: block_id -> action_id -> text (what submit_view takes).
  typed() {
    const values = {};
    for (const field of this.layer.querySelectorAll(".input-field")) {
      (values[field.dataset.blockId] ??= {})[field.dataset.actionId] = field.value;
    }
    return values;
  }
}

// A confirmation dialog object (docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object):
// resolves true only when the person presses its confirm button; its deny button (or Escape) resolves false.
export function askToConfirm(layer, dialog, names) {
  return new Promise((resolve) => {
    const done = (answer) => {
      layer.hidden = true;
      layer.replaceChildren();
      document.removeEventListener("keydown", onKey);
      resolve(answer);
    };
    const onKey = (event) => {
      if (event.key === "Escape") done(false);
    };
    const box = element("div", "modal confirm");
    box.setAttribute("role", "alertdialog");
    box.append(element("h2", "modal-title", dialog.title?.text ?? "Are you sure?"));
    box.append(textObject(dialog.text, { names }));
    const footer = element("div", "modal-footer");
    const style = dialog.style === "danger" ? "danger" : "primary";
    const yes = button(dialog.confirm?.text ?? "Yes", `button ${style}`, () => done(true));
    footer.append(button(dialog.deny?.text ?? "Cancel", "button", () => done(false)), yes);
    box.append(footer);
    layer.replaceChildren(box);
    layer.hidden = false;
    document.addEventListener("keydown", onKey);
    yes.focus();
  });
}

function button(label, className, onClick, ariaLabel) {
  const node = element("button", className, label);
  node.type = "button";
  if (ariaLabel) node.setAttribute("aria-label", ariaLabel);
  node.addEventListener("click", onClick);
  return node;
}
