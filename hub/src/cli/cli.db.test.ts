import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { run } from "../../../scripts/lib/exec.ts";
import { freePort } from "../../../scripts/lib/postgres.ts";
import { startTestHub, waitFor } from "../../test/harness.ts";
import type { RunningHub } from "../hub.ts";
import { runCli } from "./run.ts";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startTestHub();
}, 30_000);
afterAll(async () => {
  await hub.stop();
});

async function cli(argv: string[], env: Record<string, string | undefined> = {}, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ["--url", hub.httpUrl, ...argv],
    { POWERNODE_TOKEN: hub.adminToken, ...env },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    signal,
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("pnctl against a real hub", () => {
  test("instances create, nodes ls/get, events ls, catalog ls (--json and tables)", async () => {
    const created = await cli([
      "instances",
      "create",
      "--name",
      "cli-1",
      "--arch",
      "arm64",
      "--provider",
      "none",
      "--json",
    ]);
    expect(created.code).toBe(0);
    const inst = JSON.parse(created.out) as { id: string; state: string; bootstrapToken: string };
    expect(inst.state).toBe("pending");
    expect(inst.bootstrapToken).toMatch(/^pnb_/);

    const ls = await cli(["nodes", "ls", "--json"]);
    expect(JSON.parse(ls.out)).toEqual([
      { id: inst.id, name: "cli-1", arch: "arm64", state: "pending", provider: "none", lastHeartbeatAt: "-" },
    ]);
    const table = await cli(["nodes", "ls"]);
    expect(table.out.split("\n")[0]).toMatch(/^ID\s+NAME\s+ARCH\s+STATE\s+PROVIDER\s+LAST HEARTBEAT$/);
    expect(table.out).toContain("cli-1");

    const get = await cli(["nodes", "get", inst.id, "--json"]);
    expect((JSON.parse(get.out) as { name: string }).name).toBe("cli-1");

    const events = await cli(["events", "ls", "--kind", "system.instance.", "--node", inst.id, "--json"]);
    expect((JSON.parse(events.out) as { kind: string }[]).map((e) => e.kind)).toEqual([
      "system.instance.provisioned",
    ]);

    const cat = await cli(["catalog", "ls", "--json"]);
    expect(JSON.parse(cat.out)).toEqual([]);
  });

  test("instances token, start, stop, delete", async () => {
    const created = JSON.parse(
      (
        await cli([
          "instances",
          "create",
          "--name",
          "cli-life",
          "--arch",
          "amd64",
          "--provider",
          "none",
          "--json",
        ])
      ).out,
    ) as { id: string };
    const token = JSON.parse((await cli(["instances", "token", created.id, "--json"])).out) as {
      bootstrapToken: string;
    };
    expect(token.bootstrapToken).toMatch(/^pnb_/);
    expect(await cli(["instances", "start", created.id])).toEqual({
      code: 0,
      out: `${created.id} starting`,
      err: "",
    });
    expect(await cli(["instances", "stop", created.id])).toEqual({
      code: 0,
      out: `${created.id} stopped`,
      err: "",
    });
    expect(await cli(["instances", "delete", created.id])).toEqual({
      code: 0,
      out: `${created.id} deleted`,
      err: "",
    });
    expect((await cli(["instances", "start", created.id])).err).toBe(
      `pnctl: FailedPrecondition: id: instance ${created.id} is deleted`,
    );
  });

  test("events watch prints live events until interrupted", async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    // Features subscribe too (the k3s feature listens for deleted instances): wait for one more.
    const before = hub.deps.events.subscriberCount();
    const done = runCli(
      ["--url", hub.httpUrl, "events", "watch", "--kind", "cli.", "--json"],
      { POWERNODE_TOKEN: hub.adminToken },
      { out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`) },
      ac.signal,
    );
    await waitFor("the watch to subscribe", () =>
      hub.deps.events.subscriberCount() > before ? true : undefined,
    );
    await hub.deps.events.emit({ kind: "cli.ping", severity: "info" }, { n: 1 });
    await waitFor("the event line", () => (lines.length > 0 ? true : undefined));
    ac.abort();
    expect(await done).toBe(0);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      kind: "cli.ping",
      severity: "info",
      payload: { n: 1 },
    });
  });

  test("one-line errors: hub down, wrong token, no token, bad arguments", async () => {
    const port = await freePort();
    const down = await runCli(
      ["--url", `http://127.0.0.1:${port}`, "nodes", "ls"],
      { POWERNODE_TOKEN: "x".repeat(20) },
      {
        out: () => {},
        err: (l) => expect(l).toBe(`pnctl: cannot reach hub at http://127.0.0.1:${port}: connection refused`),
      },
    );
    expect(down).toBe(1);
    const wrong = await cli(["nodes", "ls"], { POWERNODE_TOKEN: "pna_wrongwrongwrongwrong" });
    expect(wrong).toEqual({
      code: 1,
      out: "",
      err: `pnctl: hub at ${hub.httpUrl} rejected the token: authorization: token not accepted`,
    });
    const none = await cli(["nodes", "ls"], { POWERNODE_TOKEN: "", POWERNODE_DATA: "/nonexistent" });
    expect(none.err).toBe(
      "pnctl: no operator token: pass --token, set POWERNODE_TOKEN, or run on the hub host (/nonexistent/admin.token)",
    );
    expect((await cli(["instances", "create", "--name", "x", "--arch", "sparc"])).err).toBe(
      "pnctl: instances create: --arch must be amd64 or arm64",
    );
    expect((await cli(["nodes", "get", "not-a-uuid"])).err).toBe("pnctl: InvalidArgument: id: not a UUID");
  });

  test("the token is read from $POWERNODE_DATA/admin.token; the entry point runs as a process", async () => {
    const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
    const r = await run(process.execPath, [entry, "--url", hub.httpUrl, "nodes", "ls", "--json"], {
      env: { ...process.env, POWERNODE_TOKEN: "", POWERNODE_DATA: hub.deps.config.dataDir },
      timeoutMs: 20_000,
    });
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
  }, 20_000);
});
