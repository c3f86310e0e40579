/**
 * Modules from an operator's registry: Debian's docker-registry (distribution v2, htpasswd auth) on the
 * host's loopback, which a QEMU node reaches at 10.0.2.2. Everything goes through pnctl as an operator
 * would type it; what the node did is read back through FleetService.GetNodeModules.
 *
 *   bun smokes/registries.ts --tier single [--arch amd64|arm64]
 *
 * 1. `pnctl registry add` with the node URL and a pull credential (read-only account `node-puller`);
 *    `pnctl module publish --registry` three small modules with the push account: `reg-a` and `reg-c`
 *    with the hub's copy, `reg-b` without one.
 * 2. reg-a assigned -> the node mounts it, served by the origin with the credential the hub delivered.
 * 3. The pull credential replaced by a wrong one, reg-b assigned -> failed, the condition names the
 *    registry and the 401; the right credential back -> reg-b mounts on the next retry.
 * 4. The registry stopped, reg-c assigned -> mounted from the hub's copy, the origin's failure named.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliFor } from "../hub/src/cli/test-cli.ts";
import { buildModule } from "../hub/src/modules/build-module.ts";
import { startDockerRegistry } from "../scripts/lib/docker-registry.ts";
import { definePass, runPass } from "./lib/pass.ts";
import { bootSingleNode } from "./lib/single-node.ts";
import { waitFor } from "./lib/wait.ts";

const NAMES = ["reg-a", "reg-b", "reg-c"] as const;
const PUSH = { user: "pusher", password: "push-secret-3f9" };
const PULL = { user: "node-puller", password: "pull-secret-7c2" };
/** A retry of a refused credential comes with the modules controller's slow tick (30 s) on a slow guest. */
const CHANGE_TIMEOUT_MS = 150_000;

