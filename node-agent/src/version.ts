/**
 * The agent version, fixed at build time by the image builder:
 * `bun build --compile --define 'process.env.POWERNODE_AGENT_VERSION="1.2.3"' node-agent/src/main.ts`.
 * Without the define it is read from the environment at run time, and defaults to "dev".
 */
export const AGENT_VERSION: string = process.env.POWERNODE_AGENT_VERSION ?? "dev";
