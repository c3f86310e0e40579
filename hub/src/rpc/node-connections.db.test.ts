/**
 * The node listener's connection limits on a real hub: connections per source address, and the
 * headers, body and idle timeouts (short ones here; the defaults are checked in limits.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as connectH2 } from "node:http2";
import { connect as connectTcp } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import { createClient } from "@connectrpc/connect";
import { NodeService } from "@powernode/proto";
import {
  assignTestModules,
  enrollTestNode,
  nodeTransport,
  startTestHub,
  waitFor,
} from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { DEFAULT_LIMITS } from "../limits.ts";

const TIMEOUT_MS = 400;
let hub: RunningHub;
let port: number;
beforeAll(async () => {
  hub = await startTestHub({
    limits: {
      ...DEFAULT_LIMITS,
      headersTimeoutMs: TIMEOUT_MS,
      bodyTimeoutMs: TIMEOUT_MS,
      idleTimeoutMs: 3 * TIMEOUT_MS,
    },
  });
  port = Number(new URL(hub.mtlsUrl).port);
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

/** A TLS connection to a node listener (HTTP/1.1 by ALPN), resolved once the handshake is done. */
function openTls(on: RunningHub = hub): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connectTls(
      {
        host: "127.0.0.1",
        port: Number(new URL(on.mtlsUrl).port),
        ca: on.caPem,
        servername: "localhost",
        ALPNProtocols: ["http/1.1"],
      },
      () => resolve(s),
    );
    s.once("error", reject);
    s.once("close", () => reject(new Error("closed before the TLS handshake finished")));
  });
}

/** Resolves when `s` is closed, with the milliseconds it took from now. */
function closed(s: { once(e: "close", f: () => void): unknown }): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => s.once("close", () => resolve(performance.now() - t0)));
}

