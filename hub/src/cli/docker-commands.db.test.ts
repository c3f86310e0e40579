/** `pnctl docker` against a real hub: provision, ls, client-cert (files docker reads), rm, errors. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enrollTestNode, startTestHub } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { cliFor } from "./test-cli.ts";

let hub: RunningHub;
const dir = mkdtempSync(join(tmpdir(), "pnctl-docker-"));
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = cliFor(() => hub);

describe("pnctl docker", () => {
  test("provision, ls, client-cert, rm", async () => {
    const node = await enrollTestNode(hub, "cli-docker-a");
    const refused = await cli("docker", "provision", node.id);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("SDWAN");
    await cli("net", "create", "cli-docker-net");
    await cli("net", "join", "cli-docker-net", node.id);
    const made = JSON.parse((await cli("docker", "provision", node.id, "--json")).out) as {
      id: string;
      endpoint: string;
      status: string;
      created: boolean;
    };
    expect(made.created).toBe(true);
    expect(made.status).toBe("pending");
    expect(made.endpoint).toMatch(/^tcp:\/\/\[fd[0-9a-f:]+\]:2376$/);
    const ls = JSON.parse((await cli("docker", "ls", "--json")).out) as Array<{ id: string }>;
    expect(ls.map((h) => h.id)).toContain(made.id);

    const certs = join(dir, "certs");
    expect((await cli("docker", "client-cert", "ops", "--out", certs)).code).toBe(0);
    const cert = new X509Certificate(readFileSync(join(certs, "cert.pem")));
    const ca = new X509Certificate(readFileSync(join(certs, "ca.pem")));
    expect(cert.subject).toBe("CN=docker-client-ops");
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(
      cert.publicKey.equals(createPublicKey(createPrivateKey(readFileSync(join(certs, "key.pem"))))),
    ).toBe(true);
    expect(statSync(join(certs, "key.pem")).mode & 0o777).toBe(0o600);

    expect((await cli("docker", "rm", made.id)).code).toBe(0);
    const gone = await cli("docker", "show", made.id);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain("host_id");
  });
});
