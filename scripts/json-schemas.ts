import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { modelSchema } from "@gatehouse/engine";
import { policyFileSchema } from "../packages/cli/src/policy-tests/policy-file-schema.ts";

/** The repository's `schemas/` folder, where the published JSON Schemas live. */
export const SCHEMAS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "schemas");

/**
 * Each published JSON Schema file and its text, written from the one definition of each format:
 * the engine's `modelSchema` and the cli's `policyFileSchema`.
 * @example
 * for (const [file, text] of Object.entries(jsonSchemaFiles())) writeFileSync(join(SCHEMAS_DIR, file), text);
 */
export function jsonSchemaFiles(): Readonly<Record<string, string>> {
  const text = (schema: object) => `${JSON.stringify(schema, null, 2)}\n`;
  return {
    "model.schema.json": text(modelSchema),
    "policy-test.schema.json": text(policyFileSchema),
  };
}

// `npm run schemas` rewrites the files; a test fails while they are out of date.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const [file, text] of Object.entries(jsonSchemaFiles())) {
    const path = join(SCHEMAS_DIR, file);
    let current: string | undefined;
    try {
      current = readFileSync(path, "utf8");
    } catch {}
    if (current !== text) writeFileSync(path, text);
    console.log(`${current === text ? "current" : "written"}: schemas/${file}`);
  }
}
