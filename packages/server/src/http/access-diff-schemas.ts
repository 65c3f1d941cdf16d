import type { WriteOptions, WriteResult } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { strict } from "./schemas.ts";

/** `?dryRun=true` on a structural write: every check of the change, then the diff instead of it. */
export const DryRunQuery = Type.Object(
  {
    dryRun: Type.Optional(
      Type.Union([Type.Literal("true"), Type.Literal("false")], {
        description:
          "`true`: change nothing; answer who would gain and lose which permissions where " +
          "(`{ diff, revision }`, 200), after the same checks as the change itself",
      }),
    ),
  },
  strict,
);

const AccessDiffEntryBody = Type.Object({
  subject: Type.String({
    description: "`user:<id>` or `group:<id>`; API keys act for their owners",
  }),
  user: Type.Union([Type.Object({ email: Type.String(), name: Type.String() }), Type.Null()], {
    description: "For users, when the caller may see the team",
  }),
  group: Type.Union([Type.Object({ name: Type.String() }), Type.Null()], {
    description: "For groups, when the caller may see the team",
  }),
  resource: Type.String(),
  gained: Type.Array(Type.String(), { description: "Permissions held after and not before" }),
  lost: Type.Array(Type.String(), { description: "Permissions held before and not after" }),
});

const DIFF_FIELDS = {
  diff: Type.Array(AccessDiffEntryBody, {
    description: "Every user and group whose permissions on a resource would change",
  }),
  revision: Type.Integer({ description: "The workspace's current revision: nothing was written" }),
};

/** What a dry run answers. List it before the write's own answer in a union: it requires `diff`. */
export const AccessDiffAnswer = Type.Object(DIFF_FIELDS);

/** A dry run of deleting a resource: the diff and the resources that would go. */
export const DeleteDiffAnswer = Type.Object({
  ...DIFF_FIELDS,
  deleted: Type.Array(Type.String()),
});

/** The service's write options from the query string. */
export function dryRunOf(query: { readonly dryRun?: "true" | "false" | undefined }): WriteOptions {
  return { dryRun: query.dryRun === "true" };
}

/** A dry run's answer as JSON. */
export function accessDiffBody(result: WriteResult) {
  return {
    diff: (result.diff ?? []).map((entry) => ({
      subject: entry.subject,
      user: entry.user ?? null,
      group: entry.group ?? null,
      resource: entry.resource,
      gained: [...entry.gained],
      lost: [...entry.lost],
    })),
    revision: result.revision,
  };
}
