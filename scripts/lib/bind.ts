/**
 * A throwaway authoritative DNS server for tests: Debian's bind9 `named` in the foreground on a free
 * loopback port, its own config in a temp dir, one primary zone that takes TXT updates signed with one
 * TSIG key (what the rfc2136 solver is tested against).
 *
 * @example
 * await using dns = await startBind({ dir, zone: "example.test" });
 * // dns.server ("127.0.0.1:<port>"), dns.keyName, dns.secret (base64)
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { startBackground } from "@powernode/exec";
import { freePort } from "./postgres.ts";

const NAMED = "/usr/sbin/named";

export interface Bind {
  /** `127.0.0.1:<port>` (UDP and TCP). */
  server: string;
  zone: string;
  keyName: string;
  algorithm: "hmac-sha256";
  /** The key's secret, base64. */
  secret: string;
  logFile: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** Starts named; throws naming the package when it is missing, or with named's log when it exits. */
export async function startBind(opts: { dir: string; zone: string }): Promise<Bind> {
  if (!existsSync(NAMED)) throw new Error(`${NAMED} not found: install the bind9 package (npm run setup)`);
  mkdirSync(opts.dir, { recursive: true });
  const port = await freePort();
  const keyName = "powernode-acme";
  const secret = randomBytes(32).toString("base64");
  const zoneFile = join(opts.dir, `${opts.zone}.zone`);
  writeFileSync(
    zoneFile,
    [
      "$TTL 60",
      `@ IN SOA ns.${opts.zone}. hostmaster.${opts.zone}. 1 60 60 600 60`,
      `@ IN NS ns.${opts.zone}.`,
      "ns IN A 127.0.0.1",
      "",
    ].join("\n"),
  );
  const conf = join(opts.dir, "named.conf");
  writeFileSync(
    conf,
    `options {
  directory "${opts.dir}";
  pid-file "${join(opts.dir, "named.pid")}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
key "${keyName}" { algorithm hmac-sha256; secret "${secret}"; };
zone "${opts.zone}" {
  type primary;
  file "${zoneFile}";
  update-policy { grant ${keyName} zonesub TXT; };
};
`,
  );
  const logFile = join(opts.dir, "named.log");
  const proc = startBackground(NAMED, ["-g", "-4", "-c", conf], { logFile });
  const stop = async () => {
    await proc.stop();
  };
  const deadline = Date.now() + 20_000;
  while (!(await tcpOpen(port))) {
    if (!proc.running()) throw proc.failure(await proc.exited);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`timed out after 20 s waiting for named on 127.0.0.1:${port} (log ${logFile})`);
    }
    await Bun.sleep(100);
  }
  return {
    server: `127.0.0.1:${port}`,
    zone: opts.zone,
    keyName,
    algorithm: "hmac-sha256",
    secret,
    logFile,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
