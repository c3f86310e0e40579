/** The hub's public surface: start one in process, its config and the types callers need. */
export { createApp } from "./app.ts";
export { ConfigError, type HubConfig, parseHubConfig } from "./config.ts";
export type { DesiredStateDocument } from "./db/schema/desired-states.ts";
export { createDeps, type Deps } from "./deps.ts";
export { DomainError, type DomainErrorKind, toConnectError } from "./errors.ts";
export type { EmitOptions, EventFilter, EventLog, FleetEventRecord, Severity } from "./events/index.ts";
export { type RunningHub, type StartHubOptions, startHub, startHubWithConfig } from "./hub.ts";
export { createLogger, type Logger } from "./log.ts";
export { createNoneProvider } from "./provision/none-provider.ts";
export type {
  BootMaterial,
  EmitEvent,
  InstanceProvider,
  ProviderInstance,
  ProviderStatus,
} from "./provision/provider.ts";
export { createQemuProvider, type QemuProviderOptions } from "./provision/qemu/index.ts";
export { assignDesiredState, setDesiredState } from "./services/node/desired-state.ts";
export { revokeCertificate } from "./services/node/enroll.ts";
