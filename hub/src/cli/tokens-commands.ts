/** `pnctl tokens ls [--all] | create NAME | revoke NAME-or-ID`: the hub's operator tokens. */
import { type OperatorToken, TokenService } from "@powernode/proto";
import { type CommandGroup, required, table, ts, unknownVerb } from "./shared.ts";

function view(t: OperatorToken) {
  return {
    id: t.id,
    name: t.name,
    createdAt: ts(t.createdAt),
    lastUsedAt: ts(t.lastUsedAt),
    revokedAt: ts(t.revokedAt),
    current: t.current,
  };
}

export const tokensCommands: CommandGroup = {
  name: "tokens",
  usage: `  tokens ls [--all]               (operator tokens; --all includes revoked ones; * = the one in use)
  tokens create <name>            (a new operator token, printed once)
  tokens revoke <name|id>         (refused within seconds on every hub; never the last live token)`,
  async run(ctx) {
    const tokens = ctx.client(TokenService);
    switch (ctx.verb) {
      case "ls": {
        const all = ctx.args.flags.has("all");
        const rows = (await tokens.listTokens({ includeRevoked: all })).tokens.map(view);
        ctx.print(rows, () =>
          table([
            ["", "ID", "NAME", "CREATED", "LAST USED", ...(all ? ["REVOKED"] : [])],
            ...rows.map((r) => [
              r.current ? "*" : "",
              r.id,
              r.name,
              r.createdAt,
              r.lastUsedAt,
              ...(all ? [r.revokedAt] : []),
            ]),
          ]),
        );
        return 0;
      }
      case "create": {
        const name = required(ctx, 0, "name");
        const r = await tokens.createToken({ name });
        const t = r.token ? view(r.token) : undefined;
        ctx.print({ ...t, secret: r.secret }, () => [
          r.secret,
          `(token "${name}", id ${t?.id ?? "?"}: shown only now; the hub keeps only its hash)`,
        ]);
        return 0;
      }
      case "revoke": {
        const ref = required(ctx, 0, "name|id");
        const r = await tokens.revokeToken({ token: ref });
        const t = r.token ? view(r.token) : undefined;
        ctx.print({ ...t, tokenFileRemoved: r.tokenFileRemoved }, () => [
          `revoked token "${t?.name ?? ref}" (${t?.id ?? "?"})${r.tokenFileRemoved ? "; removed admin.token, which held it" : ""}`,
        ]);
        return 0;
      }
      default:
        return unknownVerb(ctx, tokensCommands);
    }
  },
};
