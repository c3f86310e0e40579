/** Sign-in: the operator token, checked against the hub before it is kept (session storage only). */
import { Code, ConnectError, checkToken, errorText } from "../api.ts";
import { h } from "../dom.ts";
import { note } from "../widgets.ts";

export function signInView(onSignedIn: (token: string) => void, reason?: string): HTMLElement {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "data-action": "token",
  });
  const status = h(
    "div",
    { class: "signin-status", role: "status", "aria-live": "assertive" },
    reason ? note(reason, "error") : null,
  );
  const submit = h("button", { type: "submit", class: "primary", "data-action": "sign-in" }, "Sign in");
  const form = h(
    "form",
    { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "powernode console"),
    h(
      "p",
      {},
      "Sign in with an operator token (the hub prints where its admin token is kept; `pnctl tokens create` makes more). It stays in this tab only.",
    ),
    h("label", { for: "token" }, "Operator token"),
    input,
    submit,
    status,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    status.replaceChildren(note("Checking the token…"));
    try {
      await checkToken(token);
      onSignedIn(token);
    } catch (err) {
      const refused = ConnectError.from(err).code === Code.Unauthenticated;
      status.replaceChildren(
        note(refused ? "The hub refused this token." : `Could not reach the hub: ${errorText(err)}`, "error"),
      );
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return h("main", { class: "signin-page" }, form);
}
