/**
 * Issue 23 item 0: the data dir is private. After a hub start on PGlite (in process, and `main.ts` as
 * its own process with its umask) no file or directory under the data dir is open to group or
 * others; a data dir that others can read is refused with the path, its mode and the fix.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Arch, ProvisionService } from "@powernode/proto";
import { run } from "../../scripts/lib/exec.ts";
import { operatorClient, quietLog, startTestHub, waitFor } from "../test/harness.ts";
import { assertPrivateDataDir, DataDirError, exposedEntries, privatizeTree } from "./data-dir.ts";
import { startHub } from "./hub.ts";

const scratch = mkdtempSync(join(tmpdir(), "pn-datadir-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let seq = 0;
const fresh = () => join(scratch, `d${++seq}`);
const mode = (p: string) => statSync(p).mode & 0o777;

describe("data dir checks", () => {
  test("a missing data dir is made 0700; a private one is accepted", () => {
    const dir = join(fresh(), "nested", "var");
    assertPrivateDataDir(dir);
    expect(mode(dir)).toBe(0o700);
    assertPrivateDataDir(dir);
  });

  test("a data dir group or others can enter is refused: path, mode and the fix", () => {
    for (const m of [0o755, 0o750, 0o707, 0o701]) {
      const dir = fresh();
      mkdirSync(dir);
      chmodSync(dir, m);
      let err: unknown;
      try {
        assertPrivateDataDir(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DataDirError);
      const text = (err as Error).message;
      expect(text).toContain(`POWERNODE_DATA ${dir}: mode 0${m.toString(8)} lets group or others in`);
      expect(text).toContain(`chmod -R go-rwx ${dir}`);
    }
    const file = join(fresh());
    writeFileSync(file, "x", { mode: 0o600 });
    expect(() => assertPrivateDataDir(file)).toThrow(`POWERNODE_DATA ${file}: not a directory`);
  });

  test("privatizeTree strips group/other bits everywhere below, keeps the owner's, skips symlinks", () => {
    const dir = fresh();
    mkdirSync(join(dir, "a", "b"), { recursive: true });
    writeFileSync(join(dir, "a", "b", "f"), "x");
    writeFileSync(join(dir, "x.sh"), "x");
    chmodSync(join(dir, "a", "b", "f"), 0o666);
    chmodSync(join(dir, "x.sh"), 0o755);
    chmodSync(join(dir, "a"), 0o777);
    const outside = join(fresh());
    writeFileSync(outside, "x");
    chmodSync(outside, 0o644);
    symlinkSync(outside, join(dir, "link"));
    const r = privatizeTree(dir);
    expect(r.changed).toBeGreaterThanOrEqual(3);
    expect(exposedEntries(dir)).toEqual([]);
    expect(mode(join(dir, "a", "b", "f"))).toBe(0o600);
    expect(mode(join(dir, "x.sh"))).toBe(0o700);
    expect(mode(join(dir, "a"))).toBe(0o700);
    expect(mode(outside)).toBe(0o644);
  });
});

describe("a hub start on PGlite leaves nothing under the data dir open to others", () => {
  test("in process: after start, use and stop, every entry is 0600/0700 (PGlite's included)", async () => {
    const dataDir = fresh();
    const hub = await startHub({
      dataDir,
      databaseUrl: undefined,
      listenHost: "127.0.0.1",
      log: quietLog,
      providers: [],
    });
    try {
      // Right after start: PGlite's ~1000 files were written 0666 and are private now.
      expect(existsSync(join(dataDir, "pglite", "PG_VERSION"))).toBe(true);
      expect(exposedEntries(dataDir)).toEqual([]);
      const ops = operatorClient(hub, ProvisionService);
      for (let i = 0; i < 20; i++)
        await ops.createInstance({ name: `dd-${i}`, arch: Arch.AMD64, provider: "none" });
      expect(mode(join(dataDir, "admin.token"))).toBe(0o600);
      expect(mode(join(dataDir, "ca.kek"))).toBe(0o600);
      expect(mode(dataDir)).toBe(0o700);
    } finally {
      await hub.stop();
    }
    expect(exposedEntries(dataDir)).toEqual([]);
  }, 60_000);

  test("on the test database too: the data dir (admin.token, ca.kek) is private", async () => {
    const dataDir = fresh();
    await using hub = await startTestHub({ dataDir });
    expect(existsSync(join(dataDir, "ca.kek"))).toBe(true);
    expect(exposedEntries(dataDir)).toEqual([]);
    expect(hub.adminTokenCreated).toBe(true);
  }, 30_000);

  test("a world-readable data dir is refused before anything is opened or written", async () => {
    const dataDir = fresh();
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    await expect(
      startHub({ dataDir, databaseUrl: undefined, listenHost: "127.0.0.1", log: quietLog, providers: [] }),
    ).rejects.toThrow(`POWERNODE_DATA ${dataDir}: mode 0755 lets group or others in`);
    expect(existsSync(join(dataDir, "pglite"))).toBe(false);
    expect(existsSync(join(dataDir, "admin.token"))).toBe(false);
  });

  test("main.ts as a process: umask 077, private files, the token file named and the token never printed; a 0755 dir exits 2", async () => {
    const dataDir = fresh();
    const env = {
      ...process.env,
      POWERNODE_DATA: dataDir,
      POWERNODE_HTTP_PORT: "0",
      POWERNODE_MTLS_PORT: "0",
      POWERNODE_LISTEN_HOST: "127.0.0.1",
      POWERNODE_ADMIN_TOKEN: "",
      DATABASE_URL: "",
    };
    const main = join(import.meta.dir, "main.ts");
    const child = Bun.spawn([process.execPath, main], { env, stdout: "pipe", stderr: "pipe" });
    let out = "";
    let exited = false;
    const collecting = (async () => {
      for await (const chunk of child.stdout) out += new TextDecoder().decode(chunk);
      exited = true;
    })();
    try {
      await waitFor(
        "main.ts to print its ready banner",
        () => {
          if (out.includes("admin token")) return true;
          if (exited) throw new Error(`main.ts exited before it was ready: ${out}`);
          return undefined;
        },
        60_000,
      );
      const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
      expect(token).toStartWith("pna_");
      expect(out).not.toContain(token);
      expect(out).toContain(`in ${dataDir}/admin.token (mode 0600`);
      expect(exposedEntries(dataDir)).toEqual([]);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
      await collecting;
    }
    expect(exposedEntries(dataDir)).toEqual([]);

    const open = fresh();
    mkdirSync(open);
    chmodSync(open, 0o755);
    const refused = await run(process.execPath, [main], {
      env: { ...env, POWERNODE_DATA: open },
      allowFailure: true,
      timeoutMs: 60_000,
    });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`powernode hub: cannot start: POWERNODE_DATA ${open}: mode 0755`);
    expect(refused.stderr).toContain(`chmod -R go-rwx ${open}`);
  }, 120_000);
});
