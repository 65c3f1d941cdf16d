import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  createEngine,
  type DenyReason,
  type Engine,
  type GranteeRef,
  type Issue,
  Issues,
  isGatehouseError,
  issuePath,
  type Model,
  type PathSegment,
  parseModel,
  type ResourceRef,
  type SubjectRef,
} from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { LineCounter, parse, parseDocument } from "yaml";
import { DENY_REASONS, policyFileSchema, RESOURCE_PATTERN } from "./policy-file-schema.ts";

/** One problem of a policy test file: where (path and, when known, line) and what. */
export interface FileIssue extends Issue {
  readonly line: number | undefined;
}

export interface PolicyCheck {
  readonly path: string;
  readonly line: number | undefined;
  readonly subject: SubjectRef;
  readonly permission: string;
  readonly resource: ResourceRef;
  readonly expect: "allow" | "deny";
  /** With `expect: deny`, the deny reason that must be given. */
  readonly reason: DenyReason | undefined;
}

export interface PolicyList {
  readonly path: string;
  readonly line: number | undefined;
  readonly subject: SubjectRef;
  readonly type: string;
  readonly permission: string;
  /** The resources expected, in any order. */
  readonly expect: readonly ResourceRef[];
}

/** A parsed, valid policy test file: an engine holding its tree and grants, and what to ask it. */
export interface PolicySuite {
  readonly file: string;
  readonly name: string | undefined;
  readonly model: Model;
  readonly engine: Engine;
  readonly checks: readonly PolicyCheck[];
  readonly lists: readonly PolicyList[];
}

export type ParsedPolicyFile =
  | { readonly success: true; readonly suite: PolicySuite }
  | { readonly success: false; readonly file: string; readonly issues: readonly FileIssue[] };

// Field names and name rules come from the file's JSON Schema: one definition of the shape.
const fields = policyFileSchema.properties;
const TOP_LEVEL = Object.keys(fields);
const GRANT_KEYS = Object.keys(fields.grants.items.properties);
const CHECK_KEYS = Object.keys(fields.checks.items.properties);
const LIST_KEYS = Object.keys(fields.lists.items.properties);
const RESOURCE = new RegExp(RESOURCE_PATTERN);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Epoch milliseconds from a number or an ISO 8601 text. */
function timeOf(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const time = Date.parse(value);
    if (!Number.isNaN(time)) return time;
  }
  return undefined;
}

/**
 * Reads a policy test file (YAML or JSON) and validates all of it: the model, the tree, the groups,
 * every grant (applied to a fresh engine) and every check and list. Every problem is reported with
 * its path and line.
 * @example
 * const parsed = parsePolicyFile("docs/examples/mzpanel.policy.yaml");
 * if (parsed.success) console.log(runPolicySuite(parsed.suite).failed);
 */
