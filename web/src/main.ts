/**
 * The console's entry: sign-in when no token is kept, else the shell (navigation, live state, sign-out)
 * and the view the hash names: #/fleet, #/node/<id>, #/events?…, #/catalog, #/network, #/claims.
 */
import "./style.css";
import { createApi, session } from "./api.ts";
import { h } from "./dom.ts";
import { type Live, type LiveState, startLive } from "./live.ts";
import type { Ctx, ViewFactory } from "./view.ts";
import { catalogView } from "./views/catalog.ts";
import { claimsView } from "./views/claims.ts";
import { eventsView } from "./views/events.ts";
import { fleetView } from "./views/fleet.ts";
import { networkView } from "./views/network.ts";
import { nodeView } from "./views/node.ts";
import { signInView } from "./views/signin.ts";

const ROUTES: Record<string, ViewFactory> = {
  fleet: fleetView,
  node: nodeView,
  events: eventsView,
  catalog: catalogView,
  network: networkView,
  claims: claimsView,
};
const NAV = [
  ["fleet", "Fleet"],
  ["events", "Events"],
  ["catalog", "Catalog"],
  ["network", "Network"],
  ["claims", "Claims"],
] as const;

const app = document.getElementById("app") as HTMLElement;
let live: Live | undefined;
let disposeView: (() => void) | undefined;

function signOut(reason?: string): void {
  session.signOut();
  live?.stop();
  live = undefined;
  disposeView?.();
  disposeView = undefined;
  window.removeEventListener("hashchange", route);
  app.replaceChildren(
    signInView((token) => {
      session.signIn(token);
      start();
    }, reason),
  );
  document.title = "Sign in · powernode";
}

const api = createApi(session.token, () => {
  if (session.token()) signOut("The hub no longer accepts the token: sign in again.");
});

let main: HTMLElement;
let liveBadge: HTMLElement;

function start(): void {
  live = startLive(api);
  liveBadge = h("span", { role: "status", "aria-label": "live events" });
  const showLive = (s: LiveState) => {
    liveBadge.className = `live live-${s}`;
    liveBadge.textContent = s === "live" ? "live" : s;
  };
  showLive(live.state());
  live.onState(showLive);
  main = h("main", { id: "main", tabindex: "-1" });
  const nav = h(
    "nav",
    { "aria-label": "views" },
    h(
      "ul",
      {},
      NAV.map(([k, label]) => h("li", {}, h("a", { href: `#/${k}`, "data-nav": k }, label))),
    ),
  );
  const out = h(
    "button",
    { type: "button", "data-action": "sign-out", onclick: () => signOut() },
    "Sign out",
  );
  app.replaceChildren(
    h("header", {}, h("a", { href: "#/fleet", class: "brand" }, "powernode"), nav, liveBadge, out),
    main,
  );
  window.addEventListener("hashchange", route);
  route();
}

function route(): void {
  if (!live) return;
  const [path = "", query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name = "fleet", arg = ""] = path.split("/");
  const factory = ROUTES[name] ?? fleetView;
  disposeView?.();
  const cleanups: (() => void)[] = [];
  const timer = setInterval(() => {
    for (const fn of ticks) fn();
  }, 1000);
  const ticks: (() => void)[] = [];
  const feed = live;
  const ctx: Ctx = {
    api,
    live: feed,
    now: () => new Date(),
    everySecond: (fn) => ticks.push(fn),
    onEvent: (fn) => {
      const off = feed.onEvent(fn);
      cleanups.push(off);
      return off;
    },
    onDispose: (fn) => cleanups.push(fn),
  };
  disposeView = () => {
    clearInterval(timer);
    for (const fn of cleanups) fn();
  };
  const view = factory(ctx, new URLSearchParams(query), decodeURIComponent(arg));
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (a.dataset.nav === (ROUTES[name] ? name : "fleet")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren(view.el);
  document.title = `${view.title} · powernode`;
}

if (session.token()) start();
else signOut();
