import { readFileSync } from "node:fs";
import { GatehouseError, loadModel, type Model } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { ErrorCode } from "@gatehouse/service";
import type { Command } from "commander";
import { parse } from "yaml";
import { ExitCode } from "../support/exit-codes.ts";
import { modelLines } from "../support/model-view.ts";
import { say, sayJson } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

/** A preset by name, or a model file (JSON or YAML) validated with every issue reported. */
function modelNamed(nameOrFile: string): Model {
  const preset = (presets as Readonly<Record<string, Model>>)[nameOrFile];
  if (preset !== undefined) return preset;
  if (!/[./\\]/.test(nameOrFile)) {
    throw new GatehouseError(
      ErrorCode.UNKNOWN_PRESET,
      `unknown preset "${nameOrFile}"; presets: ${Object.keys(presets).join(", ")} (or give a model file)`,
    );
  }
  let text: string;
  try {
    text = readFileSync(nameOrFile, "utf8");
  } catch (error) {
    throw new GatehouseError(
      ErrorCode.NOT_FOUND,
      `cannot read ${nameOrFile}: ${(error as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${nameOrFile}: ${(error as Error).message}`);
  }
  return loadModel(data);
}

interface ModelShowOptions {
  readonly json?: boolean;
}

/** `gatehouse model show`: types, roles × scopes and the role × permission matrix. */
export function registerModelShow(model: Command, run: Runner): void {
  model
    .command("show")
    .summary("Print a preset or model file: types, roles, matrix")
    .description(
      "Print a model: the resource type tree, roles × scopes, the role × permission matrix, plans, policy and sections",
    )
    .argument("<preset>", `a preset (${Object.keys(presets).join(", ")}) or a JSON/YAML model file`)
    .option("--json", "print the model definition as JSON (loadable with parseModel/loadModel)")
    .addHelpText(
      "after",
      `
Examples:
  gatehouse model show mzpanel
  gatehouse model show company --json > company.json
  gatehouse model show ./my-model.json       # validates it; every problem is listed with its path`,
    )
    .action(
      run(async (name: string, options: ModelShowOptions) => {
        const found = modelNamed(name);
        if (options.json) sayJson(found.definition);
        else for (const line of modelLines(found)) say(line);
        return ExitCode.OK;
      }),
    );
}
