/**
 * `pnctl docker ...`: managed Docker hosts. `client-cert` makes a key here, has the hub sign it, and
 * writes what `docker --tlsverify` reads from DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { type DockerHost, DockerHostStatus, DockerService } from "@powernode/proto";
import { toPem } from "../ca/signer.ts";
import { flag } from "./args.ts";
import { type CommandGroup, required, table, ts, unknownVerb } from "./shared.ts";

const STATUS: Record<DockerHostStatus, string> = {
  [DockerHostStatus.UNSPECIFIED]: "unknown",
  [DockerHostStatus.PENDING]: "pending",
  [DockerHostStatus.CONNECTED]: "connected",
  [DockerHostStatus.DISCONNECTED]: "disconnected",
};

function view(h: DockerHost) {
  return {
    id: h.id,
    node: h.nodeId,
    endpoint: h.apiEndpoint,
    status: STATUS[h.status],
    version: h.dockerVersion,
    readyAt: ts(h.daemonReadyAt),
    lastError: h.lastError,
  };
}

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function keyAndCsr(cn: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [cn] }],
    keys,
    signingAlgorithm: EC,
  });
  const keyPem = toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  return { keyPem, csrPem: csr.toString("pem") };
}

export const dockerCommands: CommandGroup = {
  name: "docker",
  usage: `  docker ls                          (managed Docker hosts: endpoint, status, daemon version)
  docker provision NODE              (the node's managed host; the node must be in an overlay network)
  docker show|rm HOST                (rm: dockerd stops on the node, its keys are removed)
  docker client-cert NAME --out DIR  (a client key + certificate for docker --tlsverify in DIR)`,
  async run(ctx) {
    const docker = ctx.client(DockerService);
    switch (ctx.verb) {
      case "ls": {
        const rows = (await docker.listDockerHosts({})).hosts.map(view);
        ctx.print(rows, () =>
          table([
            ["ID", "NODE", "ENDPOINT", "STATUS", "VERSION"],
            ...rows.map((r) => [r.id, r.node, r.endpoint, r.status, r.version]),
          ]),
        );
        return 0;
      }
      case "provision": {
        const r = await docker.provisionDockerHost({ nodeId: required(ctx, 0, "NODE") });
        const v = { ...(r.host ? view(r.host) : {}), created: r.created };
        ctx.print(v, () => [
          `${r.created ? "provisioned" : "already provisioned"}: ${v.id} at ${v.endpoint}`,
        ]);
        return 0;
      }
      case "show": {
        const r = await docker.getDockerHost({ hostId: required(ctx, 0, "HOST") });
        const v = r.host ? view(r.host) : {};
        ctx.print(v, () => Object.entries(v).map(([k, x]) => `${k}: ${x}`));
        return 0;
      }
      case "rm": {
        const r = await docker.decommissionDockerHost({ hostId: required(ctx, 0, "HOST") });
        ctx.print({ decommissioned: r.hostId }, () => [`decommissioned ${r.hostId}`]);
        return 0;
      }
      case "client-cert": {
        const name = required(ctx, 0, "NAME");
        const out = flag(ctx.args, "out") ?? ".";
        const { keyPem, csrPem } = await keyAndCsr(`docker-client-${name}`);
        const r = await docker.issueDockerClientCertificate({ name, csrPem });
        mkdirSync(out, { recursive: true, mode: 0o700 });
        writeFileSync(join(out, "key.pem"), keyPem, { mode: 0o600 });
        writeFileSync(join(out, "cert.pem"), r.certPem);
        writeFileSync(join(out, "ca.pem"), r.caPem);
        const v = { dir: out, serial: r.serial, notAfter: ts(r.notAfter) };
        ctx.print(v, () => [
          `wrote ${out}/{ca,cert,key}.pem (serial ${r.serial}, valid until ${v.notAfter})`,
          `use: DOCKER_CERT_PATH=${out} DOCKER_TLS_VERIFY=1 DOCKER_HOST=tcp://[<address>]:2376 docker version`,
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, dockerCommands);
    }
  },
};
