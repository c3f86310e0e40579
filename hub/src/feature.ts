/**
 * What a hub feature is: its ConnectRPC services with the principal each method needs, its HTTP
 * plugins, its periodic jobs and the desired-state sections it compiles. `features.ts` lists every
 * feature; routes, the auth interceptor, the HTTP app, the scheduler and the desired-state compiler
 * iterate over that list. A new feature is one folder plus one line there.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { HeartbeatRequest } from "@powernode/proto";
import type { AnyElysia } from "elysia";
import type { Deps } from "./deps.ts";
import type { SectionCompiler } from "./desired-state/compile.ts";

/**
 * Who may call a method: anyone (`public`), anyone but only on the TLS listener (`bootstrap`: Enroll,
 * whose bootstrap token must not cross the network in clear), a node with its mTLS client certificate
 * (`node`), an operator with a bearer token (`operator`), another hub we federate with, by the client
 * certificate our CA issued to it when the peering was accepted (`peer-hub`, federation/peer-identity.ts).
 */
export type Principal = "public" | "bootstrap" | "node" | "operator" | "peer-hub";

/** One ConnectRPC service: every method's principal (a missing one does not compile) and its implementation. */
export interface ServiceBinding<S extends DescService = DescService> {
  service: S;
  principals: { readonly [M in keyof S["method"]]: Principal };
  create(deps: Deps): ServiceImpl<S>;
}

/** A job the scheduler runs every `everyMs` (and once at start with `atStart`). */
export interface Job {
  name: string;
  everyMs: number;
  atStart?: boolean;
  run(deps: Deps, signal: AbortSignal): Promise<void>;
}

/** An HTTP plugin (routes outside ConnectRPC: `/healthz`, `/v2/`, SSE). */
export type HttpPlugin = (deps: Deps, shutdown: AbortSignal) => AnyElysia;

/**
 * Plain HTTP routes also served on the node (mTLS) listener, before the RPC routes: a fetch-style
 * handler answering GET/HEAD requests it serves, undefined for others (OCI reads at `/v2/`).
 */
export type NodeHttpHandler = (
  deps: Deps,
  shutdown: AbortSignal,
) => (request: Request) => Promise<Response | undefined>;

/**
 * Called with every accepted heartbeat after it is recorded (the node feature's NodeService.Heartbeat),
 * for the parts of it a feature owns (e.g. the mesh reports). Must not throw for bad node data: it
 * records the problem instead.
 */
export type HeartbeatObserver = (deps: Deps, nodeId: string, req: HeartbeatRequest) => Promise<void>;

/**
 * Called by DeleteInstance after the node's machine is gone and its row is marked deleted, for what a
 * feature keeps about a node (its network memberships, its cluster node). Runs before DeleteInstance
 * answers, so the caller sees the node gone everywhere; a failure is logged and the sweep a feature
 * runs at start catches it.
 */
export type InstanceDeletedHook = (deps: Deps, nodeId: string) => Promise<void>;

/**
 * A socket a feature serves outside HTTP (the IPFIX collector's UDP port): started after the HTTP
 * listeners, closed at stop; undefined when configured off.
 */
export type FeatureListener = (
  deps: Deps,
  shutdown: AbortSignal,
) => Promise<{ close(): Promise<void> } | undefined>;

export interface Feature {
  name: string;
  heartbeat?: HeartbeatObserver;
  instanceDeleted?: InstanceDeletedHook;
  services?: readonly ServiceBinding[];
  http?: readonly HttpPlugin[];
  /**
   * Plugins also served on the plain-HTTP boot listener (POWERNODE_BOOT_HTTP_PORT, decision 0026):
   * public, unauthenticated routes with nothing secret, for firmware that cannot speak TLS (iPXE).
   */
  bootHttp?: readonly HttpPlugin[];
  nodeHttp?: readonly NodeHttpHandler[];
  jobs?: readonly Job[];
  listeners?: readonly FeatureListener[];
  sections?: readonly SectionCompiler[];
}

/** Types a service binding against its descriptor (`principals` must name every method). */
export function bindService<S extends DescService>(b: ServiceBinding<S>): ServiceBinding {
  return b as unknown as ServiceBinding;
}

/** `<package.Service>/<Method>` -> principal, from every feature; throws on a method bound twice. */
export function principalsOf(features: readonly Feature[]): Map<string, Principal> {
  const out = new Map<string, Principal>();
  for (const f of features) {
    for (const b of f.services ?? []) {
      for (const m of b.service.methods) {
        const key = `${b.service.typeName}/${m.name}`;
        const p = (b.principals as Record<string, Principal | undefined>)[m.localName];
        if (!p) throw new Error(`feature ${f.name}: ${key} has no principal`);
        if (out.has(key)) throw new Error(`feature ${f.name}: ${key} is bound twice`);
        out.set(key, p);
      }
    }
  }
  return out;
}
