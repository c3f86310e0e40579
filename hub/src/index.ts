/** The hub's public surface: start one in process, its config and the types callers need. */
export { createApp } from "./app.ts";
export { ConfigError, type HubConfig, parseHubConfig } from "./config.ts";
export { PRIVATE_UMASK } from "./data-dir.ts";
export { createDeps, type Deps } from "./deps.ts";
export { getDesiredState } from "./desired-state/index.ts";
export { DomainError, type DomainErrorKind, toConnectError } from "./errors.ts";
export type { EmitOptions, EventFilter, EventLog, FleetEventRecord, Severity } from "./events/index.ts";
export { FEATURES } from "./features.ts";
export { type RunningHub, type StartHubOptions, startHub, startHubWithConfig } from "./hub.ts";
export { createLogger, type Logger } from "./log.ts";
export { revokeCertificate } from "./node/enroll.ts";
export { caFile } from "./operator-listener.ts";
export { createNoneProvider } from "./providers/none-provider.ts";
export type {
  BootMaterial,
  EmitEvent,
  InstanceProvider,
  ProviderInstance,
  ProviderStatus,
} from "./providers/provider.ts";
export { createQemuProvider, type QemuProviderOptions } from "./providers/qemu/index.ts";
export { setDebugSpec } from "./provision/debug-section.ts";
export { isStartRefusal } from "./start-errors.ts";
