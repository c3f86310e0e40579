/** The drizzle schema barrel (the one place `export *` is allowed: drizzle-kit needs every table). */
export * from "./acme.ts";
export * from "./agent-builds.ts";
export * from "./credentials.ts";
export * from "./desired-states.ts";
export * from "./disk-images.ts";
export * from "./docker-hosts.ts";
export * from "./events.ts";
export * from "./federation.ts";
export * from "./instances.ts";
export * from "./k3s.ts";
export * from "./modules.ts";
export * from "./network-vips.ts";
export * from "./networks.ts";
export * from "./physical-devices.ts";
export * from "./registries.ts";
export * from "./storages.ts";
export * from "./templates.ts";
