import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { presets } from "@gatehouse/engine/presets";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { jsonSchemaFiles, SCHEMAS_DIR } from "../../../scripts/json-schemas.ts";

const EXAMPLES = join(SCHEMAS_DIR, "..", "docs", "examples");

function published(file: string): object {
  return JSON.parse(readFileSync(join(SCHEMAS_DIR, file), "utf8"));
}

/**
 * A strict validator of a published schema: an unknown keyword in it is an error. `required` in
 * `oneOf` and `if` names properties defined beside it, which strictRequired would refuse.
 */
function validatorOf(file: string) {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  return ajv.compile(published(file));
}

describe("the published JSON Schemas", () => {
  it("are current with their definitions (run npm run schemas after a change)", () => {
    for (const [file, text] of Object.entries(jsonSchemaFiles()))
      expect(readFileSync(join(SCHEMAS_DIR, file), "utf8"), file).toBe(text);
  });

  it("accept every shipped preset as a model file", () => {
    const validate = validatorOf("model.schema.json");
    for (const [name, model] of Object.entries(presets)) {
      const definition = JSON.parse(JSON.stringify(model.definition));
      expect(validate(definition) ? [] : validate.errors, name).toEqual([]);
    }
  });

  it("refuse a model with an unknown field or a bad name", () => {
    const validate = validatorOf("model.schema.json");
    const definition = JSON.parse(JSON.stringify(presets.mzpanel.definition));
    expect(validate({ ...definition, roless: {} })).toBe(false);
    expect(validate({ ...definition, name: "Mz Panel" })).toBe(false);
  });

  it("accept every example policy test file", () => {
    const validate = validatorOf("policy-test.schema.json");
    const files = readdirSync(EXAMPLES).filter((file) => file.endsWith(".policy.yaml"));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const data = parse(readFileSync(join(EXAMPLES, file), "utf8"));
      expect(validate(data) ? [] : validate.errors, file).toEqual([]);
    }
  });

  it("refuse a policy test file with both preset and model, or a reason on an allow", () => {
    const validate = validatorOf("policy-test.schema.json");
    const check = { subject: "user:a", permission: "x.y", resource: "site:a", expect: "allow" };
    expect(validate({ preset: "mzpanel", checks: [check] })).toBe(true);
    expect(validate({ preset: "mzpanel", model: "./model.json", checks: [check] })).toBe(false);
    expect(validate({ preset: "mzpanel", checks: [{ ...check, reason: "no_grant" }] })).toBe(false);
  });
});
