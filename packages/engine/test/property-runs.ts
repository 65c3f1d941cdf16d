/**
 * How many cases a property test generates: its thorough count scaled by `PROPERTY_RUNS`, a
 * multiplier read here for every fast-check test in the repository. Unset, it is 0.1 — a quick
 * local `npm test`; CI (`.ci/run`) sets `PROPERTY_RUNS=1`, the thorough counts written in the
 * tests; larger values search longer.
 * @example
 * fc.assert(property, { numRuns: propertyRuns(2000) }); // 200 locally, 2000 in CI
 */
export function propertyRuns(thorough: number): number {
  return Math.max(1, Math.round(thorough * PROPERTY_RUNS));
}

/** The multiplier when `PROPERTY_RUNS` is unset. */
const QUICK = 0.1;

const PROPERTY_RUNS = readMultiplier(process.env["PROPERTY_RUNS"]);

function readMultiplier(value: string | undefined): number {
  if (value === undefined || value === "") return QUICK;
  const multiplier = Number(value);
  if (!Number.isFinite(multiplier) || multiplier <= 0)
    throw new Error(`PROPERTY_RUNS must be a positive number (a multiplier), got "${value}"`);
  return multiplier;
}
