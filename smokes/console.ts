/**
 * The web console in a real browser: Debian's Chromium, headless, driven by playwright-core (the system
 * browser; nothing downloaded).
 *
 *   bun smokes/console.ts [--tier db]      ($CHROMIUM overrides /usr/lib/chromium/chromium)
 *
 * A real hub with two enrolled nodes (the agent session in process, as pass 1's db tier; WireGuard
 * faked in memory, as pass 3's), one created from a template of two catalog modules, both on one
 * overlay network (smokes/console/fixture.ts). The browser: a wrong token is refused with an error; sign-in; the
 * node in Fleet; the Node view's phase timeline and modules (digests as the catalog has them); an event
 * emitted on the hub shows in Events within 2 s; Catalog; Network draws the mesh with its handshake age; Tab reaches every action;
 * every badge says its state in words; sign-out; a revoked token returns to sign-in. The page is
 * served with a CSP and has no inline script. Screenshots of each view go to the run's out dir and
 * must not be blank; no console error or failed request may happen (the expected 401s are in a second
 * browser context of their own).
 */
import type { Browser, BrowserContext } from "playwright-core";
import {
  badgesSpeak,
  CHROMIUM,
  launch,
  type PageElement,
  shoot,
  signIn,
  tabThrough,
  watchProblems,
} from "./console/browser.ts";
import { claimsChecks } from "./console/claims.ts";
import { type Fixture, MODULES, meshOfBoth, setUp } from "./console/fixture.ts";
import { definePass, type PassContext, runPass } from "./lib/pass.ts";
import { waitFor } from "./lib/wait.ts";

/** The browser globals this file's `page.evaluate` callbacks use (the repo's tsconfig has no DOM lib). */
declare const document: { activeElement: PageElement | null; cookie: string };
declare const sessionStorage: { length: number };
declare const localStorage: { length: number };
declare const location: { hash: string; href: string };
declare const window: { scrollTo(x: number, y: number): void };

/** The Events view must show a new event this soon after it was written. */
const EVENT_WITHIN_MS = 2000;

/** A second context for what is meant to be refused: a wrong token, then a token revoked while in use. */
async function refusals(t: PassContext, browser: Browser, f: Fixture): Promise<void> {
  const ctx: BrowserContext = await browser.newContext();
  const page = await ctx.newPage();
  const problems = watchProblems(page);
  // The refusals this context is for: 401s of the operator API, and the live stream the revocation ends.
  problems.allowed.push(
    /^response 401: .*\/powernode\.v1\.\w+Service\//,
    /^console error: Failed to load resource: .* 401/,
    /^request failed: .*\/powernode\.v1\.FleetService\/WatchEvents net::ERR_ABORTED/,
  );
  const url = `${f.s.hub.httpUrl}/`;
  await page.goto(url);
  await t.check("a wrong token: an error, no session, nothing in the URL", async () => {
    await signIn(page, "pna_this-is-not-a-token");
    await page.waitForSelector('.signin-status [role="alert"]', { timeout: 5000 });
    const kept = await page.evaluate(() => sessionStorage.length);
    if (kept !== 0) throw new Error(`session storage holds ${kept} item(s) after a refused token`);
    if (page.url().includes("pna_")) throw new Error(`the token is in the URL: ${page.url()}`);
    return (await page.textContent('.signin-status [role="alert"]')) ?? "";
  });
  await t.check("a token revoked while signed in: the next call returns to sign-in", async () => {
    const made = await f.s.tokens.createToken({ name: "console-smoke" });
    await signIn(page, made.secret);
    await page.waitForSelector(`[data-node="${f.node.id}"]`, { timeout: 10_000 });
    await f.s.tokens.revokeToken({ token: "console-smoke" });
    const started = Date.now();
    await waitFor(
      "the sign-in form after the revocation",
      async () => {
        await page.evaluate(() => {
          location.hash = location.hash === "#/catalog" ? "#/events" : "#/catalog";
        });
        return (await page.$("#token")) !== null;
      },
      { timeoutMs: 45_000, intervalMs: 500 },
    );
    const reason = (await page.textContent('.signin-status [role="alert"]')) ?? "";
    if ((await page.evaluate(() => sessionStorage.length)) !== 0)
      throw new Error("the revoked token is still kept");
    return `${Date.now() - started} ms after revocation: "${reason}"`;
  });
  await t.check("the refusal context saw no error but the expected 401s", () => {
    if (problems.list.length > 0) throw new Error(problems.list.join("; "));
    return undefined;
  });
  await ctx.close();
}

