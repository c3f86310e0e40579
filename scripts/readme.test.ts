/**
 * The README's "First commands" run as written against a real hub: from a directory laid out like the
 * clone after `npm start` (pnctl, proto/, package.json, and `var/` = the hub's data dir). Only the
 * listener addresses differ: the hub listens on free ports, so 127.0.0.1:8080/8443 are replaced by its
 * own and pnctl gets POWERNODE_URL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { operatorClient, startTestHub } from "../hub/test/harness.ts";
import { Arch, ProvisionService } from "../proto/src/index.ts";
import { run } from "./lib/exec.ts";
import { SYSTEM_PACKAGES } from "./setup/apt.mjs";

const repo = join(import.meta.dir, "..");

/** The shell lines of the fenced block after the `readme-test` marker. */
export function readmeCommands(readme: string): string[] {
  const at = readme.indexOf("<!-- readme-test");
  if (at < 0) throw new Error("README.md: no <!-- readme-test --> marker");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error("README.md: no ```sh block after the readme-test marker");
  return block[1].split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
}

let hub: Awaited<ReturnType<typeof startTestHub>>;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pn-readme-"));
  for (const f of ["pnctl", "proto", "package.json"]) symlinkSync(join(repo, f), join(dir, f));
  hub = await startTestHub({ dataDir: join(dir, "var"), operatorTls: true });
  await operatorClient(hub, ProvisionService).createInstance({
    name: "readme-node",
    arch: Arch.AMD64,
    provider: "none",
  });
}, 30_000);
afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("README", () => {
  test("the Debian packages it lists are exactly what set-up installs", () => {
    const row = readFileSync(join(repo, "README.md"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("| Debian packages from bookworm:"));
    const listed = /`([^`]+)`/.exec(row ?? "")?.[1]?.split(" ") ?? [];
    expect([...listed].sort()).toEqual([...SYSTEM_PACKAGES].sort());
  });
});

describe("README first commands", () => {
  test("every line exits 0; the CA pnctl writes is the hub's; both buf curl calls list the nodes", async () => {
    const lines = readmeCommands(readFileSync(join(repo, "README.md"), "utf8"));
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const http = new URL(hub.httpUrl).host;
    const mtls = new URL(hub.mtlsUrl).host;
    for (const line of lines) {
      const cmd = line.replaceAll("127.0.0.1:8080", http).replaceAll("127.0.0.1:8443", mtls);
      const r = await run("sh", ["-c", cmd], {
        cwd: dir,
        env: { POWERNODE_URL: hub.httpUrl },
        timeoutMs: 60_000,
      }).catch((e: Error) => {
        throw new Error(`README line failed: ${line}\n${e.message}`);
      });
      if (cmd.includes("buf -- curl")) {
        const nodes = (JSON.parse(r.stdout) as { nodes: { name: string }[] }).nodes;
        expect(nodes.map((n) => n.name)).toEqual(["readme-node"]);
      }
      if (cmd.startsWith("./pnctl nodes ls")) expect(r.stdout).toContain("readme-node");
    }
    expect(readFileSync(join(dir, "ca.pem"), "utf8")).toBe(hub.caPem);
  }, 120_000);
});
