/**
 * Every hub feature, in one list. Routes, the auth interceptor, the HTTP app, the scheduler and the
 * desired-state compiler iterate over it; a new feature is one folder plus one line here.
 */
import { agentBuildsFeature } from "./agent-builds/feature.ts";
import { catalogFeature } from "./catalog/feature.ts";
import { certsFeature } from "./certs/feature.ts";
import { claimsFeature } from "./claims/feature.ts";
import { consoleFeature } from "./console/feature.ts";
import { cveFeature } from "./cve/feature.ts";
import { diskImagesFeature } from "./disk-images/feature.ts";
import { dockerFeature } from "./docker/feature.ts";
import { eventsFeature } from "./events/feature.ts";
import type { Feature } from "./feature.ts";
import { federationFeature } from "./federation/feature.ts";
import { fleetFeature } from "./fleet/feature.ts";
import { k3sFeature } from "./k3s/feature.ts";
import { moduleRolloutsFeature } from "./module-rollouts/feature.ts";
import { netbootFeature } from "./netboot/feature.ts";
import { networkFeature } from "./network/feature.ts";
import { nodeFeature } from "./node/feature.ts";
import { observabilityFeature } from "./observability/feature.ts";
import { ociFeature } from "./oci/feature.ts";
import { provisionFeature } from "./provision/feature.ts";
import { registriesFeature } from "./registries/feature.ts";
import { sdwanFeature } from "./sdwan/feature.ts";
import { storageFeature } from "./storage/feature.ts";
import { tokensFeature } from "./tokens/feature.ts";

export const FEATURES: readonly Feature[] = [
  nodeFeature,
  fleetFeature,
  catalogFeature,
  provisionFeature,
  networkFeature,
  sdwanFeature,
  k3sFeature,
  dockerFeature,
  tokensFeature,
  certsFeature,
  eventsFeature,
  ociFeature,
  registriesFeature,
  claimsFeature,
  netbootFeature,
  diskImagesFeature,
  agentBuildsFeature,
  moduleRolloutsFeature,
  storageFeature,
  federationFeature,
  cveFeature,
  observabilityFeature,
  consoleFeature,
];
