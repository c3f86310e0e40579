/**
 * Pushing an agent build to the hub registry (`pnctl agent publish`, the smokes): the binary as the
 * one layer of `powernode/agent:<version>-<arch>`, with a config naming version, arch, sha256, size.
 * Registering it (AgentService.RegisterAgentBuild) is the caller's next step.
 */
import { createReadStream, statSync } from "node:fs";
import {
  AGENT_ARTIFACT_TYPE,
  AGENT_BINARY_MEDIA_TYPE,
  AGENT_CONFIG_MEDIA_TYPE,
  pushArtifact,
} from "@powernode/oci";
import { fetchTrusting } from "../modules/publish.ts";
import { AGENT_REPOSITORY, type AgentArch, agentTag } from "./builds.ts";

export interface PushedAgentBuild {
  manifestDigest: string;
  sha256: string;
  size: number;
}

async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export async function pushAgentBuild(o: {
  hubUrl: string;
  token: string;
  hubCa?: string;
  binary: string;
  version: string;
  arch: AgentArch;
}): Promise<PushedAgentBuild> {
  const size = statSync(o.binary).size;
  const sha256 = await sha256File(o.binary);
  const config = { version: o.version, arch: o.arch, sha256, size };
  const manifestDigest = await pushArtifact(
    o.hubUrl,
    AGENT_REPOSITORY,
    agentTag(o.version, o.arch),
    {
      artifactType: AGENT_ARTIFACT_TYPE,
      config: { mediaType: AGENT_CONFIG_MEDIA_TYPE, bytes: new TextEncoder().encode(JSON.stringify(config)) },
      layers: [{ mediaType: AGENT_BINARY_MEDIA_TYPE, path: o.binary }],
    },
    { token: o.token, fetch: fetchTrusting(o.hubCa) },
  );
  return { manifestDigest, sha256, size };
}