export const registriesPass = definePass({
  id: 102,
  label: "registries",
  title:
    "modules from an operator's registry (docker-registry, htpasswd): credential, 401, fallback to the hub",
  minTier: "single",
  async run(t) {
    const arch = t.args.arch;
    const reg = await t.step("start Debian's docker-registry with htpasswd on loopback", () =>
      startDockerRegistry({
        dir: join(t.outDir, "registry"),
        users: { [PUSH.user]: PUSH.password, [PULL.user]: PULL.password },
      }),
    );
    t.defer(() => reg.stop());
    t.keepOnFailure("registry log", reg.logFile);
    const port = reg.host.split(":")[1] ?? "";
    const nodeUrl = `http://10.0.2.2:${port}`;

    const builds = await t.step(`build ${NAMES.join(", ")} (${arch}, one file each)`, async () => {
      const out = new Map<string, string>();
      for (const name of NAMES) {
        const src = join(t.outDir, "src", name);
        mkdirSync(join(src, "etc"), { recursive: true });
        writeFileSync(
          join(src, `etc/${name}.txt`),
          `${name}: pulled from the operator's registry, not the hub\n`,
        );
        const dir = join(t.outDir, "build", name);
        await buildModule({ source: { dir: src }, name, version: "1.0", arch, priority: 10, outDir: dir });
        out.set(name, dir);
      }
      return out;
    });

    let cli: ReturnType<typeof cliFor> = async () => ({ code: 1, out: "", err: "no hub" });
    const pnctl = async (...argv: string[]) => {
      const r = await cli(...argv);
      if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")} -> ${r.code}: ${r.err}`);
      return r.out;
    };
    /** `pnctl registry add` of the registry with the nodes' URL and a pull password. */
    const setPullPassword = (password: string, hub = node.hub.hub, ...extra: string[]) =>
      cliFor(() => hub, { POWERNODE_REGISTRY_PASSWORD: password })(
        "registry",
        "add",
        reg.url,
        "--node-url",
        nodeUrl,
        "--user",
        PULL.user,
        ...extra,
      );

    const node = await bootSingleNode(t, {
      arch,
      name: `registries-${arch}`,
      hub: { heartbeatSeconds: 2 },
      async beforeCreate(s) {
        cli = cliFor(() => s.hub, { POWERNODE_REGISTRY_PASSWORD: PUSH.password });
        await t.check(
          "pnctl registry add: the node URL and a pull credential (secret never shown)",
          async () => {
            const r = await setPullPassword(PULL.password, s.hub, "--json");
            if (r.code !== 0) throw new Error(r.err);
            const v = JSON.parse(r.out) as { host: string; nodeUrl: string; credential: string };
            if (v.nodeUrl !== nodeUrl || v.credential !== "basic") throw new Error(r.out);
            if ((await pnctl("registry", "ls", "--json")).includes(PULL.password))
              throw new Error("secret listed");
            return `${v.host}, nodes use ${v.nodeUrl}, credential ${v.credential}`;
          },
        );
        await t.check(
          "pnctl module publish --registry: reg-a, reg-c with the hub's copy, reg-b without",
          async () => {
            const lines: string[] = [];
            for (const name of NAMES) {
              const extra = name === "reg-b" ? ["--no-hub-copy"] : [];
              const v = JSON.parse(
                await pnctl(
                  "module",
                  "publish",
                  builds.get(name) ?? "",
                  "--registry",
                  reg.url,
                  "--user",
                  PUSH.user,
                  ...extra,
                  "--json",
                ),
              ) as { origin: string; hubCopy: boolean; ociDigest: string };
              if (v.origin !== reg.host || v.hubCopy !== (name !== "reg-b"))
                throw new Error(JSON.stringify(v));
              lines.push(`${name} ${v.ociDigest.slice(7, 19)}.. hub copy ${v.hubCopy}`);
            }
            return lines.join("; ");
          },
        );
      },
    });
    const id = node.instanceId;

    const moduleOf = async (name: string) =>
      (await node.hub.fleet.getNodeModules({ nodeId: id })).modules.find((m) => m.assignment?.name === name);
    const assign = (...names: string[]) =>
      node.hub.provision.assignModules({ instanceId: id, modules: names.map((name) => ({ name })) });
    const mounted = (name: string) =>
      waitFor(
        `${name} mounted and verified on the node (serial log ${node.serialLog})`,
        async () => {
          const m = await moduleOf(name);
          if (m?.observed?.state === "failed") throw new Error(`${name} failed: ${m.observed.message}`);
          return m?.verified ? m : undefined;
        },
        { timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 1000 },
      );

    await t.check(
      "reg-a: the node pulls it from the origin with the delivered credential and mounts it",
      async () => {
        await assign("reg-a");
        const m = await mounted("reg-a");
        const note = m.observed?.message ?? "";
        if (!note.startsWith(`from origin ${nodeUrl}/modules/reg-a`) || note.includes(";"))
          throw new Error(`observed: ${note}`);
        return `${note}; location list ${m.assignment?.locations.map((l) => l.role).join(" > ")}`;
      },
    );

    await t.check("a wrong pull credential: reg-b fails, naming the registry and the 401", async () => {
      const r = await setPullPassword("not-the-password");
      if (r.code !== 0) throw new Error(r.err);
      await assign("reg-a", "reg-b");
      const m = await waitFor(
        "reg-b failed",
        async () => {
          const x = await moduleOf("reg-b");
          return x?.observed?.state === "failed" ? x : undefined;
        },
        { timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 1000 },
      );
      const msg = m.observed?.message ?? "";
      if (!msg.includes(`origin ${nodeUrl}`) || !msg.includes("401")) throw new Error(`observed: ${msg}`);
      return msg.slice(0, 160);
    });

    await t.check("the right credential back: reg-b mounts on the next retry, no reassignment", async () => {
      const r = await setPullPassword(PULL.password);
      if (r.code !== 0) throw new Error(r.err);
      const m = await mounted("reg-b");
      return m.observed?.message ?? "";
    });

    await t.check(
      "the registry stopped: reg-c is mounted from the hub's copy, the origin's failure named",
      async () => {
        await reg.stop();
        await assign("reg-a", "reg-b", "reg-c");
        const m = await mounted("reg-c");
        const note = m.observed?.message ?? "";
        if (!note.startsWith("from hub ") || !note.includes(`origin ${nodeUrl}:`))
          throw new Error(`observed: ${note}`);
        return note.slice(0, 200);
      },
    );

    await node.stopAndCheck();
  },
});

if (import.meta.main) await runPass(registriesPass);
