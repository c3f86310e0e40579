/** Operator tokens: the TokenService feature and its domain functions. */
export { tokensFeature } from "./feature.ts";
export {
  createOperatorToken,
  listOperatorTokens,
  type OperatorTokenRow,
  revokeOperatorToken,
} from "./operator-tokens.ts";
