/** The agent's resource vocabulary. */
import type { DesiredState } from "@powernode/proto";
import { defineResource } from "./resource-store.ts";

/** The last desired-state document received from the hub (id "node"); the only resource written from hub data. */
export const DesiredNodeState = defineResource<DesiredState>("DesiredNodeState");
