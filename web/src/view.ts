/** What every view gets and gives back. */
import type { Api } from "./api.ts";
import type { Live } from "./live.ts";

export interface Ctx {
  api: Api;
  live: Live;
  now(): Date;
  /** Calls `fn` every second until the view is disposed (ages, countdowns). */
  everySecond(fn: () => void): void;
  /** Subscribes to live events until the view is disposed. */
  onEvent: Live["onEvent"];
  /** Registers cleanup for when the view goes. */
  onDispose(fn: () => void): void;
}

export interface View {
  title: string;
  el: HTMLElement;
}

export type ViewFactory = (ctx: Ctx, params: URLSearchParams, arg: string) => View;
