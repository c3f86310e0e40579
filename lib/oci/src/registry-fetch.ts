/**
 * A `fetch` for OCI registries that speaks the distribution auth flow and follows redirects itself:
 *
 * - a 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` is answered by fetching a
 *   token from the realm (with basic credentials when the credential is basic, anonymously without
 *   one) and retrying once with `Authorization: Bearer <token>`; a bearer credential is sent as it is;
 * - a 401 with `WWW-Authenticate: Basic` is retried once with the basic credential;
 * - 3xx answers (blob storage behind the registry) are followed up to 5 times; `Authorization` is
 *   dropped when the redirect leaves the registry's origin (a presigned URL carries its own).
 *
 * The credential is asked for only when a registry challenges, and the header that worked is reused
 * for later requests to the same origin. Every other answer is returned to the caller unchanged, so
 * the client's errors still carry the registry's status and code.
 */

/** What a registry is answered with. */
export type RegistryCredential =
  | { kind: "basic"; username: string; password: string }
  | { kind: "bearer"; token: string };

export interface RegistryFetchOptions {
  /** The credential to answer a challenge with; undefined: anonymous. Called at most once per challenge. */
  credential?: () => Promise<RegistryCredential | undefined> | RegistryCredential | undefined;
  fetch?: typeof fetch;
  /** Redirects followed per request (default 5). */
  maxRedirects?: number;
}

/** One parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: "bearer" | "basic";
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://a/token",service="reg",scope="repository:x:pull"` (first challenge only). */
export function parseChallenge(header: string | null): Challenge | undefined {
  const m = /^\s*(Bearer|Basic)\b\s*(.*)$/is.exec(header ?? "");
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let p = re.exec(m[2] ?? ""); p; p = re.exec(m[2] ?? "")) {
    params[(p[1] ?? "").toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme: (m[1] ?? "").toLowerCase() as Challenge["scheme"], params };
}

const basicHeader = (c: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

/** The error a token endpoint gives; thrown so the caller names the registry and the status. */
export class RegistryAuthError extends Error {
  readonly kind = "http";
  override name = "RegistryAuthError";
  constructor(
    message: string,
    readonly details: { status?: number } = {},
  ) {
    super(message);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A fetch for one registry client (see the file comment). */
export function createRegistryFetch(o: RegistryFetchOptions = {}): typeof fetch {
  const base = o.fetch ?? fetch;
  const maxRedirects = o.maxRedirects ?? 5;
  /** The Authorization that worked last, per origin. */
  const known = new Map<string, string>();
  let credential: Promise<RegistryCredential | undefined> | undefined;
  const getCredential = () => {
    credential ??= Promise.resolve(o.credential?.());
    return credential;
  };

  const authorize = async (challenge: Challenge, origin: string, signal?: AbortSignal | null) => {
    const cred = await getCredential();
    if (challenge.scheme === "basic") {
      if (!cred) return undefined;
      return cred.kind === "basic"
        ? basicHeader(cred)
        : basicHeader({ username: "token", password: cred.token });
    }
    if (cred?.kind === "bearer") return `Bearer ${cred.token}`;
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryAuthError(`${origin}: Bearer challenge without a realm`);
    const url = new URL(realm, origin);
    for (const k of ["service", "scope"] as const) {
      const v = challenge.params[k];
      if (v) url.searchParams.set(k, v);
    }
    const res = await base(url, {
      headers: cred ? { authorization: basicHeader(cred) } : {},
      signal: signal ?? undefined,
    });
    if (!res.ok) {
      await res.body?.cancel();
      // Anonymous: the registry's own 401 goes back to the caller.
      if (!cred) return undefined;
      throw new RegistryAuthError(
        `${origin}: token endpoint ${url.origin}${url.pathname}: HTTP ${res.status}`,
        {
          status: res.status,
        },
      );
    }
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" ? body.token : body.access_token;
    if (typeof token !== "string" || token === "")
      throw new RegistryAuthError(`${origin}: token endpoint ${url.origin}${url.pathname} gave no token`);
    return `Bearer ${token}`;
  };

  const f = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body;
    const origin = url.origin;
    const headers = new Headers(init.headers);
    const preset = headers.get("authorization");
    if (!preset && known.has(origin)) headers.set("authorization", known.get(origin) as string);
    let challenged = false;
    for (let hop = 0; ; hop++) {
      const res = await base(url, { ...init, method, body, headers, redirect: "manual" });
      if (res.status === 401 && !challenged && url.origin === origin) {
        const challenge = parseChallenge(res.headers.get("www-authenticate"));
        const header = challenge && (await authorize(challenge, origin, init.signal));
        if (header) {
          await res.body?.cancel();
          challenged = true;
          headers.set("authorization", header);
          known.set(origin, header);
          continue;
        }
      }
      const location = res.headers.get("location");
      if (!REDIRECTS.has(res.status) || !location) return res;
      if (hop >= maxRedirects) return res;
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== origin) headers.delete("authorization");
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = undefined;
      }
      url = next;
    }
  };
  return Object.assign(f, { preconnect: base.preconnect }) as typeof fetch;
}
