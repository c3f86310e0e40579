/**
 * One site of pass 9: its hub, kept between runs so that `--phase N` finds what earlier phases made
 * (`smokes/out/state/pass9-site-<x>-<tier>/`: the hub's PGlite database, CA and admin token, and the
 * credentials of the nodes the phases enrolled), its overlay network `k3s-site-<x>`, and its part of
 * the pass's state sidecar (`smokes/out/state/pass9.json`: per tier, keys `site_<x>_...`, merged per
 * phase).
 * A run without --phase (or with --fresh) starts the site over.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { K3sNodeService, type K3sSection, NodeService } from "@powernode/proto";
import { nodeTransport } from "../../hub/test/harness.ts";
import type { Site } from "../lib/args.ts";
import { type SmokeHub, startSmokeHub } from "../lib/hub.ts";
import type { PassContext } from "../lib/pass.ts";
import { type K3sSmokeEnv, type K3sSmokeNode, k3sSmokeEnv } from "../pass2/k3s-env.ts";

const root = join(import.meta.dir, "../..");

/** The K3s shape every phase works towards: a bootstrap server, two HA servers, two agents. */
export const SERVERS = 3;
export const AGENTS = 2;
export const NODES = SERVERS + AGENTS;

const DEFAULT_POD_PREFIX: Record<Site, string> = { a: "172.30.0.0/16", b: "172.31.0.0/16" };

/** The sidecar keys of a site (without the `site_<x>_` prefix) and what they hold. */
export interface SiteState {
  network_id: string;
  network_name: string;
  pod_cidr: string;
  cluster_id: string;
  cluster_name: string;
  api_vip_id: string;
  api_vip: string;
  /** The bootstrap server: its node (instance) id and its member (SDWAN peer) id. */
  instance_id: string;
  peer_id: string;
  ha_instance_ids: string[];
  ha_peer_ids: string[];
  agent_instance_ids: string[];
  agent_peer_ids: string[];
  /** The API VIP's primary after the sensor failover of phase 2. */
  vip_primary_after_failover: string;
}

/** What wrote each key first: named when a phase needs a key that is missing. */
const WRITTEN_BY: Record<keyof SiteState, number> = {
  network_id: 1,
  network_name: 1,
  pod_cidr: 1,
  cluster_id: 1,
  cluster_name: 1,
  api_vip_id: 1,
  api_vip: 1,
  instance_id: 1,
  peer_id: 1,
  ha_instance_ids: 2,
  ha_peer_ids: 2,
  agent_instance_ids: 3,
  agent_peer_ids: 3,
  vip_primary_after_failover: 2,
};

interface StoredNode {
  id: string;
  name: string;
  certPem: string;
  keyPem: string;
  address: string;
}

export interface SiteCtx {
  t: PassContext;
  x: Site;
  podPrefix: string;
  networkName: string;
  s: SmokeHub;
  env: K3sSmokeEnv;
  dir: string;
  /** A sidecar value of this site, or undefined. */
  get<K extends keyof SiteState>(key: K): SiteState[K] | undefined;
  /** A sidecar value `phase` needs; throws naming the key and the phase that writes it. */
  need<K extends keyof SiteState>(key: K, phase: number): SiteState[K];
  /** Merges values into the sidecar and writes it. */
  put(values: Partial<SiteState>): void;
  /** Enrolls a node (env.node: provider none, mTLS certificate, a member of `network`) and keeps its credentials. */
  enroll(name: string, network?: string): Promise<K3sSmokeNode>;
  /** A node enrolled by an earlier run (its kept credentials), or undefined when none are kept. */
  restore(id: string): K3sSmokeNode | undefined;
}

const keyOf = (x: Site, k: string) => `site_${x}_${k}`;

