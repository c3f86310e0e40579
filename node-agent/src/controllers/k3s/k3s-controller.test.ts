/**
 * The k3s controller on a real directory as the composed root, with a recording hub (an in-memory
 * K3sNodeService: the agent may not import the hub; the real one is driven from smokes/pass2) and a
 * recording process spawner (no k3s binary runs here).
 */
import { expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(20_000);

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { DesiredStateSchema, EVENTS, K3sNodeService } from "@powernode/proto";
import { assertResource, startTestEngine } from "../../../test/engine-harness.ts";
import { serverSection } from "../../../test/k3s-fixtures.ts";
import { createRecordingModuleSysFake } from "../../../test/module-sys-fake.ts";
import type { HubLink } from "../../hub/hub-client.ts";
import { createSystemClock } from "../../runtime/clock.ts";
import { ControllerStatus } from "../../runtime/engine.ts";
import { createPhaseRecorder } from "../../runtime/phases.ts";
import { createK3sOs } from "../../sys/k3s.ts";
import type { AgentDeps } from "../deps.ts";
import { DesiredNodeState, HubConnection, K3sStatus, ModuleSetStatus } from "../resources.ts";
import {
  CONFIG_PATH,
  K3S_BINARY,
  KUBECONFIG_PATH,
  MISSING_BINARY,
  SERVER_TOKEN_PATH,
  TOKEN_PATH,
} from "./k3s-config.ts";
import { k3sController } from "./k3s-controller.ts";

const section = serverSection();

/** A hub that answers the node calls and records them. */
function recordingK3sHub() {
  const calls: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(K3sNodeService, {
      joinRequest: (r) => {
        calls.push(`join ${r.role}`);
        return { clusterId: r.clusterId, apiEndpoint: "https://[fd00::1]:6443", token: "pn-secret" };
      },
      registerNode: (r) => {
        calls.push(`register ${r.role} ${r.k3sVersion}`);
        return {};
      },
      bootstrap: (r) => {
        calls.push(`bootstrap ${r.serverToken} ${r.k3sVersion}`);
        return {};
      },
      markReady: (r) => {
        calls.push(`ready ${r.k3sVersion}`);
        return {};
      },
      markStopped: (r) => {
        calls.push(`stopped ${r.reason}`);
        return {};
      },
    });
  });
  const k3s = createClient(K3sNodeService, transport);
  const link = { current: () => ({ k3s }), generation: () => 0 } as unknown as HubLink;
  return { calls, link };
}

function setup() {
  const root = mkdtempSync(join(tmpdir(), "k3s-root-"));
  const sys = createRecordingModuleSysFake();
  const phases = createPhaseRecorder(createSystemClock());
  const hub = recordingK3sHub();
  const deps = { phases, backoff: {} } as unknown as AgentDeps;
  const controller = k3sController({ ...deps, k3s: createK3sOs(sys) });
  const observations = [
    {
      name: "k3s",
      version: "v1.30.4+k3s1",
      metadataDigest: "",
      verityRootHash: "",
      state: "mounted" as const,
      message: "",
    },
  ];
  const engine = startTestEngine(
    [controller],
    [
      { type: DesiredNodeState, id: "node", spec: create(DesiredStateSchema, { version: 2n, k3s: section }) },
      { type: ModuleSetStatus, id: "node", spec: { observations, appliedVersion: 2n, root } },
      { type: HubConnection, id: "node", spec: { link: hub.link, generation: 0 } },
    ],
  );
  const put = (path: string, text: string, mode = 0o644) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text, { mode });
  };
  return {
    root,
    sys,
    phases,
    hub,
    engine,
    put,
    [Symbol.asyncDispose]: async () => {
      await engine.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

test("no k3s binary: the config and token are written, nothing runs, the condition says missing", async () => {
  await using t = setup();
  await assertResource(t.engine, K3sStatus, "node", (s) => s.state === "missing");
  const yaml = readFileSync(join(t.root, CONFIG_PATH), "utf8");
  expect(yaml).toContain(
    'token-file: "/etc/rancher/k3s/token"\ncluster-init: true\nnode-ip: "fd00:1:2:3::5"\n',
  );
  expect(readFileSync(join(t.root, TOKEN_PATH), "utf8")).toBe("pn-secret\n");
  expect(statSync(join(t.root, TOKEN_PATH)).mode & 0o777).toBe(0o600);
  expect(t.sys.services).toEqual([]);
  expect(t.hub.calls).toEqual(["join server"]);
  const cond = await assertResource(t.engine, ControllerStatus, "k3s", (c) => c.reason === "Missing");
  expect(cond).toMatchObject({ ok: false, reason: "Missing", message: MISSING_BINARY });
  expect(t.phases.all().map((p) => p.kind)).toContain(EVENTS.k3sConfigWritten.kind);
});

test("with the binary: k3s server supervised, registered, bootstrapped and ready; stopped when undesired", async () => {
  await using t = setup();
  t.put(K3S_BINARY, "#!/bin/sh\n", 0o755);
  chmodSync(join(t.root, K3S_BINARY), 0o755);
  t.engine.store.set(DesiredNodeState, "node", create(DesiredStateSchema, { version: 3n, k3s: section }));
  await assertResource(t.engine, K3sStatus, "node", (s) => s.state === "running");
  expect(t.sys.services.map((s) => [s.root, s.argv])).toEqual([
    [t.root, [K3S_BINARY, "server", "--config", CONFIG_PATH]],
  ]);
  // k3s wrote its kubeconfig and node-token: the controller reports them, then readiness.
  t.put(KUBECONFIG_PATH, "apiVersion: v1\n");
  t.put(SERVER_TOKEN_PATH, "K10abc::server:pn-secret\n");
  t.engine.store.set(DesiredNodeState, "node", create(DesiredStateSchema, { version: 4n, k3s: section }));
  await assertResource(
    t.engine,
    K3sStatus,
    "node",
    (s) => s.state === "ready" && s.version === "v1.30.4+k3s1",
  );
  expect(t.hub.calls).toEqual([
    "join server",
    "register server v1.30.4+k3s1",
    "bootstrap K10abc::server:pn-secret v1.30.4+k3s1",
    "ready v1.30.4+k3s1",
  ]);
  t.engine.store.set(
    DesiredNodeState,
    "node",
    create(DesiredStateSchema, { version: 5n, k3s: { enabled: false } }),
  );
  await assertResource(t.engine, K3sStatus, "node", (s) => s.state === "off");
  expect(t.hub.calls.at(-1)).toBe("stopped no k3s desired");
  await t.sys.services[0]?.proc.exited;
  expect(() => statSync(join(t.root, TOKEN_PATH))).toThrow();
});
