/**
 * Pass 5, the operator listener over HTTPS (issue 14 item 4, decision 0026), with outside clients:
 * a hub named hub.example.test starts with the internal CA's certificate (ca.pem in its data dir);
 * pnctl (a process) and `buf curl` (the real buf binary) list the nodes over HTTPS with that CA, and
 * pnctl without it fails naming the fix; a plain-HTTP request gets no answer (curl); then an ACME
 * certificate for hub.example.test is issued from Pebble and the listener presents it without a restart,
 * verifiable by a client that trusts only Pebble's root.
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { caFile } from "@powernode/hub";
import { Arch } from "@powernode/proto";
import { peerCertificate } from "../../hub/test/harness.ts";
import { run } from "../../scripts/lib/exec.ts";
import type { Pebble } from "../../scripts/lib/pebble.ts";
import { startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { waitFor } from "../lib/wait.ts";

const repo = join(import.meta.dir, "../..");
const HUB_NAME = "hub.example.test";

export async function operatorTlsChecks(t: PassContext, pebble: Pebble, serverCaPem: string): Promise<void> {
  const s = await startSmokeHub(t, {
    operatorTls: true,
    hostnames: [HUB_NAME],
    acme: {
      directoryUrl: pebble.directoryUrl,
      email: "smoke@example.test",
      serverCaPem,
      retireSeconds: 3600,
    },
  });
  const { hub } = s;
  const ca = caFile(hub.deps.config.dataDir);
  const pnctl = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [join(repo, "hub/src/cli/main.ts"), "--url", hub.httpUrl, ...args], {
      env: { POWERNODE_TOKEN: hub.adminToken, POWERNODE_DATA: "/nonexistent", POWERNODE_CA_FILE: "", ...env },
      allowFailure: true,
      timeoutMs: 30_000,
    });

  await t.step("a node record to list (provider none)", () =>
    s.provision.createInstance({ name: "tls-probe", arch: Arch.AMD64, provider: "none" }),
  );
  const listsProbe = (nodes: { name?: string }[] | undefined) => {
    if (!nodes?.some((n) => n.name === "tls-probe")) throw new Error(`nodes ${JSON.stringify(nodes)}`);
    return `${nodes.length} node(s), tls-probe among them`;
  };

  await t.check("the operator listener answers HTTPS with the internal CA's certificate", async () => {
    if (!hub.httpUrl.startsWith("https://") || hub.operatorSource !== "internal-ca")
      throw new Error(`${hub.httpUrl} presents ${hub.operatorSource}`);
    const health = await fetch(`${hub.httpUrl}/healthz`, { tls: { ca: hub.caPem } } as RequestInit);
    if (health.status !== 200) throw new Error(`/healthz: ${health.status}`);
    return `${hub.httpUrl} (${hub.operatorSource}), CA in ${ca}`;
  });

  await t.check("pnctl with --hub-ca lists the nodes; without the CA it names the fix", async () => {
    const ok = await pnctl(["--hub-ca", ca, "nodes", "ls", "--json"]);
    if (ok.exitCode !== 0) throw new Error(`pnctl exit ${ok.exitCode}: ${ok.stderr}`);
    const listed = listsProbe(JSON.parse(ok.stdout) as { name: string }[]);
    const refused = await pnctl(["nodes", "ls"]);
    if (refused.exitCode !== 1 || !refused.stderr.includes("its certificate is not trusted"))
      throw new Error(`without the CA: exit ${refused.exitCode}: ${refused.stderr}`);
    return `${listed}; without the CA: ${refused.stderr.trim().slice(0, 120)}`;
  });

  await t.check("buf curl --cacert calls FleetService/ListNodes over HTTPS (Connect)", async () => {
    const r = await run(
      join(repo, "proto/node_modules/.bin/buf"),
      [
        "curl",
        "--schema",
        join(repo, "proto"),
        "--protocol",
        "connect",
        "--cacert",
        ca,
        "-H",
        `Authorization: Bearer ${hub.adminToken}`,
        "--data",
        "{}",
        `${hub.httpUrl}/powernode.v1.FleetService/ListNodes`,
      ],
      { timeoutMs: 30_000 },
    );
    return listsProbe((JSON.parse(r.stdout) as { nodes?: { name: string }[] }).nodes);
  });

  await t.check("a plain-HTTP request to the port gets no answer", async () => {
    const plain = hub.httpUrl.replace("https://", "http://");
    const r = await run(
      "curl",
      ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", `${plain}/healthz`],
      {
        allowFailure: true,
        timeoutMs: 20_000,
      },
    );
    // 52: empty reply, 56: connection reset. Any HTTP status would mean it was served.
    if (![52, 56].includes(r.exitCode)) throw new Error(`curl exit ${r.exitCode}, status ${r.stdout}`);
    const metrics = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
      tls: { ca: hub.caPem },
    } as RequestInit);
    const counted = /^powernode_operator_plain_http_refused_total(?:\{\})? (\d+)/m.exec(await metrics.text());
    if (!counted || Number(counted[1]) < 1) throw new Error("not counted in /metrics");
    return `curl exit ${r.exitCode}; powernode_operator_plain_http_refused_total ${counted[1]}`;
  });

  await t.check(
    `an ACME certificate for ${HUB_NAME} from Pebble is presented without a restart`,
    async () => {
      const { certs } = s;
      await certs.createDnsProvider({
        name: "challtestsrv",
        type: "challtestsrv",
        settings: { url: pebble.challtestsrvUrl ?? "" },
      });
      const issued = await certs.issueCertificate({
        domains: [HUB_NAME],
        dnsProvider: "challtestsrv",
        name: "hub",
      });
      const got = await certs.getCertificate({ certificate: "hub" });
      const want = new X509Certificate(got.certificatePem).serialNumber.toLowerCase();
      const root = await pebble.root();
      // Trusting only Pebble's root: the listener sends the leaf with its chain, for the hub's name.
      const leaf = await waitFor(
        "the operator listener to present the ACME certificate",
        async () => {
          const l = await peerCertificate(hub.httpUrl, root, HUB_NAME).catch(() => undefined);
          return l?.serialNumber.toLowerCase() === want ? l : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      return `serial ${issued.certificate?.active?.serial} issued by ${leaf.issuer?.CN}, verified against Pebble's root`;
    },
  );
}
