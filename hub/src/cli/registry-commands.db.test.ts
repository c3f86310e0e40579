/**
 * pnctl registry and `module publish --registry` against a stock registry: Debian's docker-registry
 * with htpasswd auth (scripts/lib/docker-registry.ts), and the hub of the publish test environment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRegistryFetch, fetchManifest } from "@powernode/oci";
import { type DockerRegistry, startDockerRegistry } from "../../../scripts/lib/docker-registry.ts";
import { type PublishEnv, startPublishEnv } from "../modules/test-env.ts";
import { runCli } from "./run.ts";

const work = mkdtempSync(join(tmpdir(), "pn-registry-cli-"));
let env: PublishEnv;
let reg: DockerRegistry;

async function pnctl(argv: string[], extraEnv: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    argv,
    { POWERNODE_URL: env.hub.httpUrl, POWERNODE_TOKEN: env.token, ...extraEnv },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

beforeAll(async () => {
  env = await startPublishEnv();
  reg = await startDockerRegistry({
    dir: join(work, "registry"),
    users: { pusher: "push-secret", "node-puller": "pull-secret" },
  });
}, 60_000);
afterAll(async () => {
  await reg?.stop();
  await env?.[Symbol.asyncDispose]();
  rmSync(work, { recursive: true, force: true });
});

async function buildMotd(version: string): Promise<string> {
  const src = join(work, `rootfs-${version}`);
  mkdirSync(join(src, "etc"), { recursive: true });
  writeFileSync(join(src, "etc/motd"), `motd ${version}, from a registry of the operator's, not the hub\n`);
  const out = join(work, `out-${version}`);
  const b = await pnctl(["module", "build", src, "--name", "ext", "--version", version, "--out", out]);
  expect(b).toMatchObject({ code: 0, err: "" });
  return out;
}

describe("pnctl registry + module publish --registry", () => {
  test("publish to a registry the hub does not know is refused before any push", async () => {
    const out = await buildMotd("0.9");
    const r = await pnctl(["module", "publish", out, "--registry", reg.url, "--user", "pusher"], {
      POWERNODE_REGISTRY_PASSWORD: "push-secret",
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${reg.host}: not a registry the hub knows; add it first`);
  }, 60_000);

  test("add with a pull credential, publish there with the push credential, the hub keeps a copy", async () => {
    const add = await pnctl(
      [
        "registry",
        "add",
        reg.url,
        "--node-url",
        `http://10.0.2.2:${reg.host.split(":")[1]}`,
        "--user",
        "node-puller",
        "--json",
      ],
      {
        POWERNODE_REGISTRY_PASSWORD: "pull-secret",
      },
    );
    expect(add.code).toBe(0);
    expect(JSON.parse(add.out)).toMatchObject({ host: reg.host, credential: "basic", created: true });
    const ls = JSON.parse((await pnctl(["registry", "ls", "--json"])).out) as {
      host: string;
      username: string;
    }[];
    expect(ls).toEqual([expect.objectContaining({ host: reg.host, username: "node-puller" })]);
    expect(JSON.stringify(ls)).not.toContain("pull-secret");

    const out = await buildMotd("1.0");
    const wrong = await pnctl(["module", "publish", out, "--registry", reg.url, "--user", "pusher"], {
      POWERNODE_REGISTRY_PASSWORD: "nope",
    });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("401");

    const p = await pnctl(["module", "publish", out, "--registry", reg.url, "--user", "pusher", "--json"], {
      POWERNODE_REGISTRY_PASSWORD: "push-secret",
    });
    expect(p).toMatchObject({ code: 0, err: "" });
    const view = JSON.parse(p.out) as { ociDigest: string; origin: string; hubCopy: boolean };
    expect(view).toMatchObject({ origin: reg.host, hubCopy: true });
    // Both registries hold the same manifest, verified by digest.
    const creds = createRegistryFetch({
      credential: () => ({ kind: "basic", username: "node-puller", password: "pull-secret" }),
    });
    expect((await fetchManifest(reg.url, "modules/ext", view.ociDigest, { fetch: creds })).digest).toBe(
      view.ociDigest,
    );
    expect((await fetchManifest(env.hub.httpUrl, "modules/ext", view.ociDigest)).digest).toBe(view.ociDigest);

    // --no-hub-copy: only the operator's registry has it.
    const out2 = await buildMotd("1.1");
    const p2 = await pnctl(
      ["module", "publish", out2, "--registry", reg.url, "--user", "pusher", "--no-hub-copy", "--json"],
      {
        POWERNODE_REGISTRY_PASSWORD: "push-secret",
      },
    );
    const view2 = JSON.parse(p2.out) as { ociDigest: string; hubCopy: boolean };
    expect(view2.hubCopy).toBe(false);
    const missing = await fetchManifest(env.hub.httpUrl, "modules/ext", view2.ociDigest).catch(
      (e: unknown) => e,
    );
    expect((missing as { details?: { status?: number } }).details?.status).toBe(404);

    // The registry holds catalog artifacts: it cannot be removed.
    const rm = await pnctl(["registry", "rm", reg.host]);
    expect(rm.code).toBe(1);
    expect(rm.err).toContain(`${reg.host} holds the artifacts of 2 catalog version(s) (1.0, 1.1)`);
  }, 120_000);

  test("bad input is named", async () => {
    expect((await pnctl(["registry", "add", "ftp://x"])).err).toContain("url: must be http:// or https://");
    expect((await pnctl(["registry", "add", "http://x", "--priority", "high"])).err).toBe(
      'pnctl: --priority: "high" is not an integer',
    );
    expect((await pnctl(["registry", "add", "http://x", "--password-file", join(work, "nope")])).code).toBe(
      2,
    );
    expect((await pnctl(["registry", "rm", "Not A Host"])).err).toContain(
      'host: "Not A Host" is not host[:port]',
    );
  });
});