export const consolePass = definePass({
  id: 102,
  label: "console",
  title: "web console in Chromium: sign-in, Fleet, Node, Events, Catalog, Network, keyboard, CSP",
  minTier: "db",
  async run(t) {
    const f = await setUp(t);
    const { s } = f;
    const nodeId = f.node.id;
    const nodeName = f.node.name;
    const browser = await t.step(`launch Chromium headless (${CHROMIUM})`, () => launch(t));
    const url = `${s.hub.httpUrl}/`;

    await t.check("the page has a Content-Security-Policy and no inline script", async () => {
      const r = await fetch(url);
      const csp = r.headers.get("content-security-policy") ?? "";
      for (const want of [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
      ])
        if (!csp.includes(want)) throw new Error(`CSP lacks ${want}: "${csp}"`);
      if (csp.includes("unsafe-")) throw new Error(`CSP allows unsafe sources: "${csp}"`);
      const html = await r.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      const inline = scripts.filter((m) => !/\bsrc=/.test(m[1] ?? "") || (m[2] ?? "").trim() !== "");
      if (scripts.length === 0 || inline.length > 0)
        throw new Error(`${inline.length} inline of ${scripts.length} scripts`);
      if (/\son\w+=/i.test(html) || /\sstyle=/i.test(html))
        throw new Error("inline handler or style attribute in the page");
      const asset = scripts[0]?.[1]?.match(/src="([^"]+)"/)?.[1] ?? "";
      const a = await fetch(new URL(asset, url));
      const cache = a.headers.get("cache-control") ?? "";
      if (!a.ok || !cache.includes("immutable"))
        throw new Error(`${asset}: ${a.status}, cache-control "${cache}"`);
      return `${csp.split("; ").length} directives; ${scripts.length} script(s), all external; ${asset} cached "${cache}"`;
    });

    await refusals(t, browser, f);

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    const problems = watchProblems(page);
    const shots: string[] = [];
    await page.goto(url);
    await t.step("sign in with the operator token", async () => {
      await signIn(page, s.hub.adminToken);
      await page.waitForSelector('[data-action="sign-out"]', { timeout: 10_000 });
    });
    await t.check("the token is kept in session storage only, never in the URL", async () => {
      const where = await page.evaluate(() => ({
        session: Object.keys(sessionStorage as object),
        local: localStorage.length,
        cookies: document.cookie,
        url: location.href,
      }));
      if (where.session.length !== 1 || where.local !== 0 || where.cookies !== "")
        throw new Error(`storage: ${JSON.stringify(where)}`);
      if (where.url.includes(s.hub.adminToken)) throw new Error("the token is in the URL");
      return `sessionStorage key ${where.session[0]}`;
    });

    await t.check("Fleet lists both nodes, running, with counts by state; the search filters", async () => {
      const link = await page.waitForSelector(`[data-node="${nodeId}"]`, { timeout: 10_000 });
      const row = await link.evaluate((a) => {
        const tr = a.closest("tr");
        const state = tr?.querySelector('[data-badge="state"]') as unknown as PageElement | null;
        return { name: a.textContent, state: state?.dataset.value, cells: tr?.children.length };
      });
      if (row.name !== nodeName || row.state !== "running") throw new Error(`row: ${JSON.stringify(row)}`);
      const running = await page.textContent('[data-count="running"]');
      if (!running?.includes(": 2")) throw new Error(`running count: "${running}"`);
      await page.fill("#fleet-search", "console-peer-");
      const shown = await page.$$eval("[data-node]", (as) => as.map((a) => a.textContent));
      if (shown.length !== 1 || shown[0] !== f.peer.name)
        throw new Error(`search shows ${JSON.stringify(shown)}`);
      await page.fill("#fleet-search", "");
      await page.waitForSelector(`[data-node="${nodeId}"]`, { timeout: 5000 });
      return `${row.name}: ${row.state}, ${row.cells} columns; counts "${running?.trim()}"; search keeps ${shown[0]}`;
    });
    await t.check("Fleet: Tab reaches the views, the search, the state filter, the node and sign-out", () =>
      tabThrough(page, [
        "nav:fleet",
        "nav:events",
        "nav:catalog",
        "nav:network",
        "sign-out",
        "search",
        "state-filter",
        "node",
      ]),
    );
    await t.check("Fleet: every badge carries its word", () => badgesSpeak(page));
    await t.check("Fleet screenshot is not blank", () => shoot(t, page, "fleet", shots));

    await page.click(`[data-node="${nodeId}"]`);
    await t.check("Node: the boot phase timeline has the agent's phases as bars", async () => {
      await page.waitForSelector("svg.timeline [data-phase]", { timeout: 10_000 });
      const phases = await page.$$eval("svg.timeline [data-phase]", (gs) =>
        gs.map((g) => ({
          phase: (g as unknown as PageElement).dataset.phase,
          width: Number(g.querySelector("rect")?.getAttribute("width")),
        })),
      );
      const names = phases.map((p) => p.phase);
      for (const want of ["agent", "enrolled", "ready"])
        if (!names.includes(want)) throw new Error(`no ${want} bar: ${names.join(", ")}`);
      if (phases.some((p) => !(p.width > 0)))
        throw new Error(`a bar without width: ${JSON.stringify(phases)}`);
      return names.join(" -> ");
    });
    await t.check("Node: the template's modules with the catalog's digests", async () => {
      await page.waitForSelector('[data-module="nginx-light"]', { timeout: 10_000 });
      const rows = await page.$$eval('table[aria-label="modules"] tbody tr', (trs) =>
        trs.map((tr) => ({
          name: tr.querySelector("[data-module]")?.textContent ?? "",
          digests: [...tr.querySelectorAll("code[title]")].map((c) => c.getAttribute("title")),
          verification: (tr.querySelector('[data-badge="verify"]') as unknown as PageElement | null)?.dataset
            .value,
        })),
      );
      for (const m of MODULES) {
        const r = rows.find((x) => x.name === m.name);
        if (!r || r.digests[0] !== m.digest || r.digests[1] !== m.root)
          throw new Error(`${m.name}: ${JSON.stringify(r)}`);
      }
      const template = await page.$$eval(
        ".facts dt",
        (dts) => dts.find((dt) => dt.textContent === "template")?.nextElementSibling?.textContent ?? "",
      );
      if (template !== "web") throw new Error(`identity says template "${template}", want web`);
      // The agent in process has no module set (no OS): it reports none, and the view says so.
      return rows.map((r) => `${r.name} ${r.verification}`).join(", ");
    });
    await t.check("Node: Tab reaches every action (attestation, assign, stop, delete)", () =>
      tabThrough(page, ["attest", "assign", "stop", "delete"]),
    );
    await t.check("Node: an action asks first; Escape cancels, the confirm button acts", async () => {
      const before = (await s.fleet.listEvents({ nodeId, kindPrefix: "system.attestation.requested" })).events
        .length;
      await page.focus('[data-action="attest"]');
      await page.keyboard.press("Enter");
      await page.waitForSelector("dialog[open]", { timeout: 5000 });
      const focused = await page.evaluate(
        () => (document.activeElement as unknown as PageElement | null)?.dataset.action,
      );
      await page.keyboard.press("Escape");
      await page.waitForSelector("dialog", { state: "detached", timeout: 5000 });
      const cancelled = (await s.fleet.listEvents({ nodeId, kindPrefix: "system.attestation.requested" }))
        .events.length;
      if (cancelled !== before) throw new Error("cancelling still requested an attestation");
      // Keyboard only: Enter opens, Tab moves from Cancel to the confirm button, Enter acts.
      await page.focus('[data-action="attest"]');
      await page.keyboard.press("Enter");
      await page.waitForSelector("dialog[open]", { timeout: 5000 });
      await page.keyboard.press("Tab");
      const onConfirm = await page.evaluate(() => document.activeElement?.dataset.action);
      if (onConfirm !== "confirm") throw new Error(`Tab in the dialog went to ${onConfirm}, not confirm`);
      await page.keyboard.press("Enter");
      await waitFor(
        "system.attestation.requested after confirming",
        async () =>
          (await s.fleet.listEvents({ nodeId, kindPrefix: "system.attestation.requested" })).events.length >
          before,
        { timeoutMs: 5000 },
      );
      return `dialog opened with focus on ${focused}; Escape: no request; Tab + Enter on confirm: requested`;
    });
    await t.check("Node: every badge carries its word", () => badgesSpeak(page));
    await t.check("Node screenshot is not blank", () => shoot(t, page, "node", shots));
    // The README's picture: the Node view as a window shows it (CONSOLE_README_SHOT=docs/console-node.png).
    const readme = process.env.CONSOLE_README_SHOT;
    if (readme) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: readme });
      t.info(`README screenshot: ${readme}`);
    }

    await page.click('[data-nav="events"]');
    await t.check(`Events: an event emitted on the hub shows within ${EVENT_WITHIN_MS} ms`, async () => {
      await page.waitForSelector("ol.events[data-loaded]", { timeout: 10_000 });
      const t0 = performance.now();
      await s.fleet.requestAttestation({ nodeId });
      const { events } = await s.fleet.listEvents({ nodeId, kindPrefix: "system.attestation.requested" });
      const id = events.at(-1)?.id ?? "";
      await page.waitForSelector(`[data-event-id="${id}"]`, { timeout: EVENT_WITHIN_MS + 1000 });
      const ms = performance.now() - t0;
      if (ms > EVENT_WITHIN_MS) throw new Error(`event ${id} showed after ${ms.toFixed(0)} ms`);
      return `event ${id} on screen ${ms.toFixed(0)} ms after the request`;
    });
    await t.check("Events: the kind filter keeps only matching events", async () => {
      await page.fill("#ev-kind", "system.agent.");
      await page.click('[data-action="apply-filters"]');
      await waitFor(
        "only system.agent.* rows",
        async () => {
          const kinds = await page.$$eval("li.event", (els) =>
            els.map((e) => (e as unknown as PageElement).dataset.kind ?? ""),
          );
          return kinds.length > 0 && kinds.every((k) => k.startsWith("system.agent.")) ? kinds : undefined;
        },
        { timeoutMs: 5000 },
      );
      if (!page.url().includes("kind=system.agent."))
        throw new Error(`filters not in the URL: ${page.url()}`);
      await page.fill("#ev-kind", "");
      await page.click('[data-action="apply-filters"]');
      return "system.agent.* only, kept in the hash";
    });
    await t.check("Events: Tab reaches every filter, Apply and Follow", () =>
      tabThrough(page, ["ev-kind", "ev-sev", "ev-node", "ev-corr", "apply-filters", "follow"]),
    );
    await t.check("Events: every badge carries its word", () => badgesSpeak(page));
    await t.check("Events screenshot is not blank", () => shoot(t, page, "events", shots));

    await page.click('[data-nav="catalog"]');
    await t.check("Catalog: module versions with digests, sizes and the node assigned them", async () => {
      await page.waitForSelector('table[aria-label="module versions"] [data-module="system-base"]', {
        timeout: 10_000,
      });
      const text = (await page.textContent('table[aria-label="module versions"]')) ?? "";
      if (!text.includes(nodeName)) throw new Error("the node is not listed as assigned");
      const templates = (await page.textContent('table[aria-label="templates"]')) ?? "";
      if (!templates.includes("system-base") || !templates.includes("nginx-light"))
        throw new Error(`templates: ${templates}`);
      return "system-base, nginx-light; template web";
    });
    await t.check("Catalog screenshot is not blank", () => shoot(t, page, "catalog", shots));

    await t.check("Network: both nodes' mesh as a graph with the handshake age, and as a table", async () => {
      await meshOfBoth(f, "console-net");
      await page.click('[data-nav="network"]');
      const edge = await page.waitForSelector('svg[aria-label="mesh of console-net"] .edge-ok', {
        timeout: 10_000,
      });
      const label = (await edge.textContent()) ?? "";
      if (!/^ok: \d+ s ago$/.test(label)) throw new Error(`edge label "${label}"`);
      const rows = await page.$$eval('table[aria-label="peers of console-net"] tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      );
      if (
        rows.length !== 2 ||
        rows.some((r) => !/^\d+ s ago$/.test(r[3] ?? "") || !(r[4] ?? "").includes("ok"))
      )
        throw new Error(`peer rows ${JSON.stringify(rows)}`);
      return `edge "${label}"; ${rows.length} peer rows`;
    });
    await t.check("Network screenshot is not blank", () => shoot(t, page, "network", shots));

    await claimsChecks(t, page, f, shots);

    await t.check("sign-out returns to sign-in and forgets the token", async () => {
      // Signing out ends the live event stream on purpose.
      problems.allowed.push(/^request failed: .*\/powernode\.v1\.FleetService\/WatchEvents net::ERR_ABORTED/);
      await page.click('[data-action="sign-out"]');
      await page.waitForSelector("#token", { timeout: 5000 });
      await page.evaluate(() => {
        location.hash = "#/fleet";
      });
      if ((await page.$('[data-action="sign-out"]')) !== null)
        throw new Error("the fleet came back without a token");
      const kept = await page.evaluate(() => sessionStorage.length);
      if (kept !== 0) throw new Error(`${kept} item(s) left in session storage`);
      return undefined;
    });
    await t.check("no console error and no failed request in the browser", () => {
      if (problems.list.length > 0) throw new Error(problems.list.join("; "));
      return `screenshots: ${shots.length}`;
    });
    await ctx.close();
  },
});

if (import.meta.main) await runPass(consolePass);
