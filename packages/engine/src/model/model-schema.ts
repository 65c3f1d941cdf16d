import { DEFAULT_POLICY, SECTION_WORKFLOWS } from "./model-definition.ts";

/** Type, role and plan names: lowercase letters, digits, `-` and `_`. */
export const NAME_PATTERN = "^[a-z][a-z0-9_-]*$";
/** Permission names read `area.action`: lowercase, dot-separated. */
export const PERMISSION_NAME_PATTERN = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$";
/** Resource types are kept in a 32-bit mask per permission. */
export const MAX_RESOURCE_TYPES = 32;

const text = { type: "string" } as const;
const names = { type: "array", items: text, uniqueItems: true } as const;
const someNames = { ...names, minItems: 1 } as const;
const permissionByType = { type: "object", additionalProperties: text } as const;

/**
 * The JSON Schema (2020-12) of a model file: the one definition of its shape, from which
 * `schemas/model.schema.json` is written and `validateModel` takes its field names and name rules.
 * It checks the shape only; `validateModel` also checks what refers to what (an unknown type, a
 * permission outside a role's scope, one owner role, …).
 * @example
 * new Ajv2020().validate(modelSchema, JSON.parse(readFileSync("model.json", "utf8")));
 */
export const modelSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://gatehouse.dev/schemas/model.schema.json",
  title: "Gatehouse model",
  description:
    "Resource types, permissions and roles of a Gatehouse model (docs/engine.md). The shape only: references between names are checked when the model is loaded.",
  type: "object",
  additionalProperties: false,
  required: ["name", "types", "permissions", "roles", "delegation"],
  properties: {
    name: { type: "string", pattern: NAME_PATTERN },
    label: text,
    source: { ...text, description: "The documentation page the model reproduces." },
    types: {
      description: "Resource types; exactly one has no parents: the workspace root.",
      type: "object",
      minProperties: 1,
      maxProperties: MAX_RESOURCE_TYPES,
      propertyNames: { pattern: NAME_PATTERN },
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        properties: { parents: names, label: text },
      },
    },
    permissions: {
      type: "object",
      propertyNames: { pattern: PERMISSION_NAME_PATTERN },
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["on"],
        properties: {
          on: {
            description: "The resource type(s) this permission acts on.",
            anyOf: [text, someNames],
          },
          description: text,
        },
      },
    },
    roles: {
      type: "object",
      propertyNames: { pattern: NAME_PATTERN },
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["scopes"],
        properties: {
          label: text,
          description: text,
          source: text,
          scopes: { ...someNames, description: "Resource types this role can be granted at." },
          permissions: { ...names, description: "Omitted for the owner role." },
          owner: { type: "boolean", description: "Marks the single owner role." },
          navigation: {
            enum: ["full", "workspace-only"],
            description:
              "Console navigation for members holding only such roles: `workspace-only` hides the workspace switcher and the account pages.",
          },
        },
      },
    },
    ownerOnly: { ...names, description: "Permissions only the owner holds." },
    delegation: {
      ...text,
      description: "The permission that lets a member grant, change and revoke access.",
    },
    plans: {
      type: "object",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["maxMembers"],
        properties: {
          label: text,
          maxMembers: {
            description: "Members plus pending invitations; null for no limit.",
            anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }],
          },
        },
      },
    },
    defaultPlan: text,
    sections: {
      type: "object",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["label", "anyOf"],
        properties: {
          label: text,
          anyOf: someNames,
          workflow: { type: "string", enum: SECTION_WORKFLOWS },
        },
      },
    },
    gates: {
      type: "object",
      additionalProperties: false,
      properties: {
        teamView: text,
        auditView: text,
        settings: text,
        plan: text,
        createResource: permissionByType,
        deleteResource: permissionByType,
        signIn: permissionByType,
        activity: permissionByType,
      },
    },
    formerOwnerRole: text,
    policy: {
      type: "object",
      additionalProperties: false,
      properties: Object.fromEntries(
        Object.keys(DEFAULT_POLICY).map((key) => [key, { type: "boolean" }]),
      ) as { readonly [K in keyof typeof DEFAULT_POLICY]: { readonly type: "boolean" } },
    },
  },
} as const;
