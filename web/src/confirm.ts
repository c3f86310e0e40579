/** Modal dialogs (`<dialog>`): a confirmation before every action, and a one-field prompt. */
import { h } from "./dom.ts";

/** Asks before doing `action`; resolves true only on the explicit confirm button. Escape cancels. */
export function confirmAction(question: string, action: string, danger = false): Promise<boolean> {
  return ask(question, action, danger).then((r) => r !== undefined);
}

/** Asks for one text value (pre-filled with `value`); undefined when cancelled. */
export function promptValue(
  question: string,
  label: string,
  value: string,
  action: string,
): Promise<string | undefined> {
  return ask(question, action, false, { label, value });
}

function ask(
  question: string,
  action: string,
  danger: boolean,
  field?: { label: string; value: string },
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const input = field
      ? h("input", { id: "dialog-field", type: "text", value: field.value, "data-action": "dialog-field" })
      : undefined;
    const cancel = h("button", { type: "button", "data-action": "cancel" }, "Cancel");
    const ok = h(
      "button",
      { type: "submit", class: danger ? "danger" : "primary", "data-action": "confirm" },
      action,
    );
    const form = h(
      "form",
      { method: "dialog" },
      h("p", { id: "dialog-question" }, question),
      field && input ? h("label", { for: "dialog-field" }, field.label) : null,
      input,
      h("div", { class: "buttons" }, cancel, ok),
    );
    const dialog = h("dialog", { "aria-labelledby": "dialog-question" }, form);
    let answer: string | undefined;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", () => {
      answer = input ? input.value : "yes";
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (input ?? cancel).focus();
  });
}
