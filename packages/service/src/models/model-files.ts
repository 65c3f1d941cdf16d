import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Issues, type Model, parseModel } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { ErrorCode } from "../support/error-codes.ts";

/** A value that is already a compiled model (from `defineModel`), not a definition. */
function isModel(value: unknown): value is Model {
  return (
    typeof value === "object" && value !== null && "compiled" in value && "definition" in value
  );
}

/** The model a file holds: JSON, or a built `.js`/`.mjs` module exporting it (default or `model`). */
async function readModelFile(file: string): Promise<{ value: unknown } | { problem: string }> {
  const extension = extname(file).toLowerCase();
  if (extension === ".json") {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      return { problem: `cannot read the file: ${(error as Error).message}` };
    }
    try {
      return { value: JSON.parse(text) as unknown };
    } catch (error) {
      return { problem: `not valid JSON: ${(error as Error).message}` };
    }
  }
  if (extension === ".js" || extension === ".mjs") {
    try {
      const module = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
      const value = module["default"] ?? module["model"];
      if (value === undefined) return { problem: "exports no model (a default export or `model`)" };
      return { value };
    } catch (error) {
      return { problem: `cannot load the module: ${(error as Error).message}` };
    }
  }
  return { problem: "a model file is .json, .js or .mjs" };
}

/**
 * Loads the panel's own models from files, beside the five presets. Every problem in every file is
 * reported at once, each located by file and path; nothing is loaded unless every file is valid.
 * @example
 * const models = await loadModelFiles(["./models/reseller.json"]); // { mzpanel, …, reseller }
 */
export async function loadModelFiles(
  files: readonly string[],
  { besidePresets = true }: { besidePresets?: boolean } = {},
): Promise<Readonly<Record<string, Model>>> {
  const models: Record<string, Model> = besidePresets ? { ...presets } : {};
  const origin = new Map<string, string>();
  const issues = new Issues();
  for (const file of files) {
    const read = await readModelFile(file);
    if ("problem" in read) {
      issues.push({ path: file, message: read.problem });
      continue;
    }
    let model: Model;
    if (isModel(read.value)) model = read.value;
    else {
      const parsed = parseModel(read.value);
      if (!parsed.success) {
        for (const issue of parsed.issues)
          issues.push({ path: `${file}: ${issue.path}`, message: issue.message });
        continue;
      }
      model = parsed.model;
    }
    const taken =
      origin.get(model.name) ?? (besidePresets && model.name in presets ? "a preset" : undefined);
    if (taken !== undefined) {
      issues.push({
        path: `${file}: name`,
        message: `the model name "${model.name}" is already taken by ${taken}`,
      });
      continue;
    }
    origin.set(model.name, file);
    models[model.name] = model;
  }
  issues.throwIfAny(ErrorCode.INVALID_MODEL, "invalid model files");
  return Object.freeze(models);
}
