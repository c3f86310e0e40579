/** The tokens feature: TokenService, the operator tokens (`pnctl tokens ls|create|revoke`). */
import { TokenService } from "@powernode/proto";
import { bindService, type Feature } from "../feature.ts";
import { createTokenService } from "./token-service.ts";

export const tokensFeature: Feature = {
  name: "tokens",
  services: [
    bindService({
      service: TokenService,
      principals: { listTokens: "operator", createToken: "operator", revokeToken: "operator" },
      create: createTokenService,
    }),
  ],
};
