/** TokenService (operator): list, create and revoke operator tokens (operator-tokens.ts). */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type OperatorToken, OperatorTokenSchema, type TokenService } from "@powernode/proto";
import { hashToken } from "../auth/tokens.ts";
import type { Deps } from "../deps.ts";
import { bearerToken } from "../rpc/interceptors.ts";
import {
  createOperatorToken,
  listOperatorTokens,
  type OperatorTokenRow,
  revokeOperatorToken,
} from "./operator-tokens.ts";

function toProto(row: OperatorTokenRow, callerHash: string | undefined): OperatorToken {
  return create(OperatorTokenSchema, {
    id: row.id,
    name: row.name,
    createdAt: timestampFromDate(row.createdAt),
    lastUsedAt: row.lastUsedAt ? timestampFromDate(row.lastUsedAt) : undefined,
    revokedAt: row.revokedAt ? timestampFromDate(row.revokedAt) : undefined,
    current: callerHash === row.tokenHash,
  });
}

/** The hash of the token the call was made with (the auth interceptor already accepted it). */
function callerHashOf(header: Headers): string | undefined {
  const token = bearerToken(header.get("authorization"));
  return token ? hashToken(token) : undefined;
}

export function createTokenService(deps: Deps): ServiceImpl<typeof TokenService> {
  return {
    async listTokens(req, ctx) {
      const caller = callerHashOf(ctx.requestHeader);
      const rows = await listOperatorTokens(deps, { includeRevoked: req.includeRevoked });
      return { tokens: rows.map((r) => toProto(r, caller)) };
    },
    async createToken(req, ctx) {
      const { row, secret } = await createOperatorToken(deps, req.name);
      return { token: toProto(row, callerHashOf(ctx.requestHeader)), secret };
    },
    async revokeToken(req, ctx) {
      const { row, fileRemoved } = await revokeOperatorToken(deps, req.token);
      return { token: toProto(row, callerHashOf(ctx.requestHeader)), tokenFileRemoved: fileRemoved };
    },
  };
}