/** Opens (or, without --phase or with --fresh, starts over) the site and its hub. */
export async function openSite(t: PassContext): Promise<SiteCtx> {
  const x = t.args.site;
  const tier = t.args.tier;
  const dir = join(root, "smokes/out/state", `pass9-site-${x}-${tier}`);
  const startOver = t.args.phase === undefined || t.args.fresh;
  // One sidecar section per tier: each tier's sites have their own hubs.
  const byTier = t.state[tier];
  const state: Record<string, unknown> =
    typeof byTier === "object" && byTier !== null ? (byTier as Record<string, unknown>) : {};
  t.state[tier] = state;
  if (startOver) {
    rmSync(dir, { recursive: true, force: true });
    for (const k of Object.keys(state)) if (k.startsWith(keyOf(x, ""))) delete state[k];
    t.info(`site ${x}: starting over (${t.args.fresh ? "--fresh" : "all phases"}): ${dir}`);
  } else t.info(`site ${x}: continuing on ${dir}`);
  mkdirSync(join(dir, "nodes"), { recursive: true, mode: 0o700 });
  const envPrefix = process.env[`SMOKE_K3S_POD_PREFIX_${x.toUpperCase()}`];
  const podPrefix = envPrefix || DEFAULT_POD_PREFIX[x];
  const s = await t.step(`site ${x} hub on ${dir.replace(`${root}/`, "")}`, () =>
    startSmokeHub(t, { dataDir: dir, databaseUrl: undefined }),
  );
  const env = k3sSmokeEnv(s);
  const nodeFile = (id: string) => join(dir, "nodes", `${id}.json`);
  const site: SiteCtx = {
    t,
    x,
    podPrefix,
    networkName: `k3s-site-${x}`,
    s,
    env,
    dir,
    get: (key) => state[keyOf(x, key)] as SiteState[typeof key] | undefined,
    need(key, phase) {
      const v = site.get(key);
      if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0))
        throw new Error(
          `phase ${phase} needs ${tier}.${keyOf(x, key)} in the sidecar: run --tier ${tier} --site ${x} --phase ${WRITTEN_BY[key]} first (or all phases)`,
        );
      return v;
    },
    put(values) {
      for (const [k, v] of Object.entries(values)) state[keyOf(x, k)] = v;
      t.saveState();
    },
    async enroll(name, network) {
      const n = await env.node(name, network);
      const stored: StoredNode = {
        id: n.id,
        name: n.name,
        certPem: n.certPem,
        keyPem: n.keyPem,
        address: n.address,
      };
      writeFileSync(nodeFile(n.id), `${JSON.stringify(stored)}\n`, { mode: 0o600 });
      return n;
    },
    restore(id) {
      if (!existsSync(nodeFile(id))) return undefined;
      return restoredNode(s, JSON.parse(readFileSync(nodeFile(id), "utf8")) as StoredNode);
    },
  };
  return site;
}

/**
 * A node of an earlier run, as env.node made it, from its kept certificate and key (the node's own
 * view: its WatchDesiredState, its K3sNodeService calls).
 */
function restoredNode(s: SmokeHub, n: StoredNode): K3sSmokeNode {
  const transport = nodeTransport(s.hub, n);
  const client = createClient(NodeService, transport);
  return {
    ...n,
    client,
    k3s: createClient(K3sNodeService, transport),
    async section(): Promise<K3sSection | undefined> {
      const abort = new AbortController();
      try {
        for await (const r of client.watchDesiredState({ knownVersion: 0n }, { signal: abort.signal }))
          return r.state?.k3s;
      } finally {
        abort.abort();
      }
      return undefined;
    },
  };
}

/** The node of `id`: kept from an earlier run, else a failure naming what is missing. */
export function restoreOrFail(site: SiteCtx, id: string, what: string, phase: number): K3sSmokeNode {
  const n = site.restore(id);
  if (!n)
    throw new Error(
      `${what} ${id}: no kept credentials in ${site.dir}/nodes (run --site ${site.x} --phase ${phase} first)`,
    );
  return n;
}