export function parsePolicyFile(file: string, now: () => number = Date.now): ParsedPolicyFile {
  const issues = new Issues<FileIssue>();
  const fail = () => ({ success: false as const, file, issues: issues.list });
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    issues.push({ path: "", line: undefined, message: `cannot read: ${(error as Error).message}` });
    return fail();
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  for (const error of document.errors) {
    const line = lineCounter.linePos(error.pos[0]).line;
    issues.push({ path: "", line, message: error.message.split("\n")[0]! });
  }
  if (!issues.isEmpty) return fail();
  const lineOf = (segments: readonly PathSegment[]): number | undefined => {
    for (let length = segments.length; length > 0; length--) {
      const node = document.getIn(segments.slice(0, length), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const add = (segments: readonly PathSegment[], message: string) =>
    issues.push({ path: issuePath(segments), line: lineOf(segments), message });
  const data: unknown = document.toJS();
  if (!isObject(data)) {
    add([], "a policy test file is a mapping with preset (or model), resources, grants and checks");
    return fail();
  }
  for (const key of Object.keys(data))
    if (!TOP_LEVEL.includes(key))
      add([key], `unknown field; expected one of ${TOP_LEVEL.join(", ")}`);

  const model = modelOf(data, file, add);
  if (model === undefined) return fail();
  const workspace = data["workspace"] ?? "test";
  if (typeof workspace !== "string" || workspace === "" || workspace.includes(":")) {
    add(["workspace"], "the workspace id is a non-empty text without ':'");
    return fail();
  }
  let clock = now();
  if (data["now"] !== undefined) {
    const time = timeOf(data["now"]);
    if (time === undefined) add(["now"], "must be an ISO 8601 time or epoch milliseconds");
    else clock = time;
  }
  const engine = createEngine(model, { workspace, clock: () => clock });
  const known = (segments: PathSegment[], what: "permission" | "type", value: unknown): boolean => {
    const names: readonly string[] = what === "permission" ? model.permissions : model.types;
    if (typeof value === "string" && names.includes(value)) return true;
    add(segments, `unknown ${what} ${JSON.stringify(value)}`);
    return false;
  };
  const subjectOk = (segments: PathSegment[], value: unknown, grantee = false): boolean => {
    const pattern = grantee ? /^(user|group):./ : /^(user|group|apikey):./;
    if (typeof value === "string" && pattern.test(value)) return true;
    add(
      segments,
      grantee ? "must be user:<id> or group:<id>" : "must be user:, group: or apikey:<id>",
    );
    return false;
  };

  addResources(engine, data["resources"], add);
  const groups = data["groups"] ?? {};
  if (!isObject(groups)) add(["groups"], "must map group:<id> to a list of user:<id>");
  else {
    for (const [group, users] of Object.entries(groups)) {
      if (!group.startsWith("group:") || group.length < 7)
        add(["groups", group], "must be group:<id>");
      else if (!Array.isArray(users)) add(["groups", group], "must be a list of user:<id>");
      else
        for (const [index, user] of users.entries()) {
          if (typeof user !== "string" || !/^user:./.test(user))
            add(["groups", group, index], "must be user:<id>");
          else engine.addGroupMember(group as `group:${string}`, user as `user:${string}`);
        }
    }
  }
  for (const [index, grant] of entries(data, "grants", add).entries()) {
    const at: PathSegment[] = ["grants", index];
    if (!isObject(grant)) {
      add(at, "must be a mapping with subject, role and scope");
      continue;
    }
    for (const key of Object.keys(grant))
      if (!GRANT_KEYS.includes(key))
        add([...at, key], `unknown field; expected ${GRANT_KEYS.join(", ")}`);
    if (!subjectOk([...at, "subject"], grant["subject"], true)) continue;
    const extras = grant["extras"] ?? [];
    if (!Array.isArray(extras) || extras.some((extra) => typeof extra !== "string")) {
      add([...at, "extras"], "must be a list of permission names");
      continue;
    }
    const expiresAt = grant["expiresAt"] === undefined ? undefined : timeOf(grant["expiresAt"]);
    if (grant["expiresAt"] !== undefined && expiresAt === undefined) {
      add([...at, "expiresAt"], "must be an ISO 8601 time or epoch milliseconds");
      continue;
    }
    try {
      engine.addGrant({
        subject: grant["subject"] as GranteeRef,
        role: String(grant["role"]),
        scope: String(grant["scope"]) as ResourceRef,
        extras: extras as string[],
        expiresAt,
      });
    } catch (error) {
      if (!isGatehouseError(error)) throw error;
      add(at, error.message);
    }
  }

  const checks: PolicyCheck[] = [];
  for (const [index, check] of entries(data, "checks", add).entries()) {
    const at: PathSegment[] = ["checks", index];
    if (!isObject(check)) {
      add(at, "must be a mapping with subject, permission, resource and expect");
      continue;
    }
    for (const key of Object.keys(check))
      if (!CHECK_KEYS.includes(key))
        add([...at, key], `unknown field; expected ${CHECK_KEYS.join(", ")}`);
    const { subject, permission, resource, expect, reason } = check;
    let valid = subjectOk([...at, "subject"], subject);
    valid = known([...at, "permission"], "permission", permission) && valid;
    if (typeof resource !== "string" || !RESOURCE.test(resource)) {
      add([...at, "resource"], "must be type:id");
      valid = false;
    }
    if (expect !== "allow" && expect !== "deny") {
      add([...at, "expect"], "must be allow or deny");
      valid = false;
    }
    if (
      reason !== undefined &&
      (expect !== "deny" || !(DENY_REASONS as readonly unknown[]).includes(reason))
    ) {
      add([...at, "reason"], `goes with expect: deny and is one of ${DENY_REASONS.join(", ")}`);
      valid = false;
    }
    if (valid)
      checks.push({
        path: issuePath(at),
        line: lineOf(at),
        subject: subject as SubjectRef,
        permission: permission as string,
        resource: resource as ResourceRef,
        expect: expect as "allow" | "deny",
        reason: reason as DenyReason | undefined,
      });
  }
  const lists: PolicyList[] = [];
  for (const [index, list] of entries(data, "lists", add).entries()) {
    const at: PathSegment[] = ["lists", index];
    if (!isObject(list)) {
      add(at, "must be a mapping with subject, type, permission and expect");
      continue;
    }
    for (const key of Object.keys(list))
      if (!LIST_KEYS.includes(key))
        add([...at, key], `unknown field; expected ${LIST_KEYS.join(", ")}`);
    const { subject, type, permission, expect } = list;
    let valid = subjectOk([...at, "subject"], subject);
    valid = known([...at, "type"], "type", type) && valid;
    valid = known([...at, "permission"], "permission", permission) && valid;
    if (!Array.isArray(expect) || expect.some((item) => typeof item !== "string")) {
      add([...at, "expect"], "must be a list of resources (type:id); [] for none");
      valid = false;
    }
    if (valid)
      lists.push({
        path: issuePath(at),
        line: lineOf(at),
        subject: subject as SubjectRef,
        type: type as string,
        permission: permission as string,
        expect: expect as ResourceRef[],
      });
  }
  if (issues.isEmpty && checks.length === 0 && lists.length === 0)
    add([], "no checks and no lists: nothing to test");
  if (!issues.isEmpty) return fail();
  const name = typeof data["name"] === "string" ? data["name"] : undefined;
  return { success: true, suite: { file, name, model, engine, checks, lists } };
}

function entries(
  data: Record<string, unknown>,
  key: string,
  add: (segments: PathSegment[], message: string) => void,
): readonly unknown[] {
  const value = data[key] ?? [];
  if (Array.isArray(value)) return value;
  add([key], "must be a list");
  return [];
}

/** The model: a preset by name, an inline definition, or a model file next to the test file. */
function modelOf(
  data: Record<string, unknown>,
  file: string,
  add: (segments: PathSegment[], message: string) => void,
): Model | undefined {
  const { preset, model } = data;
  if ((preset === undefined) === (model === undefined)) {
    add([], "give either preset (a shipped model's name) or model (a definition or a file)");
    return undefined;
  }
  if (preset !== undefined) {
    const found = (presets as Readonly<Record<string, Model>>)[String(preset)];
    if (found === undefined)
      add(
        ["preset"],
        `unknown preset ${JSON.stringify(preset)}; presets: ${Object.keys(presets).join(", ")}`,
      );
    return found;
  }
  let definition: unknown = model;
  if (typeof model === "string") {
    try {
      definition = parse(readFileSync(resolve(dirname(file), model), "utf8"));
    } catch (error) {
      add(["model"], `cannot read the model file ${model}: ${(error as Error).message}`);
      return undefined;
    }
  }
  const result = parseModel(definition);
  if (result.success) return result.model;
  for (const issue of result.issues)
    add(["model"], `${issue.path === "" ? "" : `${issue.path}: `}${issue.message}`);
  return undefined;
}

/** Adds `resources` (a mapping of type:id → parent) to the engine, parents first. */
function addResources(
  engine: Engine,
  value: unknown,
  add: (segments: PathSegment[], message: string) => void,
): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    add(["resources"], "must map type:id to its parent");
    return;
  }
  const pending = new Map<string, string>();
  for (const [resource, parent] of Object.entries(value)) {
    if (!RESOURCE.test(resource)) add(["resources", resource], "a resource is named type:id");
    else if (typeof parent !== "string" || !RESOURCE.test(parent))
      add(["resources", resource], "the parent is a resource named type:id (or the root)");
    else pending.set(resource, parent);
  }
  // Parents first: place whatever hangs under a placed resource until nothing moves.
  let progressed = true;
  while (pending.size > 0 && progressed) {
    progressed = false;
    for (const [resource, parent] of pending) {
      if (!engine.hasResource(parent)) continue;
      pending.delete(resource);
      progressed = true;
      try {
        engine.upsertResource(resource as ResourceRef, parent as ResourceRef);
      } catch (error) {
        if (!isGatehouseError(error)) throw error;
        add(["resources", resource], error.message);
      }
    }
  }
  for (const [resource, parent] of pending)
    add(
      ["resources", resource],
      pending.has(parent)
        ? `${parent} is not placed: its own parent is missing, or they form a cycle`
        : `the parent ${parent} is neither the root ${engine.root} nor a listed resource`,
    );
}
