import { createHash } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { Actor, Origin, RequestContext } from "../actor.ts";
import type { AuditLogTable, Database } from "../database/schema.ts";

export type AuditResult = "success" | "denied";

/** What a workflow records; the chain fields are added on append. */
export interface AuditRecord {
  readonly action: string;
  readonly target?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Who the entry names when not the change's own caller: the clock's tidy-up of something that
   * ended, done inside another change (an invitation noticing that a support person's access ended).
   */
  readonly by?: RequestContext | undefined;
}

export type AuditRow = Selectable<AuditLogTable>;

/** The hash of an entry covers every field and the previous entry's hash. */
export function entryHash(row: Omit<AuditRow, "hash">): string {
  return createHash("sha256")
    .update(
      JSON.stringify([
        row.prev_hash,
        row.workspace_id,
        row.seq,
        row.at,
        row.actor_type,
        row.actor_id,
        row.on_behalf_of,
        row.action,
        row.target,
        row.result,
        row.ip,
        row.agent,
        row.details,
      ]),
    )
    .digest("hex");
}

function actorColumns(actor: Actor): {
  actor_type: string;
  actor_id: string;
  on_behalf_of: string | null;
} {
  switch (actor.type) {
    case "user":
      // The host application acting for a person: the host credential acted, for them.
      return actor.host === undefined
        ? { actor_type: "user", actor_id: actor.userId, on_behalf_of: null }
        : { actor_type: "host", actor_id: actor.host.name, on_behalf_of: actor.userId };
    case "api_key":
      return { actor_type: "api_key", actor_id: actor.keyId, on_behalf_of: actor.userId };
    case "assistant":
      // Through an API key, the key is who acted (as for the key itself); for the member otherwise.
      return {
        actor_type: "assistant",
        actor_id: actor.keyId ?? actor.userId,
        on_behalf_of: actor.userId,
      };
    case "preview":
      return { actor_type: "preview", actor_id: actor.viewerId, on_behalf_of: actor.userId };
    case "system":
      return actor.host === undefined
        ? { actor_type: "system", actor_id: actor.name, on_behalf_of: null }
        : { actor_type: "host", actor_id: actor.host.name, on_behalf_of: null };
  }
}

/**
 * Appends one entry after `head` (the workspace's last seq and hash, read under its lock) and
 * returns the new head. The caller stores the head on the workspace row in the same transaction.
 */
export async function appendAudit(
  trx: Kysely<Database>,
  entry: {
    readonly workspaceId: string;
    readonly head: { readonly seq: number; readonly hash: string };
    readonly at: number;
    readonly actor: Actor;
    readonly origin: Origin | undefined;
    readonly result: AuditResult;
    readonly record: AuditRecord;
  },
): Promise<{ seq: number; hash: string }> {
  const row: Omit<AuditRow, "hash"> = {
    workspace_id: entry.workspaceId,
    seq: entry.head.seq + 1,
    at: entry.at,
    ...actorColumns(entry.actor),
    action: entry.record.action,
    target: entry.record.target ?? null,
    result: entry.result,
    ip: entry.origin?.ip ?? null,
    agent: entry.origin?.agent ?? null,
    details: JSON.stringify(entry.record.details ?? {}),
    prev_hash: entry.head.hash,
  };
  const hash = entryHash(row);
  await trx
    .insertInto("audit_log")
    .values({ ...row, hash })
    .execute();
  return { seq: row.seq, hash };
}

export type ChainProblem = "modified" | "deleted" | "reordered_or_inserted";

export type ChainVerification =
  | { readonly valid: true; readonly entries: number; readonly head: string }
  | {
      readonly valid: false;
      readonly entries: number;
      readonly problem: ChainProblem;
      readonly seq: number;
      readonly message: string;
    };

/**
 * Walks a workspace's chain from the first entry: detects modified entries (hash mismatch),
 * deleted ones (a gap, or a tail shorter than the head kept on the workspace), and reordered or
 * inserted ones (an entry not linked to its predecessor).
 */
export async function verifyChain(
  db: Kysely<Database>,
  workspaceId: string,
  head: { readonly seq: number; readonly hash: string },
): Promise<ChainVerification> {
  const rows = await db
    .selectFrom("audit_log")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("seq")
    .execute();
  let previous = "";
  let expectedSeq = 1;
  const broken = (problem: ChainProblem, seq: number, message: string): ChainVerification => ({
    valid: false,
    entries: rows.length,
    problem,
    seq,
    message,
  });
  for (const row of rows) {
    const { hash, ...rest } = row;
    if (entryHash(rest) !== hash)
      return broken("modified", row.seq, `entry ${row.seq} does not match its hash`);
    if (row.seq !== expectedSeq) {
      return row.seq > expectedSeq
        ? broken("deleted", expectedSeq, `entry ${expectedSeq} is missing`)
        : broken("reordered_or_inserted", row.seq, `entry ${row.seq} is out of sequence`);
    }
    if (row.prev_hash !== previous) {
      return broken(
        "reordered_or_inserted",
        row.seq,
        `entry ${row.seq} is not linked to entry ${row.seq - 1}`,
      );
    }
    previous = hash;
    expectedSeq++;
  }
  if (rows.length !== head.seq || previous !== head.hash) {
    return rows.length < head.seq
      ? broken(
          "deleted",
          rows.length + 1,
          `the log ends at ${rows.length} but ${head.seq} entries were written`,
        )
      : broken("reordered_or_inserted", head.seq + 1, "the log does not end at the recorded head");
  }
  return { valid: true, entries: rows.length, head: previous };
}
