import { type ReactNode, useCallback, useEffect, useState } from "react";
import { type AccessDiffAnswer, dryRunOf, type Grant, type RoleMatrix, ws } from "./api.ts";
import { roleLabel, rootTypeOf, scopeLabel } from "./model.ts";
import { countOf } from "./plural.ts";
import { useWorkspace } from "./session.tsx";
import { Button, ConfirmDialog, ErrorNote, useAction } from "./ui.tsx";
import { useApi } from "./use-api.ts";

/**
 * One mechanism for every change that widens or narrows someone's access (#16): preview it in a
 * confirmation (from → to, where, what they gain and lose, in the role matrix's words), save it
 * only on "confirm", then acknowledge it in a live status message with an Undo where undoing is
 * possible. Nothing is saved on change, focus or arrow keys: callers open the preview from a
 * button.
 */

/** A grant as the console shows and compares it. */
export interface GrantLike {
  readonly role: string;
  readonly scope: string;
  readonly extras?: readonly string[] | undefined;
  readonly expiresAt?: number | null | undefined;
}

/** A change to preview: whose access, the grants before and after, and how to save and undo it. */
export interface AccessChange {
  /** The person or team, as people read it ("Otto Operator"). */
  readonly who: string;
  /** The dialog's title, e.g. "Change Otto Operator's role?". */
  readonly title: string;
  /** The confirm button's label, e.g. "Change role". */
  readonly confirmLabel: string;
  /** Their grants now, and as the change leaves them ([] when access ends). */
  readonly before: readonly GrantLike[];
  readonly after: readonly GrantLike[];
  /** Saves the change. */
  apply(): Promise<void>;
  /** Restores `before`; absent when it cannot be undone (then `noUndo` says why). */
  readonly undo?: (() => Promise<void>) | undefined;
  /** Why there is no undo, shown in the confirmation (e.g. a removal needs a new invitation). */
  readonly noUndo?: string | undefined;
  /** The acknowledgement once saved, e.g. "Otto Operator is now Admin of the whole workspace." */
  readonly done: string;
  /** More to say in the confirmation. */
  readonly note?: ReactNode;
  /**
   * false: the write has no dry run (`?dryRun=true`), so the dialog does not ask who else it
   * affects — e.g. approving a join request, which changes only the person it names.
   */
  readonly affected?: false;
  readonly tone?: "danger";
}

/** What a role gives: permission name → the matrix's description. */
type PermissionWords = ReadonlyMap<string, string>;

/** Each permission the grants give, with the scopes where they give it. */
function permissionsOf(
  matrix: RoleMatrix | undefined,
  grants: readonly GrantLike[],
): Map<string, Set<string>> {
  const held = new Map<string, Set<string>>();
  const add = (permission: string, scope: string) =>
    held.set(permission, (held.get(permission) ?? new Set()).add(scope));
  for (const grant of grants) {
    const role = matrix?.roles.find((candidate) => candidate.name === grant.role);
    for (const permission of role?.permissions ?? []) add(permission, grant.scope);
    for (const permission of grant.extras ?? []) add(permission, grant.scope);
  }
  return held;
}

/** "Admin of the whole workspace", "Operator of Server fra-1". */
export function grantWords(
  model: ReturnType<typeof useWorkspace>["model"],
  grant: GrantLike,
): string {
  const where = scopeLabel(model, grant.scope);
  const expiry =
    grant.expiresAt === undefined || grant.expiresAt === null
      ? ""
      : ` until ${new Date(grant.expiresAt).toLocaleDateString()}`;
  return `${roleLabel(model, grant.role)} on ${where.charAt(0).toLowerCase()}${where.slice(1)}${expiry}`;
}

/** Grants in words, "No access" for none. */
function grantsWords(
  model: ReturnType<typeof useWorkspace>["model"],
  grants: readonly GrantLike[],
): string {
  return grants.length === 0
    ? "No access"
    : grants.map((grant) => grantWords(model, grant)).join("; ");
}

/**
 * The difference of two sets of grants in words: what is gained, what is lost. A permission counts
 * as kept at a scope when the other side gives it there or on the whole workspace (`isRoot`); a
 * second grant of the same role elsewhere is a gain (the console knows no more of the tree).
 */
export function accessDifference(
  matrix: RoleMatrix | undefined,
  before: readonly GrantLike[],
  after: readonly GrantLike[],
  isRoot: (scope: string) => boolean = () => false,
): { readonly gains: readonly string[]; readonly losses: readonly string[] } {
  const words: PermissionWords = new Map(
    (matrix?.permissions ?? []).map((permission) => [permission.name, permission.description]),
  );
  const had = permissionsOf(matrix, before);
  const has = permissionsOf(matrix, after);
  const describe = (name: string) => words.get(name) || name;
  /** The permissions `from` gives somewhere that `to` does not give there. */
  const missing = (from: Map<string, Set<string>>, to: Map<string, Set<string>>) =>
    [...from]
      .filter(([name, scopes]) => {
        const kept = to.get(name);
        return (
          kept === undefined ||
          ([...kept].every((scope) => !isRoot(scope)) &&
            [...scopes].some((scope) => !kept.has(scope)))
        );
      })
      .map(([name]) => describe(name));
  return { gains: missing(has, had), losses: missing(had, has) };
}

