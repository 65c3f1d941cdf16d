import { company } from "./company.ts";
import { hostingCustomer } from "./hosting-customer.ts";
import { managed } from "./managed.ts";
import { msp } from "./msp.ts";
import { mzpanel } from "./mzpanel.ts";

export { company, hostingCustomer, managed, msp, mzpanel };

/**
 * The five shipped models, by name; each reproduces one seed documentation page.
 * @example
 * const engine = createEngine(presets["hosting-customer"], { workspace: "acme" });
 */
export const presets = Object.freeze({
  mzpanel,
  "hosting-customer": hostingCustomer,
  company,
  msp,
  managed,
});

export type PresetName = keyof typeof presets;

/** The preset names, in seed order: `mzpanel`, `hosting-customer`, `company`, `msp`, `managed`. */
export const presetNames: readonly PresetName[] = Object.freeze(
  Object.keys(presets) as PresetName[],
);
