/**
 * The rfc2136 solver: DNS UPDATE (RFC 2136) signed with TSIG to the zone's primary server over UDP,
 * then a TXT query to that server until the record is served. Settings: `server` (host:port),
 * `zone`, `key_name`, `algorithm` (hmac-sha256 default); the secret is the key's base64.
 */
import { createSocket } from "node:dgram";
import {
  buildTxtQuery,
  buildTxtUpdate,
  checkUpdateAnswer,
  parseAnswer,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
  type TsigKey,
  txtValues,
} from "./dns-wire.ts";
import type { DnsProviderConfig, DnsSolver } from "./solver.ts";

const TIMEOUT_MS = 5000;

/** Sends one datagram to `server` and resolves with the answer whose id is `id`. */
export function udpExchange(server: string, bytes: Buffer, id: number, signal: AbortSignal): Promise<Buffer> {
  const m = server.match(/^\[?([^\]]+?)\]?:(\d+)$/);
  if (!m?.[1] || !m[2]) return Promise.reject(new Error(`server: "${server}" is not host:port`));
  const [host, port] = [m[1], Number(m[2])];
  return new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    const done = (e: Error | undefined, msg?: Buffer) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      sock.close();
      if (e) reject(e);
      else resolve(msg as Buffer);
    };
    const onAbort = () => done(new Error(`DNS exchange with ${server}: aborted`));
    const timer = setTimeout(
      () => done(new Error(`DNS server ${server} did not answer in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    sock.on("error", (e) => done(new Error(`DNS exchange with ${server}: ${e.message}`, { cause: e })));
    sock.on("message", (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(undefined, msg);
    });
    sock.send(bytes, port, host);
  });
}

/** Parses the provider's settings into the key and server; throws naming the field. */
export function rfc2136Settings(cfg: DnsProviderConfig): { server: string; zone: string; key: TsigKey } {
  const { server, zone, key_name: keyName } = cfg.settings;
  const algorithm = (cfg.settings.algorithm || "hmac-sha256") as TsigAlgorithm;
  if (!server || !/^\[?[^\]\s]+\]?:\d+$/.test(server))
    throw new Error(`settings.server: "${server ?? ""}" is not host:port`);
  if (!zone) throw new Error("settings.zone: missing (the zone the records are updated in)");
  if (!keyName) throw new Error("settings.key_name: missing (the TSIG key's name)");
  if (!(algorithm in TSIG_ALGORITHMS))
    throw new Error(
      `settings.algorithm: "${algorithm}" is not one of ${Object.keys(TSIG_ALGORITHMS).join(", ")}`,
    );
  const secret = Buffer.from(cfg.secret.trim(), "base64");
  if (secret.length < 16) throw new Error("secret: the TSIG secret must be base64 of at least 16 bytes");
  return { server, zone, key: { name: keyName, algorithm, secret } };
}

export function createRfc2136Solver(cfg: DnsProviderConfig): DnsSolver {
  const { server, zone, key } = rfc2136Settings(cfg);
  const update = async (op: "add" | "delete", fqdn: string, value: string, signal: AbortSignal) => {
    const msg = buildTxtUpdate({ zone, fqdn, value, op, ttl: 60, key });
    const answer = await udpExchange(server, msg.bytes, msg.id, signal);
    const problem = checkUpdateAnswer(answer, msg, key);
    if (problem) throw new Error(`rfc2136 ${server}: ${op} TXT ${fqdn}: ${problem}`);
  };
  const served = async (fqdn: string, signal: AbortSignal): Promise<string[]> => {
    const q = buildTxtQuery(fqdn);
    return txtValues(parseAnswer(await udpExchange(server, q.bytes, q.id, signal)).answers);
  };
  return {
    type: "rfc2136",
    async createTxt(fqdn, value, signal) {
      await update("add", fqdn, value, signal);
      for (let i = 0; i < 50; i++) {
        if ((await served(fqdn, signal)).includes(value)) return;
        await Bun.sleep(100);
      }
      throw new Error(`rfc2136 ${server}: TXT ${fqdn} accepted but not served after 5 s`);
    },
    removeTxt: (fqdn, value, signal) => update("delete", fqdn, value, signal),
    async check(signal) {
      // A signed delete of a record that cannot exist: the server checks the key and answers NOERROR.
      await update("delete", `_powernode-preflight.${zone}`, "preflight", signal);
      return `${server} accepted a TSIG-signed update of ${zone} with key ${key.name}`;
    },
  };
}
