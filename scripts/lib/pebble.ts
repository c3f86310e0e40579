/**
 * A throwaway ACME test CA for tests, smokes and benchmarks: Debian's `pebble` and `pebble-challtestsrv`
 * on free loopback ports, with a listener certificate made here (the package ships none). Pebble's
 * roots are regenerated at every start: read them from `managementUrl/roots/0`.
 *
 * @example
 * await using acme = await startPebble({ dir });
 * // acme.directoryUrl, acme.listenerCaPem (trust for the ACME server's TLS), acme.challtestsrvUrl
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BackgroundProcess, startBackground } from "@powernode/exec";
import { run } from "./exec.ts";
import { freePort } from "./postgres.ts";

export interface Pebble {
  /** `https://127.0.0.1:<port>/dir`. */
  directoryUrl: string;
  /** `https://127.0.0.1:<port>`: /roots/0, /intermediates/0, /cert-status-by-serial/<hex>. */
  managementUrl: string;
  /** challtestsrv's management API (`/set-txt`, `/clear-txt`), or undefined with `dnsServer` given. */
  challtestsrvUrl: string | undefined;
  /** The DNS server Pebble validates against (challtestsrv's, or the one given). */
  dnsServer: string;
  /** The self-signed certificate of Pebble's listeners (PEM): what clients trust for its TLS. */
  listenerCaPem: string;
  logFile: string;
  /** Pebble's test root (PEM), fetched from the management API. */
  root(): Promise<string>;
  /** `Valid` or `Revoked` for a serial (hex, no separators), from the management API. */
  certStatus(serialHex: string): Promise<string>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartPebbleOptions {
  /** Scratch directory for the config, the listener key and the logs. */
  dir: string;
  /** `host:port` of a DNS server Pebble resolves challenges with; default: a challtestsrv started here. */
  dnsServer?: string;
}

const PEBBLE = "/usr/bin/pebble";
const CHALLTESTSRV = "/usr/bin/pebble-challtestsrv";

async function fetchTls(url: string, ca: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, tls: { ca } } as RequestInit);
}

async function waitHttp(what: string, probe: () => Promise<boolean>, proc: BackgroundProcess) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (!proc.running()) throw proc.failure(await proc.exited);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after 20 s waiting for ${what} (log ${proc.logFile})`);
    await Bun.sleep(100);
  }
}

/** Starts challtestsrv (unless `dnsServer` is given) and Pebble; throws naming a missing package. */
export async function startPebble(opts: StartPebbleOptions): Promise<Pebble> {
  for (const bin of [PEBBLE, CHALLTESTSRV])
    if (!existsSync(bin)) throw new Error(`${bin} not found: install the pebble package (npm run setup)`);
  mkdirSync(opts.dir, { recursive: true });
  const procs: BackgroundProcess[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop();
  };
  try {
    let dnsServer = opts.dnsServer;
    let challtestsrvUrl: string | undefined;
    if (!dnsServer) {
      const [dnsPort, mgmtPort] = [await freePort(), await freePort()];
      dnsServer = `127.0.0.1:${dnsPort}`;
      challtestsrvUrl = `http://127.0.0.1:${mgmtPort}`;
      const ctsrv = startBackground(
        CHALLTESTSRV,
        [
          ...["-dns01", dnsServer, "-http01", "", "-https01", "", "-tlsalpn01", ""],
          ...["-management", `127.0.0.1:${mgmtPort}`, "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"],
        ],
        { logFile: join(opts.dir, "challtestsrv.log") },
      );
      procs.push(ctsrv);
      const url = challtestsrvUrl;
      await waitHttp(
        "challtestsrv's management API",
        async () => (await fetch(`${url}/clear-txt`, { method: "POST", body: '{"host":"x."}' })).ok,
        ctsrv,
      );
    }
    const key = join(opts.dir, "listener-key.pem");
    const cert = join(opts.dir, "listener-cert.pem");
    await run("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ]);
    const [acmePort, mgmtPort] = [await freePort(), await freePort()];
    const config = join(opts.dir, "pebble.json");
    writeFileSync(
      config,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: cert,
          privateKey: key,
          httpPort: 5002,
          tlsPort: 5001,
          ocspResponderURL: "",
          externalAccountBindingRequired: false,
        },
      }),
    );
    const logFile = join(opts.dir, "pebble.log");
    const pebble = startBackground(PEBBLE, ["-config", config, "-dnsserver", dnsServer], {
      logFile,
      env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    });
    procs.push(pebble);
    const listenerCaPem = readFileSync(cert, "utf8");
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    const managementUrl = `https://127.0.0.1:${mgmtPort}`;
    await waitHttp(
      "Pebble's directory",
      async () =>
        (await fetchTls(directoryUrl, listenerCaPem)).ok &&
        (await fetchTls(`${managementUrl}/roots/0`, listenerCaPem)).ok,
      pebble,
    );
    return {
      directoryUrl,
      managementUrl,
      challtestsrvUrl,
      dnsServer,
      listenerCaPem,
      logFile,
      root: async () => (await fetchTls(`${managementUrl}/roots/0`, listenerCaPem)).text(),
      async certStatus(serialHex) {
        const r = await fetchTls(`${managementUrl}/cert-status-by-serial/${serialHex}`, listenerCaPem);
        if (!r.ok) throw new Error(`pebble cert-status-by-serial/${serialHex}: HTTP ${r.status}`);
        return ((await r.json()) as { Status: string }).Status;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
