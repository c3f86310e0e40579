/**
 * pnctl, the operator CLI: a ConnectRPC client of the hub's operator API. `runCli` is the whole program
 * (testable in process); `main.ts` only wires it to the process.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  Arch,
  CatalogService,
  FleetService,
  type Node,
  NodeState,
  ProvisionService,
  Severity,
} from "@powernode/proto";
import { flag, type ParsedArgs, parseArgs } from "./args.ts";
import { MODULE_USAGE, runModuleCommand } from "./module-commands.ts";

/** Where output goes (stdout/stderr in the real program, buffers in tests). */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage: pnctl [--url URL] [--token TOKEN] <command> [--json]
  nodes ls [--state pending|starting|running|degraded|stopped|deleted]
  nodes get <id>
  events ls [--kind PREFIX] [--node ID] [--limit N]
  events watch [--kind PREFIX] [--node ID]
  catalog ls
  instances ls
  instances create --name NAME --arch amd64|arm64 [--provider qemu|none] [--memory MIB] [--vcpus N] [--start]
  instances start|stop|delete <id>
  instances token <id>            (a fresh bootstrap token, 1 hour)
  ca get [--out FILE]             (the hub's CA certificate, PEM: for --cacert of TLS clients)
${MODULE_USAGE}
URL: --url, $POWERNODE_URL, default http://127.0.0.1:8080
TOKEN: --token, $POWERNODE_TOKEN, or $POWERNODE_DATA/admin.token (default ./var/admin.token)`;

/** A failure already phrased for the user. */
class CliError extends Error {}

function resolveToken(args: ParsedArgs, env: Record<string, string | undefined>): string {
  const explicit = flag(args, "token") ?? env.POWERNODE_TOKEN;
  if (explicit) return explicit;
  const file = join(env.POWERNODE_DATA || "./var", "admin.token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  throw new CliError(
    `no operator token: pass --token, set POWERNODE_TOKEN, or run on the hub host (${file})`,
  );
}

function describeError(e: unknown, url: string): string {
  const ce = ConnectError.from(e);
  if (ce.code === Code.Unauthenticated) return `hub at ${url} rejected the token: ${ce.rawMessage}`;
  if (ce.code === Code.PermissionDenied) return `hub at ${url} refused: ${ce.rawMessage}`;
  // Network failures surface as Unavailable/Unknown with the socket error somewhere in the cause chain.
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) {
    const code = (c as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "ConnectionRefused")
      return `cannot reach hub at ${url}: connection refused`;
    if (code === "ENOTFOUND") return `cannot reach hub at ${url}: host not found`;
    if (code === "ETIMEDOUT") return `cannot reach hub at ${url}: timed out`;
  }
  if (
    ce.code === Code.Unavailable ||
    /ECONNREFUSED|Unable to connect|connection refused/i.test(ce.rawMessage)
  ) {
    return `cannot reach hub at ${url}: connection refused`;
  }
  return `${Code[ce.code] ?? "error"}: ${ce.rawMessage}`;
}

const ts = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : "-");
const stateName = (s: NodeState) => (NodeState[s] ?? String(s)).toLowerCase();
const archName = (a: Arch) => (Arch[a] ?? String(a)).toLowerCase();
const sevName = (s: Severity) => (Severity[s] ?? String(s)).toLowerCase();

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
}

function parseStateFlag(v: string | undefined): NodeState {
  if (v === undefined) return NodeState.UNSPECIFIED;
  const s = NodeState[v.toUpperCase() as keyof typeof NodeState];
  if (typeof s !== "number") throw new CliError(`--state: unknown state "${v}"`);
  return s;
}

/** Runs pnctl with `argv` (without the program name); returns the exit code. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`pnctl: ${(e as Error).message}`);
    return 2;
  }
  const [group, verb, ...rest] = args.positionals;
  if (args.flags.has("help") || !group) {
    (group ? io.out : io.err)(USAGE);
    return group ? 0 : 2;
  }
  if (group === "module") return runModuleCommand(verb, rest, args, env, io); // builds need no token
  const url = (flag(args, "url") ?? env.POWERNODE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const json = args.flags.has("json");
  try {
    const token = resolveToken(args, env);
    const auth: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [auth] });
    const fleet = createClient(FleetService, transport);
    const print = (value: unknown, lines: () => string[]) => {
      if (json) io.out(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2));
      else for (const l of lines()) io.out(l);
    };
    const cmd = `${group} ${verb ?? ""}`.trim();
    switch (cmd) {
      case "nodes ls": {
        const nodes: Node[] = [];
        let pageToken = "";
        do {
          const r = await fleet.listNodes({
            state: parseStateFlag(flag(args, "state")),
            pageSize: 500,
            pageToken,
          });
          nodes.push(...r.nodes);
          pageToken = r.nextPageToken;
        } while (pageToken);
        print(
          nodes.map((n) => ({
            id: n.id,
            name: n.name,
            arch: archName(n.arch),
            state: stateName(n.state),
            provider: n.provider,
            lastHeartbeatAt: ts(n.lastHeartbeatAt),
          })),
          () =>
            table([
              ["ID", "NAME", "ARCH", "STATE", "PROVIDER", "LAST HEARTBEAT"],
              ...nodes.map((n) => [
                n.id,
                n.name,
                archName(n.arch),
                stateName(n.state),
                n.provider,
                ts(n.lastHeartbeatAt),
              ]),
            ]),
        );
        return 0;
      }
      case "nodes get": {
        const id = rest[0];
        if (!id) throw new CliError("nodes get: missing <id>");
        const n = (await fleet.getNode({ id })).node;
        if (!n) throw new CliError(`nodes get: hub returned no node for ${id}`);
        const view = {
          id: n.id,
          name: n.name,
          arch: archName(n.arch),
          state: stateName(n.state),
          provider: n.provider,
          agentVersion: n.agentVersion,
          bootId: n.bootId,
          lastHeartbeatAt: ts(n.lastHeartbeatAt),
          enrolledAt: ts(n.enrolledAt),
          certificateSerial: n.certificateSerial,
          certificateNotAfter: ts(n.certificateNotAfter),
          desiredVersion: n.desiredVersion.toString(),
          appliedVersion: n.appliedVersion.toString(),
          createdAt: ts(n.createdAt),
        };
        print(view, () => table(Object.entries(view).map(([k, v]) => [`${k}:`, String(v || "-")])));
        return 0;
      }
      case "events ls": {
        const limit = flag(args, "limit");
        const r = await fleet.listEvents({
          kindPrefix: flag(args, "kind") ?? "",
          nodeId: flag(args, "node") ?? "",
          limit: limit ? Number(limit) : 100,
        });
        const evs = r.events.map((e) => ({
          createdAt: ts(e.createdAt),
          severity: sevName(e.severity),
          kind: e.kind,
          nodeId: e.nodeId,
          correlationId: e.correlationId,
          payload: e.payload ?? {},
        }));
        print(evs, () =>
          evs.map(
            (e) =>
              `${e.createdAt}  ${e.severity.padEnd(8)}  ${e.kind}  ${e.nodeId || "-"}  ${JSON.stringify(e.payload)}`,
          ),
        );
        return 0;
      }
      case "events watch": {
        for await (const r of fleet.watchEvents(
          { kindPrefix: flag(args, "kind") ?? "", nodeId: flag(args, "node") ?? "" },
          { signal },
        )) {
          const e = r.event;
          if (!e) continue;
          const v = {
            createdAt: ts(e.createdAt),
            severity: sevName(e.severity),
            kind: e.kind,
            nodeId: e.nodeId,
            payload: e.payload ?? {},
          };
          if (json) io.out(JSON.stringify(v));
          else
            io.out(
              `${v.createdAt}  ${v.severity.padEnd(8)}  ${v.kind}  ${v.nodeId || "-"}  ${JSON.stringify(v.payload)}`,
            );
        }
        return 0;
      }
      case "ca get": {
        const { caPem } = await fleet.getCaCertificate({});
        const out = flag(args, "out");
        if (out) {
          writeFileSync(out, caPem);
          print({ path: out }, () => [`wrote ${out}`]);
        } else print({ caPem }, () => [caPem.trimEnd()]);
        return 0;
      }
      case "catalog ls": {
        const mods = (await createClient(CatalogService, transport).listModules({})).modules;
        print(
          mods.map((m) => ({ name: m.name, priority: m.priority, description: m.description })),
          () =>
            table([
              ["NAME", "PRIORITY", "DESCRIPTION"],
              ...mods.map((m) => [m.name, String(m.priority), m.description]),
            ]),
        );
        return 0;
      }
      case "instances ls": {
        const list = (await createClient(ProvisionService, transport).listInstances({})).instances;
        print(
          list.map((i) => ({
            id: i.id,
            name: i.name,
            arch: archName(i.arch),
            state: stateName(i.state),
            provider: i.provider,
          })),
          () =>
            table([
              ["ID", "NAME", "ARCH", "STATE", "PROVIDER"],
              ...list.map((i) => [i.id, i.name, archName(i.arch), stateName(i.state), i.provider]),
            ]),
        );
        return 0;
      }
      case "instances create": {
        const name = flag(args, "name");
        const archFlag = flag(args, "arch");
        if (!name) throw new CliError("instances create: --name is required");
        const arch = archFlag === "amd64" ? Arch.AMD64 : archFlag === "arm64" ? Arch.ARM64 : undefined;
        if (arch === undefined) throw new CliError("instances create: --arch must be amd64 or arm64");
        const r = await createClient(ProvisionService, transport).createInstance({
          name,
          arch,
          provider: flag(args, "provider") ?? "",
          memoryMib: Number(flag(args, "memory") ?? 0),
          vcpus: Number(flag(args, "vcpus") ?? 0),
          start: args.flags.has("start"),
          persistent: args.flags.has("persistent"),
          network: flag(args, "network") ?? "",
        });
        const i = r.instance;
        const view = {
          id: i?.id ?? "",
          name: i?.name ?? "",
          state: i ? stateName(i.state) : "",
          provider: i?.provider ?? "",
          bootstrapToken: r.bootstrapToken,
          tokenExpiresAt: r.tokenExpiresAt ? ts(r.tokenExpiresAt) : "",
        };
        print(view, () =>
          table(
            Object.entries(view)
              .filter(([, v]) => v !== "")
              .map(([k, v]) => [`${k}:`, v]),
          ),
        );
        return 0;
      }
      case "instances start":
      case "instances stop":
      case "instances delete":
      case "instances token": {
        const id = rest[0];
        if (!id) throw new CliError(`${cmd}: missing <id>`);
        const prov = createClient(ProvisionService, transport);
        if (verb === "token") {
          const t = await prov.issueBootstrapToken({ instanceId: id });
          const view = { bootstrapToken: t.bootstrapToken, expiresAt: ts(t.expiresAt) };
          print(view, () => table(Object.entries(view).map(([k, v]) => [`${k}:`, v])));
          return 0;
        }
        if (verb === "delete") {
          await prov.deleteInstance({ id });
          print({ id, state: "deleted" }, () => [`${id} deleted`]);
          return 0;
        }
        const r = verb === "start" ? await prov.startInstance({ id }) : await prov.stopInstance({ id });
        const state = r.instance ? stateName(r.instance.state) : "";
        print({ id, state }, () => [`${id} ${state}`]);
        return 0;
      }
      default:
        io.err(`pnctl: unknown command "${cmd}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (signal?.aborted) return 0;
    io.err(`pnctl: ${e instanceof CliError ? e.message : describeError(e, url)}`);
    return 1;
  }
}
