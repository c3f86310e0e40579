/**
 * Pass 6, single tier: a persistent instance (a /persist disk) keeps what is written under /var in its
 * composed root across a module swap (a new root generation) and a reboot: /var is /persist/var,
 * seeded with the modules' /var. Proven from the node (test-only debug hooks, `powernode.debug=1`).
 */
import type { setDebugSpec } from "@powernode/hub";
import { EVENTS, NodeState } from "@powernode/proto";
import { buildModules, publishModules } from "../lib/built-modules.ts";
import { eventsOf, probe } from "../lib/debug-probe.ts";
import type { PassContext } from "../lib/pass.ts";
import { bootSingleNode } from "../lib/single-node.ts";
import { waitFor } from "../lib/wait.ts";

const FILE = "/var/lib/pass6-state/state.bin";
const TIMEOUT_MS = 180_000;

export async function persistentTier(t: PassContext): Promise<void> {
  const arch = t.args.arch;
  const built = await buildModules(t, arch, ["system-base", "chrony"]);
  const node = await bootSingleNode(t, {
    arch,
    name: "persistent",
    persistent: true,
    template: "base",
    hub: { heartbeatSeconds: 5 },
    provider: { kernelArgs: ["powernode.debug=1"] },
    async beforeCreate(s) {
      await publishModules(s, built);
      await s.provision.createTemplate({ name: "base", modules: [{ name: "system-base" }] });
    },
  });
  const s = node.hub;
  const id = node.instanceId;
  const events = (kind: string) => eventsOf(s, { instanceId: id }, kind);
  /** Sets the debug spec; resolves with the node's system.debug.file result for it. */
  const file = async (spec: Parameters<typeof setDebugSpec>[2]) =>
    (
      await probe(
        s,
        { instanceId: id, serialLog: node.serialLog },
        spec,
        EVENTS.debugFile.kind,
        1,
        TIMEOUT_MS,
      )
    )[0] ?? {};
  /** Waits for a module set applied after `since` (ms since the epoch) at `root`. */
  const applied = (since: number, what: string) =>
    waitFor(
      what,
      async () =>
        (await events(EVENTS.moduleSetApplied.kind)).find(
          (e) => (e.createdAt ? Number(e.createdAt.seconds) * 1000 : 0) >= since - 1000,
        ),
      { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
    );

  await applied(0, "the first module set applied");
  const written = await t.step(`a 4 MiB file written under /var (${FILE})`, async () => {
    const w = await file({ write: [{ path: FILE, mib: 4 }] });
    if (w.result !== "ok") throw new Error(`write: ${JSON.stringify(w)}`);
    return w;
  });

  await t.check("a module swap (a new root generation) keeps it", async () => {
    const since = Date.now();
    await s.provision.assignModules({ instanceId: id, modules: [{ name: "chrony" }] });
    const e = await applied(since, "the module set with chrony applied");
    const r = await file({ hash: [{ path: FILE }] });
    if (r.result !== "ok" || r.sha256 !== written.sha256)
      throw new Error(`after the swap: ${JSON.stringify(r)}`);
    return `root ${String(e.payload?.root)} (${JSON.stringify(e.payload?.modules)}): same sha256 ${String(r.sha256).slice(0, 12)}..`;
  });

  await t.check("a reboot keeps it", async () => {
    const started = performance.now();
    await s.provision.stopInstance({ id });
    const since = Date.now();
    await s.provision.startInstance({ id });
    await waitFor(
      "RUNNING again",
      async () => (await s.fleet.getNode({ id })).node?.state === NodeState.RUNNING,
      { timeoutMs: TIMEOUT_MS, intervalMs: 500 },
    );
    await applied(since, "the module set applied after the reboot");
    const r = await file({ hash: [{ path: FILE }] });
    if (r.result !== "ok" || r.sha256 !== written.sha256)
      throw new Error(`after the reboot: ${JSON.stringify(r)}`);
    return `same sha256 ${String(r.sha256).slice(0, 12)}.. ${((performance.now() - started) / 1000).toFixed(1)} s after the reboot began`;
  });
}
