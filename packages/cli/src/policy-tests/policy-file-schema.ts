import { type DenyReason, modelSchema } from "@gatehouse/engine";
import { presetNames } from "@gatehouse/engine/presets";

/** A resource is named `type:id`. */
export const RESOURCE_PATTERN = "^[a-z][a-z0-9_-]*:.";
/** The deny reasons a check may expect. */
export const DENY_REASONS = [
  "not_found",
  "not_applicable",
  "no_grant",
  "key_expired",
  "key_scope",
  "key_resource",
] as const satisfies readonly DenyReason[];

const text = { type: "string" } as const;
const resource = { type: "string", pattern: RESOURCE_PATTERN } as const;
const time = {
  description: "An ISO 8601 time or epoch milliseconds.",
  anyOf: [text, { type: "number" }],
} as const;
const { $schema: _schema, $id: _id, ...modelDefinition } = modelSchema;

/**
 * The JSON Schema (2020-12) of a policy test file (YAML or JSON): the one definition of its shape,
 * from which `schemas/policy-test.schema.json` is written and `parsePolicyFile` takes its field
 * names. The model's part is the engine's `modelSchema`. `parsePolicyFile` also checks what only
 * the model knows: permissions, types, roles and the tree.
 * @example
 * # yaml-language-server: $schema=https://gatehouse.dev/schemas/policy-test.schema.json
 */
export const policyFileSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://gatehouse.dev/schemas/policy-test.schema.json",
  title: "Gatehouse policy test file",
  description:
    "A model (a preset or a definition), a tree, groups and grants, and the checks and lists expected of them (docs/cli.md, `gatehouse test`).",
  type: "object",
  additionalProperties: false,
  oneOf: [{ required: ["preset"] }, { required: ["model"] }],
  properties: {
    name: text,
    preset: { description: "A shipped model's name.", enum: presetNames },
    model: {
      description:
        "A model definition, or the path of a model file (JSON or YAML) next to this file.",
      anyOf: [text, { $ref: "#/$defs/model" }],
    },
    workspace: {
      description: "The workspace id; the root resource is <root type>:<workspace>.",
      type: "string",
      pattern: "^[^:]+$",
    },
    now: time,
    resources: {
      description: "Each resource (type:id) and its parent, the root or another listed resource.",
      type: "object",
      propertyNames: { pattern: RESOURCE_PATTERN },
      additionalProperties: resource,
    },
    groups: {
      description: "Each group (group:<id>) and its users (user:<id>).",
      type: "object",
      propertyNames: { pattern: "^group:." },
      additionalProperties: { type: "array", items: { type: "string", pattern: "^user:." } },
    },
    grants: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["subject", "role", "scope"],
        properties: {
          subject: { type: "string", pattern: "^(user|group):." },
          role: text,
          scope: resource,
          extras: { type: "array", items: text },
          expiresAt: time,
        },
      },
    },
    checks: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["subject", "permission", "resource", "expect"],
        // A reason goes with expect: deny.
        anyOf: [{ not: { required: ["reason"] } }, { properties: { expect: { const: "deny" } } }],
        properties: {
          subject: { type: "string", pattern: "^(user|group|apikey):." },
          permission: text,
          resource,
          expect: { enum: ["allow", "deny"] },
          reason: { description: "With expect: deny, the reason expected.", enum: DENY_REASONS },
        },
      },
    },
    lists: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["subject", "type", "permission", "expect"],
        properties: {
          subject: { type: "string", pattern: "^(user|group|apikey):." },
          type: text,
          permission: text,
          expect: {
            description: "The resources expected (type:id), in any order; [] for none.",
            type: "array",
            items: text,
          },
        },
      },
    },
  },
  $defs: { model: modelDefinition },
} as const;
