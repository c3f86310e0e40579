import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Arch, FleetService, ProvisionService } from "@powernode/proto";
import { operatorClient, peerCertificate, quietLog, startTestHub } from "../test/harness.ts";
import { startHub } from "./hub.ts";

describe("startHub", () => {
  test("reports real ports, a node URL on the real mTLS port, and a server certificate with every SAN", async () => {
    const hub = await startTestHub({ hostnames: ["hub.example", "192.0.2.7"] });
    try {
      const http = new URL(hub.httpUrl);
      const mtls = new URL(hub.mtlsUrl);
      expect(Number(http.port)).toBeGreaterThan(0);
      expect(Number(mtls.port)).toBeGreaterThan(0);
      expect(hub.nodeUrl).toBe(`https://10.0.2.2:${mtls.port}`);
      expect(hub.adminToken).toMatch(/^pna_/);
      expect(hub.adminTokenCreated).toBe(true);
      const cert = await peerCertificate(hub.mtlsUrl, hub.caPem);
      expect(cert.subjectaltname?.split(", ").sort()).toEqual(
        [
          "DNS:hub.example",
          "DNS:localhost",
          "IP Address:10.0.2.2",
          "IP Address:127.0.0.1",
          "IP Address:192.0.2.7",
          "IP Address:0:0:0:0:0:0:0:1",
        ].sort(),
      );
    } finally {
      await hub.stop();
    }
    // The temporary data dir made by startHub is gone.
    expect(existsSync(hub.deps.config.dataDir)).toBe(false);
    // The first PGlite of a process compiles its WASM (about 3 s on a busy machine).
  }, 30_000);

  test("nodeHost: node URLs on that address and the real ports, and the certificate names it", async () => {
    const hub = await startTestHub({ nodeHost: "10.203.1.1" });
    try {
      const http = new URL(hub.httpUrl);
      const mtls = new URL(hub.mtlsUrl);
      expect(hub.nodeUrl).toBe(`https://10.203.1.1:${mtls.port}`);
      expect(hub.nodeHttpUrl).toBe(`http://10.203.1.1:${http.port}`);
      expect(hub.deps.config.nodeHttpUrl).toBe(hub.nodeHttpUrl);
      const cert = await peerCertificate(hub.mtlsUrl, hub.caPem);
      expect(cert.subjectaltname?.split(", ")).toContain("IP Address:10.203.1.1");
      expect(cert.subjectaltname?.split(", ")).toContain("IP Address:10.0.2.2");
    } finally {
      await hub.stop();
    }
    await expect(startTestHub({ nodeHost: "10.203.1.1/24" })).rejects.toThrow(
      'nodeHost: "10.203.1.1/24" is not a host name or IP',
    );
  }, 30_000);

  test("a restart on the same data dir (PGlite on disk) keeps the CA, the admin token and the records", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "pn-restart-"));
    try {
      const opts = { dataDir, databaseUrl: undefined, listenHost: "127.0.0.1", log: quietLog, providers: [] };
      const first = await startHub(opts);
      const created = await operatorClient(first, ProvisionService).createInstance({
        name: "survivor",
        arch: Arch.AMD64,
        provider: "none",
      });
      await first.stop();
      expect(existsSync(dataDir)).toBe(true);
      const second = await startHub(opts);
      try {
        expect(second.caPem).toBe(first.caPem);
        expect(second.adminToken).toBe(first.adminToken);
        expect(second.adminTokenCreated).toBe(false);
        const node = await operatorClient(second, FleetService).getNode({ id: created.instance?.id ?? "" });
        expect(node.node?.name).toBe("survivor");
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
