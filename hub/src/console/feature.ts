/** The console feature: the web console (web/) served at `/`; it talks to the hub through the operator API. */
import type { Feature } from "../feature.ts";
import { consoleRoutes } from "./console-routes.ts";

export const consoleFeature: Feature = {
  name: "console",
  http: [(deps) => consoleRoutes(deps)],
};
