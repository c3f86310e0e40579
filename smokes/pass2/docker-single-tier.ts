/**
 * Pass 2, single tier: one QEMU node (on a lab network, so an operator peer reaches its WireGuard
 * endpoint) runs dockerd from the docker-engine module. The operator peer (`pnctl net join` in the lab's
 * namespace, wireguard-go there) reaches `tcp://[<overlay /128>]:2376`: `docker version` over TLS works
 * with a hub-signed client certificate and fails without one; `docker run` of a busybox image the node's
 * dockerd pulls from the hub's registry prints its output; decommission leaves no dockerd. Then the K3s
 * controller's checks on the same node.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createExec } from "@powernode/exec";
import { DockerHostStatus, DockerService } from "@powernode/proto";
import { cliFor } from "../../hub/src/cli/test-cli.ts";
import { operatorClient } from "../../hub/test/harness.ts";
import { debRoot } from "../../scripts/lib/deb-root.ts";
import { buildModules, publishModules } from "../lib/built-modules.ts";
import type { PassContext } from "../lib/pass.ts";
import { bootSiteNodes } from "../lib/site-nodes.ts";
import { waitFor } from "../lib/wait.ts";
import { IMAGE_REPO, publishBusyboxImage } from "./busybox-image.ts";
import { k3sSingleChecks } from "./k3s-single-tier.ts";

const NETWORK = "pass2-net";
const OPERATOR_PORT = 51900;
const CONNECT_TIMEOUT_MS = 420_000;
const CACHE = join(import.meta.dir, "..", "out", "cache");

export async function runtimesSingleTier(t: PassContext): Promise<void> {
  const arch = t.args.arch;
  const built = await buildModules(t, arch, ["system-base", "docker-engine"]);
  const docker = await t.step("the docker CLI (Debian's docker.io, this machine's arch)", async () =>
    join(await debRoot("docker.io", "amd64", CACHE), "usr/bin/docker"),
  );
  let image = { tag: "", digest: "" };
  const site = await bootSiteNodes(t, {
    arch,
    count: 1,
    names: ["docker"],
    memoryMib: 2048,
    vcpus: 2,
    lab: { name: "pass2", index: 4 },
    hub: { heartbeatSeconds: 5 },
    provider: { kernelArgs: ["powernode.debug=1"] },
    template: "docker",
    async beforeCreate(s) {
      await t.step("publish system-base and docker-engine; template docker = both", async () => {
        await publishModules(s, built);
        await s.provision.createTemplate({
          name: "docker",
          modules: [{ name: "system-base" }, { name: "docker-engine" }],
        });
      });
      image = await t.step(`publish a busybox image (${arch}) to the hub's registry as ${IMAGE_REPO}`, () =>
        publishBusyboxImage({ arch, registryUrl: s.hub.httpUrl, token: s.hub.adminToken, cacheDir: CACHE }),
      );
    },
  });
  const s = site.hub;
  const node = site.nodes[0];
  if (!node) throw new Error("no node booted");
  const id = node.instanceId;
  const exec = createExec();
  const peers = join(t.outDir, "peers");
  const certs = join(t.outDir, "docker-client");
  mkdirSync(join(t.outDir, "docker-config"), { recursive: true });
  const cli = cliFor(() => s.hub, { XDG_CONFIG_HOME: peers });
  const pnctl = async (...argv: string[]) => {
    const r = await cli(...argv);
    if (r.code !== 0) throw new Error(`pnctl ${argv.join(" ")}: exit ${r.code}: ${r.err}`);
    return r.out;
  };
  const dockerCli = (args: string[], timeoutMs = 120_000) =>
    exec.run("ip", ["netns", "exec", site.lab.netns, docker, ...args], {
      timeoutMs,
      allowFailure: true,
      env: { DOCKER_CONFIG: join(t.outDir, "docker-config") },
    });

  const address = await t.step(`node joins ${NETWORK} and reports its WireGuard key`, async () => {
    await pnctl("net", "create", NETWORK);
    await pnctl("net", "join", NETWORK, id);
    return waitFor(
      `${node.name}'s key in ${NETWORK}`,
      async () => {
        const m = (await s.network.listMembers({ network: NETWORK })).members.find((x) => x.nodeId === id);
        return m?.publicKey ? m.address : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
  });
  const endpoint = `tcp://[${address}]:2376`;
  const hosts = operatorClient(s.hub, DockerService);
  const host = await t.step(
    "ProvisionDockerHost: the host is pending at tcp://[<overlay /128>]:2376",
    async () => {
      const r = await hosts.provisionDockerHost({ nodeId: id });
      if (r.host?.apiEndpoint !== endpoint) throw new Error(`${r.host?.apiEndpoint} != ${endpoint}`);
      return r.host;
    },
  );
  const t0 = performance.now();
  const connected = await t.step(
    "the node runs dockerd from the module: the hub shows the host connected with its version",
    () =>
      waitFor(
        `docker host of ${node.name} connected (serial log ${node.serialLog})`,
        async () => {
          const h = (await hosts.getDockerHost({ hostId: host.id })).host;
          return h?.status === DockerHostStatus.CONNECTED ? h : undefined;
        },
        { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 2000 },
      ),
  );
  t.info(
    `dockerd ${connected.dockerVersion} connected ${((performance.now() - t0) / 1000).toFixed(1)} s after ProvisionDockerHost`,
  );

  await t.step(
    `operator peer: pnctl net join ${NETWORK} in the lab's namespace (${site.lab.netns})`,
    async () => {
      const r = JSON.parse(
        await pnctl(
          "net",
          "join",
          NETWORK,
          "--as",
          "smoke",
          "--netns",
          site.lab.netns,
          "--port",
          String(OPERATOR_PORT),
          "--endpoint",
          `${site.lab.bridgeAddress}:${OPERATOR_PORT}`,
          "--json",
        ),
      ) as { peers: number; wireguard: string; interface: string };
      t.defer(() =>
        pnctl("net", "leave", NETWORK, "--as", "smoke", "--netns", site.lab.netns).then(
          () => undefined,
          () => undefined,
        ),
      );
      t.info(`operator peer ${r.interface} (${r.wireguard}), ${r.peers} peer(s)`);
    },
  );
  await t.step("pnctl docker client-cert: a client key made here, signed by the hub", () =>
    pnctl("docker", "client-cert", "smoke", "--out", certs),
  );
  const tls = ["--tlsverify", "--tlscacert", join(certs, "ca.pem"), "-H", endpoint];
  const withCert = [
    ...tls.slice(0, 3),
    "--tlscert",
    join(certs, "cert.pem"),
    "--tlskey",
    join(certs, "key.pem"),
    ...tls.slice(3),
  ];
  await t.check(
    "docker version over TLS through the operator peer, with the hub-issued client certificate",
    () =>
      waitFor(
        `docker version at ${endpoint}`,
        async () => {
          const r = await dockerCli([...withCert, "version", "--format", "{{json .Server}}"], 30_000);
          if (r.exitCode !== 0) return undefined;
          const server = JSON.parse(r.stdout) as { Version?: string; Os?: string; Arch?: string };
          if (server.Version !== connected.dockerVersion)
            throw new Error(`server ${server.Version}, hub says ${connected.dockerVersion}`);
          return `server ${server.Version} ${server.Os}/${server.Arch} = the version the hub shows`;
        },
        { timeoutMs: 120_000, intervalMs: 2000 },
      ),
  );
  await t.check("without a client certificate the daemon refuses", async () => {
    const r = await dockerCli([...tls, "version", "--format", "{{json .Server}}"], 30_000);
    if (r.exitCode === 0) throw new Error(`docker version succeeded: ${r.stdout.slice(0, 200)}`);
    return `exit ${r.exitCode}`;
  });
  const ref = `${new URL(s.hub.nodeUrl).host}/${IMAGE_REPO}:${image.tag}`;
  await t.check(
    `docker run of ${IMAGE_REPO} (pulled by the node from the hub's registry) prints its output`,
    async () => {
      const r = await dockerCli(
        [...withCert, "run", "--rm", "--network", "none", ref, "echo", "powernode-pass2"],
        300_000,
      );
      if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr.slice(-400)}`);
      if (r.stdout.trim() !== "powernode-pass2") throw new Error(`printed "${r.stdout.trim()}"`);
      return `"${r.stdout.trim()}" from ${ref}`;
    },
  );
  await t.check("the image dockerd pulled is the one published (manifest digest)", async () => {
    const r = await dockerCli(
      [...withCert, "image", "inspect", ref, "--format", "{{json .RepoDigests}}"],
      30_000,
    );
    const digests = r.exitCode === 0 ? (JSON.parse(r.stdout) as string[]) : [];
    if (!digests.some((d) => d.endsWith(`@${image.digest}`)))
      throw new Error(`repo digests ${JSON.stringify(digests)}, published ${image.digest}`);
    return image.digest.slice(0, 19);
  });

  await k3sSingleChecks(t, { hub: s, instanceId: id, serialLog: node.serialLog }, { arch, network: NETWORK });

  await t.check("decommission: the host is gone and no dockerd answers on the overlay address", async () => {
    await hosts.decommissionDockerHost({ hostId: host.id });
    return waitFor(
      "dockerd gone from the node",
      async () => {
        const r = await dockerCli([...withCert, "version", "--format", "{{json .Server}}"], 20_000);
        return r.exitCode !== 0 ? `docker version now fails (exit ${r.exitCode})` : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
  });
}
