import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  Arch,
  CatalogService,
  type DesiredState,
  NodeService,
  ProvisionService,
  RegistryNodeService,
  RegistryService,
} from "@powernode/proto";
import { eq } from "drizzle-orm";
import { makeCsr, nodeTransport, operatorClient, startTestHub } from "../../test/harness.ts";
import { fleetEvents, registries } from "../db/schema/index.ts";
import type { RunningHub } from "../hub.ts";

let hub: RunningHub;
let reg: ReturnType<typeof operatorClient<typeof RegistryService>>;
const DIGEST = `sha256:${"c".repeat(64)}`;

beforeAll(async () => {
  hub = await startTestHub({ moduleRegistryUrl: "http://10.0.2.2:18080" });
  reg = operatorClient(hub, RegistryService);
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

const code = (e: unknown) => ConnectError.from(e).code;
const message = (e: unknown) => ConnectError.from(e).rawMessage;

async function enrolledNode(name: string, modules: { name: string }[]) {
  const provision = operatorClient(hub, ProvisionService);
  const created = await provision.createInstance({ name, arch: Arch.AMD64, provider: "none" });
  const id = created.instance?.id ?? "";
  await provision.assignModules({ instanceId: id, modules });
  const csr = await makeCsr(id);
  const enrolled = await createClient(NodeService, nodeTransport(hub)).enroll({
    bootstrapToken: created.bootstrapToken,
    csrPem: csr.csrPem,
    instanceUuid: id,
  });
  const transport = nodeTransport(hub, { certPem: enrolled.certificatePem, keyPem: csr.keyPem });
  const state = async (): Promise<DesiredState | undefined> => {
    for await (const m of createClient(NodeService, transport).watchDesiredState(
      { knownVersion: 0n },
      { signal: AbortSignal.timeout(10_000) },
    ))
      return m.state;
  };
  return { id, state, registry: createClient(RegistryNodeService, transport) };
}

describe("registries", () => {
  test("put keeps the secret sealed and never returns it; bad fields are named", async () => {
    const r = await reg.putRegistry({
      url: "http://127.0.0.1:5000",
      nodeUrl: "http://10.0.2.2:5000/",
      username: "puller",
      secret: "pull-password",
    });
    expect(r.created).toBe(true);
    expect(r.registry).toMatchObject({
      host: "127.0.0.1:5000",
      url: "http://127.0.0.1:5000",
      nodeUrl: "http://10.0.2.2:5000",
      username: "puller",
      hasCredential: true,
    });
    expect(JSON.stringify(r.registry, (_, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
      "pull-password",
    );
    const [row] = await hub.deps.db.select().from(registries).where(eq(registries.host, "127.0.0.1:5000"));
    expect(row?.secret).not.toContain("pull-password");
    expect(hub.deps.keys.open(row?.secret ?? "", "registry:127.0.0.1:5000")).toBe("pull-password");

    for (const [req, want] of [
      [{ url: "ftp://x" }, "url: must be http:// or https://"],
      [{ url: "http://x/path" }, "url: must be scheme://host[:port] only"],
      [{ url: "http://u:p@x" }, "url: must be scheme://host[:port] only"],
      [{ url: "http://x", mirrorOf: "x" }, "mirror_of: x cannot mirror itself"],
      [{ url: "http://y", username: "u" }, 'secret: required for user "u"'],
      [{ url: "http://y", caPem: "junk" }, "ca_pem: not a PEM"],
    ] as const) {
      const err = await reg.putRegistry(req).catch((e: unknown) => e);
      expect(code(err)).toBe(Code.InvalidArgument);
      expect(message(err)).toStartWith(want);
    }
    // Same user, no secret: the stored one is kept.
    await reg.putRegistry({
      url: "http://127.0.0.1:5000",
      nodeUrl: "http://10.0.2.2:5000",
      username: "puller",
    });
    expect(
      (await reg.listRegistries({})).registries.find((x) => x.host === "127.0.0.1:5000")?.hasCredential,
    ).toBe(true);
  });

  test("a version published to a registry is pulled there first, the hub's copy only when it holds one", async () => {
    const catalog = operatorClient(hub, CatalogService);
    await catalog.createModule({ name: "ext-mod" });
    const refused = await catalog
      .createModuleVersion({
        moduleName: "ext-mod",
        version: "1",
        arch: Arch.AMD64,
        fsverityDigest: "c".repeat(64),
        verityRootHash: "d".repeat(64),
        ociDigest: DIGEST,
        origin: "unknown.example:5000",
      })
      .catch((e: unknown) => e);
    expect(message(refused)).toBe(
      "origin: no registry unknown.example:5000 (add it first: pnctl registry add <url>)",
    );
    const v = await catalog.createModuleVersion({
      moduleName: "ext-mod",
      version: "1",
      arch: Arch.AMD64,
      fsverityDigest: "c".repeat(64),
      verityRootHash: "d".repeat(64),
      ociDigest: DIGEST,
      origin: "127.0.0.1:5000",
    });
    expect(v.version?.origin).toBe("127.0.0.1:5000");

    const node = await enrolledNode("ext-1", [{ name: "ext-mod" }]);
    const a = (await node.state())?.modules?.assignments[0];
    // The hub's registry has no copy of this manifest: the origin only.
    expect(a?.locations.map((l) => [l.role, l.ociReference, l.credentialHost])).toEqual([
      ["origin", `http://10.0.2.2:5000/modules/ext-mod@${DIGEST}`, "127.0.0.1:5000"],
    ]);
    expect(a?.ociReference).toBe(`http://10.0.2.2:5000/modules/ext-mod@${DIGEST}`);

    // A mirror of that registry: every node sent it is recompiled with the mirror first.
    await reg.putRegistry({ url: "http://mirror.site:5000", mirrorOf: "127.0.0.1:5000" });
    const b = (await node.state())?.modules?.assignments[0];
    expect(b?.locations.map((l) => l.role)).toEqual(["mirror", "origin"]);

    // The node gets the credential of a registry it was sent, for that repository only.
    const c = await node.registry.getPullCredential({
      host: "127.0.0.1:5000",
      repository: "modules/ext-mod",
    });
    expect(c.credential).toEqual({
      case: "basic",
      value: expect.objectContaining({ username: "puller", password: "pull-password" }),
    });
    expect(Number(c.expiresAt?.seconds ?? 0n) * 1000).toBeGreaterThan(Date.now());
    const other = await node.registry
      .getPullCredential({ host: "127.0.0.1:5000", repository: "modules/other" })
      .catch((e: unknown) => e);
    expect(code(other)).toBe(Code.PermissionDenied);
    const anon = await node.registry.getPullCredential({
      host: "mirror.site:5000",
      repository: "modules/ext-mod",
    });
    expect(anon.credential.case).toBeUndefined();

    // The registry holds a version's artifacts: it cannot go.
    const del = await reg.deleteRegistry({ host: "127.0.0.1:5000" }).catch((e: unknown) => e);
    expect(code(del)).toBe(Code.FailedPrecondition);
    expect(message(del)).toContain("holds the artifacts of 1 catalog version(s) (1)");
    await reg.deleteRegistry({ host: "mirror.site:5000" });
    expect((await node.state())?.modules?.assignments[0]?.locations.map((l) => l.role)).toEqual(["origin"]);
  });

  test("a token-mode registry: the hub trades the credential for a pull-scoped token; a refusal is an event", async () => {
    // fake-token-registry: distribution behind a token server (Harbor, cloud registries; none on this
    // machine), as the distribution token spec describes it: /v2/ challenges, the realm hands tokens.
    const asked: string[] = [];
    const fake = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === "/v2/")
          return new Response("{}", {
            status: 401,
            headers: { "www-authenticate": `Bearer realm="${url.origin}/auth",service="fake-registry"` },
          });
        if (url.pathname === "/auth") {
          asked.push(`${url.searchParams.get("service")} ${url.searchParams.get("scope")}`);
          const ok =
            req.headers.get("authorization") ===
            `Basic ${Buffer.from("robot:robot-secret").toString("base64")}`;
          return ok
            ? Response.json({ token: "short-lived-pull-token", expires_in: 300 })
            : new Response("{}", { status: 401 });
        }
        return new Response("{}", { status: 404 });
      },
    });
    try {
      const host = `127.0.0.1:${fake.port}`;
      await reg.putRegistry({ url: `http://${host}`, username: "robot", secret: "robot-secret" });
      const catalog = operatorClient(hub, CatalogService);
      await catalog.createModule({ name: "tok-mod" });
      await catalog.createModuleVersion({
        moduleName: "tok-mod",
        version: "1",
        arch: Arch.AMD64,
        fsverityDigest: "c".repeat(64),
        verityRootHash: "d".repeat(64),
        ociDigest: DIGEST,
        origin: host,
      });
      const node = await enrolledNode("tok-1", [{ name: "tok-mod" }]);
      const before = Date.now();
      const c = await node.registry.getPullCredential({ host, repository: "modules/tok-mod" });
      expect(c.credential).toEqual({ case: "bearerToken", value: "short-lived-pull-token" });
      const expires = Number(c.expiresAt?.seconds ?? 0n) * 1000;
      expect(expires).toBeGreaterThan(before + 290_000);
      expect(expires).toBeLessThan(before + 310_000);
      expect(asked).toEqual(["fake-registry repository:modules/tok-mod:pull"]);

      await reg.putRegistry({ url: `http://${host}`, username: "robot", secret: "wrong" });
      const err = await node.registry
        .getPullCredential({ host, repository: "modules/tok-mod" })
        .catch((e: unknown) => e);
      expect(code(err)).toBe(Code.FailedPrecondition);
      expect(message(err)).toBe(`registry token endpoint http://${host}/auth: HTTP 401`);
      const rows = await hub.deps.db
        .select({ payload: fleetEvents.payload })
        .from(fleetEvents)
        .where(eq(fleetEvents.kind, "system.registry.credential_failed"));
      expect(rows.map((e) => (e.payload as { registry?: string }).registry)).toEqual([host]);
    } finally {
      fake.stop(true);
    }
  });

  test("the node service needs a node certificate", async () => {
    const err = await createClient(RegistryNodeService, nodeTransport(hub))
      .getPullCredential({ host: "127.0.0.1:5000", repository: "modules/ext-mod" })
      .catch((e: unknown) => e);
    expect(code(err)).toBe(Code.Unauthenticated);
  });
});