function sameGrants(a: readonly GrantLike[], b: readonly GrantLike[]): boolean {
  const key = (grant: GrantLike) => `${grant.role}@${grant.scope}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

/** The preview inside the confirmation: from → to, where, and the gains and losses. */
function AccessPreview(props: {
  readonly change: AccessChange;
  readonly matrix: RoleMatrix | undefined;
}): React.JSX.Element {
  const { model } = useWorkspace();
  const { change } = props;
  const root = rootTypeOf(model);
  const { gains, losses } = accessDifference(props.matrix, change.before, change.after, (scope) =>
    scope.startsWith(`${root}:`),
  );
  const list = (grants: readonly GrantLike[]) => grantsWords(model, grants);
  const scopesChange = !sameGrants(
    change.before.map((grant) => ({ ...grant, role: "" })),
    change.after.map((grant) => ({ ...grant, role: "" })),
  );
  return (
    <div className="access-preview" data-testid="access-preview">
      <dl className="access-from-to">
        <div>
          <dt>Now</dt>
          <dd data-testid="access-before">{list(change.before)}</dd>
        </div>
        <div>
          <dt>After</dt>
          <dd data-testid="access-after">{list(change.after)}</dd>
        </div>
      </dl>
      {scopesChange ? (
        <p className="muted small">
          Where it applies changes too: a role on the whole workspace reaches every server and site
          in it.
        </p>
      ) : null}
      {props.matrix === undefined ? null : (
        <div className="access-diff">
          {gains.length === 0 ? null : (
            <div>
              <h3 className="access-diff-title">
                {change.who} gains ({gains.length})
              </h3>
              <ul aria-label={`${change.who} gains`}>
                {gains.map((text) => (
                  <li key={text}>{text}</li>
                ))}
              </ul>
            </div>
          )}
          {losses.length === 0 ? null : (
            <div>
              <h3 className="access-diff-title">
                {change.who} loses ({losses.length})
              </h3>
              <ul aria-label={`${change.who} loses`}>
                {losses.map((text) => (
                  <li key={text}>{text}</li>
                ))}
              </ul>
            </div>
          )}
          {gains.length === 0 && losses.length === 0 ? (
            <p className="muted small">The same permissions, at the place shown above.</p>
          ) : null}
        </div>
      )}
      {change.affected === false ? null : <AffectedAccess change={change} matrix={props.matrix} />}
      {change.note}
      {change.undo === undefined && change.noUndo !== undefined ? (
        <p className="access-no-undo">
          <strong>This cannot be undone.</strong> {change.noUndo}
        </p>
      ) : null}
    </div>
  );
}

/** How many access lines the confirmation shows before "and N more". */
const FIRST_LINES = 5;

/** "site.deploy, site.view and 4 more". */
function permissionList(names: readonly string[]): string {
  return names.length <= 3
    ? names.join(", ")
    : `${names.slice(0, 2).join(", ")} and ${names.length - 2} more`;
}

/**
 * Everyone the change affects, as the API's dry run of the change's own request answers it (#18):
 * counts, then the first lines — "Otto Operator loses site.deploy on Site a".
 */
function AffectedAccess(props: {
  readonly change: AccessChange;
  readonly matrix: RoleMatrix | undefined;
}): React.JSX.Element {
  const { model } = useWorkspace();
  const words = new Map(
    (props.matrix?.permissions ?? []).map((permission) => [
      permission.name,
      permission.description,
    ]),
  );
  const inWords = (names: readonly string[]) =>
    permissionList(names.map((name) => words.get(name) || name));
  const [answer, setAnswer] = useState<AccessDiffAnswer | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let current = true;
    setAnswer(undefined);
    setError(undefined);
    dryRunOf(props.change.apply).then(
      (next) => current && setAnswer(next),
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [props.change]);
  if (error !== undefined) return <ErrorNote error={error} />;
  if (answer === undefined)
    return <p className="muted small">Working out everyone this change affects…</p>;
  const lines = answer.diff.flatMap((entry) => {
    const who = entry.user?.name || entry.user?.email || entry.group?.name || entry.subject;
    const where = scopeLabel(model, entry.resource);
    return [
      ...(entry.lost.length === 0 ? [] : [`${who} loses ${inWords(entry.lost)} on ${where}`]),
      ...(entry.gained.length === 0 ? [] : [`${who} gains ${inWords(entry.gained)} on ${where}`]),
    ];
  });
  const subjects = new Set(answer.diff.map((entry) => entry.subject)).size;
  const places = new Set(answer.diff.map((entry) => entry.resource)).size;
  return (
    <div className="access-effect" data-testid="access-effect">
      <h3 className="access-diff-title">
        {lines.length === 0
          ? "Nobody's permissions change"
          : `Everyone affected: ${countOf(subjects, "person or team", "people or teams")} on ${countOf(places, "resource")}`}
      </h3>
      {lines.length === 0 ? null : (
        <ul aria-label="Everyone affected">
          {lines.slice(0, FIRST_LINES).map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
      {lines.length > FIRST_LINES ? (
        <p className="muted small">and {countOf(lines.length - FIRST_LINES, "more line")}</p>
      ) : null}
    </div>
  );
}

/** The acknowledgement of a saved change, with its Undo. */
interface Acknowledgement {
  readonly text: string;
  readonly undo: (() => Promise<void>) | undefined;
  /** Said once undone: they have what they had again. */
  readonly undoneText: string;
  readonly undone: boolean;
}

/**
 * The confirm + acknowledge + undo mechanism. `propose(change)` opens the confirmation; the
 * returned `dialog` and `status` elements go on the page (the status is an aria-live region that
 * stays in place, so screen readers announce each acknowledgement).
 * @example
 * const access = useAccessChange({ onChanged: reload });
 * <Button onClick={() => access.propose({ who, title, confirmLabel, before, after, apply, undo, done })}>Review change</Button>
 * {access.dialog}{access.status}
 */
export function useAccessChange(options: { readonly onChanged: () => void }): {
  propose(change: AccessChange): void;
  readonly dialog: React.JSX.Element;
  readonly status: React.JSX.Element;
  /** Clears the acknowledgement (e.g. when another form starts). */
  clear(): void;
} {
  const { workspace, model } = useWorkspace();
  const [change, setChange] = useState<AccessChange | undefined>();
  const [ack, setAck] = useState<Acknowledgement | undefined>();
  const matrix = useApi<RoleMatrix>(change === undefined ? null : `${ws(workspace.id)}/roles`);
  const undoing = useAction();
  const { onChanged } = options;
  const propose = useCallback((next: AccessChange) => {
    setAck(undefined);
    setChange(next);
  }, []);
  const clear = useCallback(() => setAck(undefined), []);
  const dialog = (
    <ConfirmDialog
      open={change !== undefined}
      title={change?.title ?? ""}
      confirmLabel={change?.confirmLabel ?? "Confirm"}
      {...(change?.tone === undefined ? {} : { tone: change.tone })}
      onClose={() => setChange(undefined)}
      onConfirm={async () => {
        if (change === undefined) return;
        await change.apply();
        setAck({
          text: change.done,
          undo: change.undo,
          undoneText:
            change.before.length === 0
              ? `Undone: ${change.who} has no access again.`
              : `Undone: ${change.who} has ${grantsWords(model, change.before)} again.`,
          undone: false,
        });
        onChanged();
      }}
    >
      {change === undefined ? null : <AccessPreview change={change} matrix={matrix.data} />}
    </ConfirmDialog>
  );
  const status = (
    <div className="access-ack-region" role="status" aria-live="polite">
      {ack === undefined ? null : (
        <div className="note note-success access-ack" data-testid="access-ack">
          <span>{ack.undone ? ack.undoneText : ack.text}</span>
          {ack.undo === undefined || ack.undone ? null : (
            <Button
              size="small"
              busy={undoing.busy}
              onClick={() =>
                undoing.run(async () => {
                  await ack.undo?.();
                  setAck({ ...ack, undone: true });
                  onChanged();
                })
              }
            >
              Undo
            </Button>
          )}
          <Button size="small" variant="ghost" onClick={() => setAck(undefined)}>
            Dismiss
          </Button>
        </div>
      )}
      <ErrorNote error={undoing.error} />
    </div>
  );
  return { propose, dialog, status, clear };
}

/** A member's grants as the PATCH body takes them (extras and expiry kept). */
export function grantsBody(grants: readonly (Grant | GrantLike)[]): GrantLike[] {
  return grants.map((grant) => ({
    role: grant.role,
    scope: grant.scope,
    ...(grant.extras !== undefined && grant.extras.length > 0 ? { extras: [...grant.extras] } : {}),
    ...(grant.expiresAt === undefined || grant.expiresAt === null
      ? {}
      : { expiresAt: grant.expiresAt }),
  }));
}

/**
 * The body of `POST …/grants` that gives `grant` to `subject` — again, for an undo: extras and end
 * included.
 * @example
 * await api("POST", `${ws(id)}/grants`, grantBody("user:u1", taken));
 */
export function grantBody(subject: string, grant: GrantLike): Record<string, unknown> {
  return { subject, ...grantsBody([grant])[0] };
}
