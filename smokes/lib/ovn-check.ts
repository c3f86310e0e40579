/**
 * A compiled OVN plan applied with the real ovn-nbctl to a real northbound database: ovsdb-server with
 * OVN's NB schema, both from the Debian packages the built `ovn-central` module ships (module-tools.ts),
 * in a temp dir on the host. Reads back what the database holds, as ovn-nbctl's JSON.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BuiltModule } from "../../hub/src/modules/index.ts";
import { moduleTools } from "./module-tools.ts";
import { waitFor } from "./wait.ts";

export interface NbDatabase {
  /** Runs each command with ovn-nbctl; throws naming the first that fails. */
  apply(plan: readonly (readonly string[])[]): Promise<void>;
  /** `ovn-nbctl --format=json list <table>` as rows of column -> value (OVSDB JSON values). */
  list(table: string, columns: readonly string[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function nbDatabase(ovnCentral: BuiltModule): Promise<NbDatabase> {
  const tools = await moduleTools(ovnCentral);
  const dir = join(tools.root, "run");
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "nb.db");
  const sock = join(dir, "nb.sock");
  const made = await tools.run("usr/bin/ovsdb-tool", [
    "create",
    db,
    join(tools.root, "usr/share/ovn/ovn-nb.ovsschema"),
  ]);
  if (made.exitCode !== 0) throw new Error(`ovsdb-tool create: ${made.stderr.trim()}`);
  const server = Bun.spawn(
    [
      join(tools.root, "usr/sbin/ovsdb-server"),
      `--remote=punix:${sock}`,
      `--unixctl=${join(dir, "ctl")}`,
      "--no-chdir",
      `--log-file=${join(dir, "ovsdb-server.log")}`,
      db,
    ],
    { env: tools.env, stdout: "ignore", stderr: "ignore" },
  );
  await waitFor("ovsdb-server's socket", () => existsSync(sock), { timeoutMs: 10_000, intervalMs: 50 });
  const nbctl = (args: readonly string[]) => tools.run("usr/bin/ovn-nbctl", [`--db=unix:${sock}`, ...args]);
  return {
    async apply(plan) {
      for (const cmd of plan) {
        const r = await nbctl(cmd);
        if (r.exitCode !== 0) throw new Error(`ovn-nbctl ${cmd.join(" ")}: ${r.stderr.trim()}`);
      }
    },
    async list(table, columns) {
      const r = await nbctl(["--format=json", `--columns=${columns.join(",")}`, "list", table]);
      if (r.exitCode !== 0) throw new Error(`ovn-nbctl list ${table}: ${r.stderr.trim()}`);
      const j = JSON.parse(r.stdout) as { headings: string[]; data: unknown[][] };
      return j.data.map((row) => Object.fromEntries(j.headings.map((h, i) => [h, row[i]])));
    },
    async close() {
      server.kill();
      await server.exited;
      tools.close();
    },
  };
}
