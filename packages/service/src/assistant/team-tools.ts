import type { Model, SubjectRef } from "@gatehouse/engine";
import { GatehouseError } from "@gatehouse/engine";
import type { ValidateFunction } from "ajv";
import { personOf, type RequestContext } from "../actor.ts";
import type { ActivityLog, AuditQuery } from "../audit/activity-log.ts";
import type { WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { type AccessRequests, MAX_ACCESS_MINUTES } from "../team/access-requests.ts";
import type { Elevations } from "../team/elevations.ts";
import { gate } from "../team/gates.ts";
import type { InvitationInfo, Invitations } from "../team/invitations.ts";
import type { Members } from "../team/members.ts";
import type { AssistantTool } from "./assistant-tools.ts";
import { compileInputSchema, type JsonSchema } from "./tool-schemas.ts";

/** What the edge provides to a call: how a new invitation's link reaches the invitee. */
export interface CallHooks {
  /** Delivers the invitation link (the server mails it); answers whether it went out. */
  readonly deliverInvitation?: (delivery: {
    readonly workspaceId: string;
    readonly invitation: InvitationInfo;
    readonly token: string;
  }) => Promise<boolean>;
}

/** The workflows Gatehouse's own team tools call; each keeps its own authorization. */
export interface TeamWorkflows {
  readonly members: Members;
  readonly invitations: Invitations;
  readonly activityLog: ActivityLog;
  readonly elevations: Elevations;
  readonly accessRequests: AccessRequests;
}

export interface TeamToolCall {
  readonly request: RequestContext;
  readonly workspaceId: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly workflows: TeamWorkflows;
  readonly hooks: CallHooks;
}

/**
 * A built-in tool: Gatehouse's team operations for the assistant. `anywhere` tools are visible
 * where the permission is held at any resource (people management at a customer, say); the
 * others need it at the workspace root, as their workflows do.
 */
export interface TeamTool extends AssistantTool {
  readonly anywhere: boolean;
  /**
   * For a self-service tool: whether the member may use it, in place of holding `permission` (the
   * workflow authorizes again). `gatehouse_elevate` is there for members with an eligibility.
   */
  readonly usableBy?: (reader: WorkspaceReader, subject: SubjectRef) => Promise<boolean>;
  /**
   * For every member holding a live grant (asking for access is open to all); `permission` is
   * then empty and the workflow alone authorizes what the call does.
   */
  readonly everyMember?: true;
  readonly validate: ValidateFunction;
  run(call: TeamToolCall): Promise<unknown>;
}

const compiled = new WeakMap<Model, readonly TeamTool[]>();

/**
 * Gatehouse's own team tools for a model: list members, invite, change a member's role (or
 * preview it), read the activity log — each needing the permission the model's gates give that workflow.
 * @example
 * teamTools(presets.company).map((tool) => tool.name); // ["gatehouse_list_members", …]
 */
export function teamTools(model: Model): readonly TeamTool[] {
  let tools = compiled.get(model);
  if (tools === undefined) {
    tools = Object.freeze(build(model));
    compiled.set(model, tools);
  }
  return tools;
}

function tool(
  definition: Omit<TeamTool, "validate" | "resource" | "endpoint" | "runsIn">,
): TeamTool {
  return {
    ...definition,
    resource: null,
    endpoint: null,
    runsIn: "gatehouse",
    validate: compileInputSchema(definition.inputSchema),
  };
}

function build(model: Model): TeamTool[] {
  const roles = model.roles.filter((role) => role !== model.ownerRole);
  const role: JsonSchema = {
    type: "string",
    enum: roles,
    description: `One of the workspace's roles: ${roles.join(", ")}`,
  };
  const resource: JsonSchema = {
    type: "string",
    minLength: 3,
    maxLength: 300,
    description: "A resource as type:id, e.g. server:fra-1",
  };
  return [
    tool({
      name: "gatehouse_list_members",
      description:
        "List the workspace's members with their roles and the resources each role is granted at.",
      inputSchema: { type: "object", properties: {}, additionalProperties: false },
      permission: gate(model, "teamView"),
      anywhere: false,
      async run({ request, workspaceId, workflows }) {
        const members = await workflows.members.list(request, workspaceId);
        return {
          members: members.map((member) => ({
            userId: member.userId,
            email: member.email,
            name: member.name,
            isOwner: member.isOwner,
            grants: member.grants.map((grant) => ({
              role: grant.role,
              scope: grant.scope,
              extras: [...grant.extras],
              expiresAt: grant.expiresAt ?? null,
            })),
            groups: [...member.groups],
          })),
        };
      },
    }),
    tool({
      name: "gatehouse_invite_member",
      description:
        "Invite someone by email with a role, at the whole workspace or at the resources given, and/or into teams. The invitation link is mailed to them; it is never shown here.",
      inputSchema: {
        type: "object",
        properties: {
          email: { type: "string", format: "email", maxLength: 254 },
          role,
          scopes: {
            type: "array",
            items: resource,
            minItems: 1,
            maxItems: 20,
            description: "Where the role is granted; the whole workspace when omitted",
          },
          groups: {
            type: "array",
            items: { type: "string", minLength: 1, maxLength: 100 },
            minItems: 1,
            maxItems: 20,
            description:
              "Ids of the teams (groups) the invitee joins on accepting; without a role, an invitation into these teams only",
          },
          replace: {
            type: "boolean",
            description: "Revoke a pending invitation to the same email for this one",
          },
        },
        required: ["email"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows, hooks }) {
        const { invitation, token } = await workflows.invitations.create(request, workspaceId, {
          email: args["email"] as string,
          ...(args["role"] === undefined ? {} : { role: args["role"] as string }),
          ...(args["scopes"] === undefined ? {} : { scopes: args["scopes"] as string[] }),
          ...(args["groups"] === undefined ? {} : { groups: args["groups"] as string[] }),
          ...(args["replace"] === true ? { replace: true } : {}),
        });
        const mailed =
          hooks.deliverInvitation === undefined
            ? false
            : await hooks.deliverInvitation({ workspaceId, invitation, token });
        return {
          invitation: {
            id: invitation.id,
            email: invitation.email,
            role: invitation.role,
            scopes: [...invitation.scopes],
            groups: invitation.groups.map((group) => ({ ...group })),
            expiresAt: invitation.expiresAt,
          },
          mailed,
        };
      },
    }),
    tool({
      name: "gatehouse_change_member_role",
      description:
        "Change a member's role: their grants are replaced by this one role, at the whole workspace or at the resource given.",
      inputSchema: {
        type: "object",
        properties: {
          userId: { type: "string", minLength: 1, maxLength: 100 },
          role,
          scope: {
            ...resource,
            description: "Where the role is granted; the whole workspace when omitted",
          },
        },
        required: ["userId", "role"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        const scope = (args["scope"] as string | undefined) ?? `${model.rootType}:${workspaceId}`;
        const grant = { role: args["role"] as string, scope };
        const { revision } = await workflows.members.setGrants(
          request,
          workspaceId,
          args["userId"] as string,
          [grant],
        );
        return { userId: args["userId"], grants: [grant], revision };
      },
    }),
    tool({
      name: "gatehouse_preview_access_change",
      description:
        "Preview changing a member's role, or removing them (remove: true), without changing anything: who would gain and who would lose which permissions on which resources.",
      inputSchema: {
        type: "object",
        properties: {
          userId: { type: "string", minLength: 1, maxLength: 100 },
          role,
          scope: {
            ...resource,
            description: "Where the role would be granted; the whole workspace when omitted",
          },
          remove: {
            type: "boolean",
            description: "Preview removing the member from the workspace instead",
          },
        },
        required: ["userId"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        const userId = args["userId"] as string;
        if (args["remove"] === true) {
          const { diff } = await workflows.members.remove(request, workspaceId, userId, {
            dryRun: true,
          });
          return { userId, removed: true, diff };
        }
        if (args["role"] === undefined)
          throw new GatehouseError(
            ErrorCode.INVALID_INPUT,
            "a preview needs the role they would hold, or remove: true",
          );
        const scope = (args["scope"] as string | undefined) ?? `${model.rootType}:${workspaceId}`;
        const grant = { role: args["role"] as string, scope };
        const { diff } = await workflows.members.setGrants(request, workspaceId, userId, [grant], {
          dryRun: true,
        });
        return { userId, grants: [grant], diff };
      },
    }),
    tool({
      name: "gatehouse_elevate",
      description:
        "Elevate yourself for a while to a role you are eligible for at a resource (just-in-time access), with a reason, e.g. Operator on server:fra-1 for 60 minutes; or end your elevation there early (end: true). It ends by itself when the time is up.",
      inputSchema: {
        type: "object",
        properties: {
          scope: { ...resource, description: "Where you are eligible, as type:id" },
          role: { ...role, description: "The eligible role, if you have several there" },
          minutes: {
            type: "integer",
            minimum: 1,
            maximum: 43_200,
            description: "How long, at most the eligibility's maximum",
          },
          reason: { type: "string", minLength: 1, maxLength: 500 },
          totpCode: {
            type: "string",
            maxLength: 20,
            description:
              "The code from the member's authenticator app, when the eligibility needs it",
          },
          end: { type: "boolean", description: "End the live elevation at scope now instead" },
        },
        required: ["scope"],
        additionalProperties: false,
      },
      // Nominal: the member's own eligibility is the gate (usableBy), the workflow checks again.
      permission: model.definition.delegation,
      anywhere: true,
      usableBy: (reader, subject) => hasEligibility(reader, subject),
      async run({ request, workspaceId, arguments: args, workflows }) {
        return elevate(request, workspaceId, args, workflows.elevations);
      },
    }),
    tool({
      name: "gatehouse_read_activity_log",
      description:
        "Read the workspace's activity log, newest first: who did what, on which resource, when, and whether it was allowed.",
      inputSchema: {
        type: "object",
        properties: {
          actor: { type: "string", maxLength: 300, description: "A user, API key or system id" },
          action: {
            type: "string",
            maxLength: 300,
            description: "An action such as member.add, or a family such as member.*",
          },
          resource: { ...resource, description: "The target, such as site:shop or user:<id>" },
          result: { type: "string", enum: ["success", "denied"] },
          from: {
            type: "string",
            format: "date-time",
            description: "From this time on (ISO 8601)",
          },
          to: { type: "string", format: "date-time", description: "Before this time (ISO 8601)" },
          limit: { type: "integer", minimum: 1, maximum: 100 },
          cursor: {
            type: "string",
            maxLength: 100,
            description: "nextCursor of the previous page",
          },
        },
        additionalProperties: false,
      },
      permission: gate(model, "auditView"),
      anywhere: false,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.activityLog.list(request, workspaceId, {
          limit: 20,
          ...(args as AuditQuery),
        });
      },
    }),
    tool({
      name: "gatehouse_request_access",
      description:
        "Ask, for yourself, for a role on a resource for a while (e.g. 120 minutes), saying why. Those who may give that role there are notified and approve — perhaps for less — or reject; nothing is granted until then.",
      inputSchema: {
        type: "object",
        properties: {
          role,
          resource: { ...resource, description: "Where the role is wanted, as type:id" },
          reason: { type: "string", minLength: 1, maxLength: 1000 },
          durationMinutes: {
            type: "integer",
            minimum: 1,
            maximum: MAX_ACCESS_MINUTES,
            description: "For how long, in minutes (2 hours: 120)",
          },
        },
        required: ["role", "resource", "reason", "durationMinutes"],
        additionalProperties: false,
      },
      permission: "",
      anywhere: true,
      everyMember: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        const { request: created, revision } = await workflows.accessRequests.create(
          request,
          workspaceId,
          {
            role: args["role"] as string,
            scope: args["resource"] as string,
            reason: args["reason"] as string,
            durationMinutes: args["durationMinutes"] as number,
          },
        );
        return { request: created, revision };
      },
    }),
    tool({
      name: "gatehouse_list_access_requests",
      description:
        "List access requests, newest first: your own, and those you may decide (whose role you may give on their resource).",
      inputSchema: {
        type: "object",
        properties: {
          status: {
            type: "string",
            enum: ["pending", "approved", "rejected", "withdrawn", "revoked", "expired"],
          },
          mine: { type: "boolean", description: "Only your own requests" },
        },
        additionalProperties: false,
      },
      permission: "",
      anywhere: true,
      everyMember: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return {
          accessRequests: await workflows.accessRequests.list(
            request,
            workspaceId,
            args as { status?: "pending"; mine?: boolean },
          ),
        };
      },
    }),
    tool({
      name: "gatehouse_withdraw_access_request",
      description: "Withdraw one of your own pending access requests.",
      inputSchema: {
        type: "object",
        properties: { requestId: { type: "string", minLength: 1, maxLength: 100 } },
        required: ["requestId"],
        additionalProperties: false,
      },
      permission: "",
      anywhere: true,
      everyMember: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.accessRequests.withdraw(request, workspaceId, args["requestId"] as string);
      },
    }),
    tool({
      name: "gatehouse_list_eligibilities",
      description:
        "List just-in-time eligibilities: your own (the roles you may elevate yourself to, where, for how long at most, and any live elevation), and those you could set for others.",
      inputSchema: { type: "object", properties: {}, additionalProperties: false },
      permission: "",
      anywhere: true,
      everyMember: true,
      async run({ request, workspaceId, workflows }) {
        return { eligibilities: await workflows.elevations.list(request, workspaceId) };
      },
    }),
    tool({
      name: "gatehouse_set_eligibility",
      description:
        "Make a member eligible to elevate themself to a role at a resource, for at most maxMinutes at a time (replacing their eligibility there). It gives nothing until they elevate.",
      inputSchema: {
        type: "object",
        properties: {
          userId: { type: "string", minLength: 1, maxLength: 100 },
          role,
          scope: { ...resource, description: "Where they may elevate, as type:id" },
          maxMinutes: {
            type: "integer",
            minimum: 1,
            maximum: 43_200,
            description: "The longest elevation, in minutes",
          },
          require2fa: {
            type: "boolean",
            description: "Ask for a fresh authenticator code on each elevation",
          },
        },
        required: ["userId", "role", "scope", "maxMinutes"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.elevations.set(request, workspaceId, {
          subject: `user:${args["userId"] as string}`,
          role: args["role"] as string,
          scope: args["scope"] as string,
          maxDurationMs: (args["maxMinutes"] as number) * 60_000,
          ...(args["require2fa"] === undefined
            ? {}
            : { require2fa: args["require2fa"] as boolean }),
        });
      },
    }),
    tool({
      name: "gatehouse_remove_eligibility",
      description:
        "Remove an eligibility (its id from gatehouse_list_eligibilities); a live elevation runs on until it ends.",
      inputSchema: {
        type: "object",
        properties: { eligibilityId: { type: "string", minLength: 1, maxLength: 100 } },
        required: ["eligibilityId"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.elevations.remove(request, workspaceId, args["eligibilityId"] as string);
      },
    }),
    tool({
      name: "gatehouse_approve_access_request",
      description:
        "Approve a pending access request (its id from gatehouse_list_access_requests) you may decide — also a host's request to let one of its support people in. You may narrow it: a lesser role, a resource at or below, fewer minutes.",
      inputSchema: {
        type: "object",
        properties: {
          requestId: { type: "string", minLength: 1, maxLength: 100 },
          role: { ...role, description: "A role within the one asked for" },
          resource: { ...resource, description: "The resource asked for, or one below it" },
          durationMinutes: {
            type: "integer",
            minimum: 1,
            maximum: MAX_ACCESS_MINUTES,
            description: "At most the minutes asked for",
          },
        },
        required: ["requestId"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.accessRequests.approve(request, workspaceId, args["requestId"] as string, {
          ...(args["role"] === undefined ? {} : { role: args["role"] as string }),
          ...(args["resource"] === undefined ? {} : { scope: args["resource"] as string }),
          ...(args["durationMinutes"] === undefined
            ? {}
            : { durationMinutes: args["durationMinutes"] as number }),
        });
      },
    }),
    tool({
      name: "gatehouse_reject_access_request",
      description:
        "Reject a pending access request (or a host's support request) you may decide, optionally saying why.",
      inputSchema: {
        type: "object",
        properties: {
          requestId: { type: "string", minLength: 1, maxLength: 100 },
          reason: { type: "string", minLength: 1, maxLength: 1000 },
        },
        required: ["requestId"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.accessRequests.reject(request, workspaceId, args["requestId"] as string, {
          ...(args["reason"] === undefined ? {} : { reason: args["reason"] as string }),
        });
      },
    }),
    tool({
      name: "gatehouse_revoke_access_request",
      description:
        "End an approved access request's access now, before its time (a support person's too).",
      inputSchema: {
        type: "object",
        properties: { requestId: { type: "string", minLength: 1, maxLength: 100 } },
        required: ["requestId"],
        additionalProperties: false,
      },
      permission: model.definition.delegation,
      anywhere: true,
      async run({ request, workspaceId, arguments: args, workflows }) {
        return workflows.accessRequests.revoke(request, workspaceId, args["requestId"] as string);
      },
    }),
  ];
}

/** Whether `subject` (a person, not a key) holds an eligibility in the workspace. */
async function hasEligibility(reader: WorkspaceReader, subject: SubjectRef): Promise<boolean> {
  if (!subject.startsWith("user:")) return false;
  const row = await reader.db
    .selectFrom("eligibilities")
    .select("id")
    .where("workspace_id", "=", reader.workspace.id)
    .where("subject", "=", subject)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** `gatehouse_elevate`: the caller's eligibility at `scope` (and `role`), activated or ended. */
async function elevate(
  request: RequestContext,
  workspaceId: string,
  args: Readonly<Record<string, unknown>>,
  elevations: Elevations,
): Promise<unknown> {
  const person = personOf(request.actor);
  const mine = (await elevations.list(request, workspaceId)).filter(
    (item) => item.subject === `user:${person}`,
  );
  const found = mine.find(
    (item) =>
      item.scope === args["scope"] && (args["role"] === undefined || item.role === args["role"]),
  );
  if (found === undefined)
    throw new GatehouseError(
      ErrorCode.NOT_FOUND,
      `you are not eligible for that there; your eligibilities: ${
        mine.map((item) => `${item.role} on ${item.scope}`).join(", ") || "none"
      }`,
    );
  if (args["end"] === true) {
    const { revision } = await elevations.deactivate(request, workspaceId, found.id);
    return { ended: { role: found.role, scope: found.scope }, revision };
  }
  if (typeof args["minutes"] !== "number" || typeof args["reason"] !== "string")
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "an elevation needs minutes and a reason");
  const { grant, revision } = await elevations.activate(request, workspaceId, found.id, {
    durationMs: args["minutes"] * 60_000,
    reason: args["reason"],
    totpCode: args["totpCode"] as string | undefined,
  });
  return {
    elevated: { role: grant.role, scope: grant.scope, until: grant.expiresAt, note: grant.note },
    revision,
  };
}
