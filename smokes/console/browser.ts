/**
 * The console smoke's browser side: Chromium (Debian's, through playwright-core), what went wrong in a
 * page, screenshots that must not be blank, Tab walks, badges that say their state in words.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import type { PassContext } from "../lib/pass.ts";
import { decodePng, pixelVariety } from "../lib/png.ts";

/**
 * The browser globals the `page.evaluate` callbacks use: they run in Chromium, but this file is typed
 * with the repo's tsconfig, which has no DOM lib.
 */
export interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  children: { length: number };
  blur(): void;
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  getAttribute(name: string): string | null;
  nextElementSibling: PageElement | null;
}
declare const document: { activeElement: PageElement | null; cookie: string };
declare const sessionStorage: { length: number };
declare const localStorage: { length: number };
declare const location: { hash: string; href: string };
declare const window: { scrollTo(x: number, y: number): void };

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/lib/chromium/chromium";
/** Tab presses allowed to reach every action of a view. */
const MAX_TABS = 60;

/** What went wrong in a browser context: console errors, page errors, failed and refused requests. */
export interface Problems {
  list: string[];
  /** Requests allowed to fail (pattern on `<url> <reason>`), e.g. the event stream cut at sign-out. */
  allowed: RegExp[];
}

export function watchProblems(page: Page): Problems {
  const p: Problems = { list: [], allowed: [] };
  const add = (what: string) => {
    if (!p.allowed.some((r) => r.test(what))) p.list.push(what);
  };
  page.on("console", (m) => {
    if (m.type() === "error") add(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => add(`page error: ${e.message}`));
  page.on("requestfailed", (r) => add(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => {
    if (r.status() >= 400) add(`response ${r.status()}: ${r.url()}`);
  });
  return p;
}

export async function shoot(t: PassContext, page: Page, name: string, shots: string[]): Promise<string> {
  const path = join(t.outDir, `console-${name}.png`);
  const png = await page.screenshot({ path, fullPage: true });
  const v = pixelVariety(decodePng(new Uint8Array(png)));
  if (v.colours < 16 || v.lumaStdDev < 8)
    throw new Error(
      `${path} looks blank: ${v.colours} colours, luminance std dev ${v.lumaStdDev.toFixed(1)}`,
    );
  shots.push(path);
  return `${path}: ${v.colours} colours, luminance std dev ${v.lumaStdDev.toFixed(1)}`;
}

/** Presses Tab until every `[data-action]` of `want` had focus (or MAX_TABS); returns what was reached. */
export async function tabThrough(page: Page, want: readonly string[]): Promise<string> {
  await page.evaluate(() => document.activeElement?.blur());
  const reached = new Set<string>();
  let presses = 0;
  while (presses < MAX_TABS && !want.every((w) => reached.has(w))) {
    await page.keyboard.press("Tab");
    presses++;
    const id = await page.evaluate(() => {
      const el = document.activeElement;
      return (
        el?.dataset.action ?? (el?.dataset.nav ? `nav:${el.dataset.nav}` : el?.dataset.node ? "node" : "")
      );
    });
    if (id) reached.add(id);
  }
  const missing = want.filter((w) => !reached.has(w));
  if (missing.length > 0) throw new Error(`Tab never reached ${missing.join(", ")} in ${presses} presses`);
  return `${want.length} targets in ${presses} Tab presses`;
}

/** Every badge says its state in words: its text holds its value (colour is never the only carrier). */
export async function badgesSpeak(page: Page): Promise<string> {
  const badges = await page.$$eval("[data-badge]", (els) =>
    els.map((e) => ({ value: (e as unknown as PageElement).dataset.value ?? "", text: e.textContent ?? "" })),
  );
  if (badges.length === 0) throw new Error("no badge on the page");
  const mute = badges.filter((b) => !b.value || !b.text.includes(b.value));
  if (mute.length > 0) throw new Error(`badges without their word: ${JSON.stringify(mute.slice(0, 3))}`);
  return `${badges.length} badges, each with its word`;
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.fill("#token", token);
  await page.click('[data-action="sign-in"]');
}

export async function launch(t: PassContext): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: npm run setup installs Debian's chromium`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have here.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  t.defer(() => browser.close());
  return browser;
}
