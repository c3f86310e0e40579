// Types of apt.mjs (plain JavaScript: set-up runs on Node before bun exists) for the TypeScript tests.
export interface HostRelease {
  codename: string;
  versionId: string;
  pretty: string;
}
export interface SimulatedInstall {
  pkg: string;
  from: string | undefined;
  to: string;
  labels: string[];
}
export const SYSTEM_PACKAGES: string[];
export const APT_SOURCES_FILE: string;
export function hostRelease(osRelease?: string): HostRelease;
export function mainSource(codename: string): { uri: string; signedBy: string | undefined };
export function parseSimulation(text: string): SimulatedInstall[];
export function foreignInstalls(entries: SimulatedInstall[], release: HostRelease): SimulatedInstall[];
export function ensureSystemPackages(log: (line: string) => void, extra?: string[]): void;
