/**
 * The client address of a fetch Request the operator TLS listener built from a `node:http2` request
 * (operator-server.ts): Elysia then runs without Bun's server, so `server.requestIP` is not there.
 * Kept beside the Request object, never in a header a client could send.
 */
const addressOf = new WeakMap<Request, string>();

export function setRequestAddress(request: Request, address: string | undefined): void {
  if (address) addressOf.set(request, address);
}

/** The address recorded for `request`, else what Bun's server says (the plain-HTTP listener). */
export function requestAddress(
  request: Request,
  server: { requestIP(r: Request): { address: string } | null } | null | undefined,
): string | undefined {
  return addressOf.get(request) ?? server?.requestIP(request)?.address;
}
