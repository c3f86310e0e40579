/** For checks of refusals: the Connect error a call ends in; throws when it succeeds. */
import { ConnectError } from "@connectrpc/connect";

export async function refusal(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call succeeded");
}
