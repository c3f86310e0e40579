/** Reading whole-number settings from the environment, the way every config section reports problems. */

/**
 * `env[name]` as a whole number in `[min, max]`, or `fallback` when unset or empty. A value that is not
 * one adds `NAME: "value" must be a whole number from MIN to MAX` to `problems` and yields `fallback`.
 */
export function wholeFromEnv(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  [min, max]: [number, number],
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name}: "${raw}" must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  return Number(raw);
}