const timeouts = async (kind: string) => {
  const text = await (
    await fetch(`${hub.httpUrl}/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` } })
  ).text();
  return Number(
    new RegExp(`powernode_node_timeouts_total\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? "0",
  );
};

describe("timeouts on the node listener", () => {
  test("a half-sent request (headers cut off after the TLS handshake) is dropped", async () => {
    const s = await openTls();
    s.on("error", () => {});
    const done = closed(s);
    s.write("POST /powernode.v1.NodeService/Enroll HTTP/1.1\r\nHost: hub\r\nContent-Ty");
    const ms = await done;
    expect(ms).toBeLessThan(30_000);
    expect(await timeouts("headers")).toBeGreaterThanOrEqual(1);
  });

  test("a request whose body stops halfway is dropped (HTTP/1.1: the connection)", async () => {
    const before = await timeouts("body");
    const s = await openTls();
    s.on("error", () => {});
    const done = closed(s);
    s.write(
      "POST /powernode.v1.NodeService/Enroll HTTP/1.1\r\nHost: hub\r\nContent-Type: application/proto\r\nContent-Length: 100\r\n\r\n\x0a\x05",
    );
    expect(await done).toBeLessThan(30_000);
    expect(await timeouts("body")).toBe(before + 1);
  });

  test("a request whose body stops halfway is dropped (HTTP/2: the stream is reset, the session stays)", async () => {
    const session = connectH2(hub.mtlsUrl, { ca: hub.caPem });
    try {
      const req = session.request({
        ":method": "POST",
        ":path": "/powernode.v1.NodeService/Enroll",
        "content-type": "application/proto",
      });
      req.on("error", () => {});
      const done = closed(req);
      req.write(new Uint8Array([0x0a, 0x05]));
      expect(await done).toBeLessThan(30_000);
      expect(req.rstCode).toBe(8); // NGHTTP2_CANCEL
      expect(session.destroyed).toBe(false);
    } finally {
      session.close();
    }
  });

  test("a node call on the direct path whose body stops halfway is reset the same way, and counted", async () => {
    const node = await enrollTestNode(hub, "stalled-body");
    const before = await timeouts("body");
    const session = connectH2(hub.mtlsUrl, { ca: hub.caPem, cert: node.certPem, key: node.keyPem });
    try {
      const req = session.request({
        ":method": "POST",
        ":path": "/powernode.v1.NodeService/Heartbeat",
        "content-type": "application/proto",
        "connect-protocol-version": "1",
      });
      req.on("error", () => {});
      const done = closed(req);
      req.write(new Uint8Array([0x0a, 0x05]));
      expect(await done).toBeLessThan(30_000);
      expect(req.rstCode).toBe(8); // NGHTTP2_CANCEL
      expect(session.destroyed).toBe(false);
      expect(await timeouts("body")).toBe(before + 1);
    } finally {
      session.close();
    }
  });

  test("an HTTP/2 session without a client certificate that sends no request is closed with GOAWAY", async () => {
    const session = connectH2(hub.mtlsUrl, { ca: hub.caPem });
    session.on("error", () => {});
    const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    const done = closed(session);
    await goaway;
    expect(await done).toBeLessThan(30_000);
  });

  test("an HTTP/2 session with a node certificate may idle longer (the idle timeout), then gets GOAWAY", async () => {
    const node = await enrollTestNode(hub, "timeouts-idle");
    const session = connectH2(hub.mtlsUrl, { ca: hub.caPem, cert: node.certPem, key: node.keyPem });
    session.on("error", () => {});
    const done = closed(session);
    await new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    // Not closed by the (shorter) headers timeout: only the idle one applies to it.
    expect(await done).toBeGreaterThan(2 * TIMEOUT_MS);
    expect(await timeouts("idle")).toBeGreaterThanOrEqual(1);
  });

  test("a TCP connection that never starts TLS is dropped", async () => {
    const s = connectTcp({ host: "127.0.0.1", port });
    s.on("error", () => {});
    expect(await closed(s)).toBeLessThan(30_000);
  });

  test("an authenticated stream outlives the timeouts: WatchDesiredState still delivers after others were dropped", async () => {
    const node = await enrollTestNode(hub, "timeouts-watch");
    const client = createClient(NodeService, nodeTransport(hub, node));
    const ac = new AbortController();
    const versions: bigint[] = [];
    const watching = (async () => {
      for await (const m of client.watchDesiredState({ knownVersion: 0n }, { signal: ac.signal })) {
        if (m.state) versions.push(m.state.version);
      }
    })().catch(() => {});
    try {
      await waitFor("the first desired state", () => (versions.length > 0 ? true : undefined));
      // Several timeout periods pass, measured by connections the hub drops meanwhile.
      const before = await timeouts("headers");
      for (let i = 0; i < 3; i++) {
        const s = await openTls();
        s.on("error", () => {});
        await closed(s);
      }
      expect(await timeouts("headers")).toBeGreaterThanOrEqual(before + 3);
      const v = await assignTestModules(hub, node.id, [
        { name: "late", version: "1", metadataDigest: "a".repeat(64), verityRootHash: "b".repeat(64) },
      ]);
      await waitFor("the new version on the old stream", () =>
        versions.includes(BigInt(v)) ? true : undefined,
      );
    } finally {
      ac.abort();
      await watching;
    }
  }, 30_000);
});

describe("connections per source address", () => {
  test("past the cap a connection is closed at once; below it again, one is accepted; loopback is exempt by default", async () => {
    await using capped = await startTestHub({
      limits: { ...DEFAULT_LIMITS, maxConnectionsPerAddress: 3, exemptAddresses: [] },
    });
    const cappedPort = Number(new URL(capped.mtlsUrl).port);
    const open: TLSSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = await openTls(capped);
        s.on("error", () => {});
        open.push(s);
      }
      const fourth = connectTcp({ host: "127.0.0.1", port: cappedPort });
      fourth.on("error", () => {});
      await closed(fourth);
      const text = await (
        await fetch(`${capped.httpUrl}/metrics`, {
          headers: { authorization: `Bearer ${capped.adminToken}` },
        })
      ).text();
      expect(text).toContain("powernode_node_connections_refused_total 1");
      const first = open.shift() as TLSSocket;
      const gone = closed(first);
      first.destroy();
      await gone;
      const again = await waitFor("a connection accepted below the cap", async () => {
        const s = await openTls(capped).catch(() => undefined);
        if (!s) return undefined;
        const answer = await new Promise<string | undefined>((resolve) => {
          s.once("data", (d: Buffer) => resolve(d.toString()));
          s.once("close", () => resolve(undefined));
          s.write("GET /v2/ HTTP/1.1\r\nHost: hub\r\n\r\n");
        });
        return answer === undefined ? undefined : { s, answer };
      });
      open.push(again.s);
      // The registry's base route answers (401 + the anonymous token realm, as any OCI registry does).
      expect(again.answer).toContain("docker-distribution-api-version: registry/2.0");
      // The hub of the other tests exempts loopback (the default): five at once are all served.
      const many = await Promise.all([1, 2, 3, 4, 5].map(() => openTls()));
      open.push(...many);
    } finally {
      for (const s of open) s.destroy();
    }
  }, 30_000);
});
