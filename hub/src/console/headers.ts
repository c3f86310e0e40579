/** The console's response headers: a strict Content-Security-Policy (no inline script or style) and caching. */

/**
 * Scripts, styles and API calls from the hub itself only; no inline script or style, no framing, no
 * plugins. `img-src data:` is for the empty favicon. Relative to the page's own origin, so the same
 * policy holds over http and https.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const COMMON = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
};

/** The page itself: always revalidated, so a new hub's assets are picked up at once. */
export const INDEX_HEADERS = {
  ...COMMON,
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-cache",
};

/** A content-hashed asset: its name changes with its bytes, so it may be kept for a year. */
export function assetHeaders(contentType: string): Record<string, string> {
  return { ...COMMON, "content-type": contentType, "cache-control": "public, max-age=31536000, immutable" };
}
