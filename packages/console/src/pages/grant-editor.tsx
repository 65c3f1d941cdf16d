import { useState } from "react";
import {
  type AccessChange,
  type GrantLike,
  grantBody,
  grantWords,
  useAccessChange,
} from "../access-change.tsx";
import { api, type Grant, type Group, type Member, type ModelDefinition, ws } from "../api.ts";
import { grantableRoles, roleLabel, scopeLabel, splitResource, typeLabel } from "../model.ts";
import { type Grantee, granteeSearch, Picker } from "../picker.tsx";
import { RoleSelect } from "../role-select.tsx";
import { useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ConfirmDialog,
  Field,
  formatTime,
  Notice,
} from "../ui.tsx";
import {
  ElevatedBadge,
  type EligibleDraft,
  EligibleOnlyFields,
  isElevated,
  NO_ELIGIBILITY,
  setEligibility,
} from "./elevation.tsx";
import { ScopeSelect } from "./team.tsx";

/**
 * Grants as the model allows them: several scopes per member, grant-only extras, an end date, and
 * roles for groups. Each grant is checked here before it is sent (role at that scope type, extras
 * the model allows there, an end in the future) and confirmed in words.
 */

function actsOn(model: ModelDefinition, permission: string): readonly string[] {
  const on = model.permissions[permission]?.on;
  return on === undefined ? [] : typeof on === "string" ? [on] : on;
}

/** `type` is `scopeType` or hangs (through any chain of parents) under it. */
function isAtOrBelow(model: ModelDefinition, type: string, scopeType: string): boolean {
  const seen = new Set<string>();
  const queue = [type];
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (current === scopeType) return true;
    if (seen.has(current)) continue;
    seen.add(current);
    queue.push(...(model.types[current]?.parents ?? []));
  }
  return false;
}

/**
 * The extras a grant of `role` at a resource of `scopeType` may carry, as the engine allows them:
 * never owner-only, acting at or below the scope, and not already part of the role.
 */
function extrasAllowed(model: ModelDefinition, role: string, scopeType: string): string[] {
  const ownerOnly = new Set<string>(model.ownerOnly ?? []);
  const inRole = new Set<string>(model.roles[role]?.permissions ?? []);
  return Object.keys(model.permissions).filter(
    (permission) =>
      !ownerOnly.has(permission) &&
      !inRole.has(permission) &&
      actsOn(model, permission).some((type) => isAtOrBelow(model, type, scopeType)),
  );
}

function wordsOf(model: ModelDefinition, permission: string): string {
  return model.permissions[permission]?.description ?? permission;
}

/** "until 24 Dec 2026, 10:00", or "ended …" once past ("elevated until …" for an elevation); "" for a grant without an end. */
export function grantEnd(
  grant: {
    readonly expiresAt?: number | null | undefined;
    readonly note?: string | undefined;
    readonly fallback?: { readonly role: string } | undefined;
  },
  model?: ModelDefinition,
): string {
  if (grant.expiresAt === undefined || grant.expiresAt === null) return "";
  const ended = grant.expiresAt <= Date.now();
  // A temporary role over a standing one: "until 14:00, then Read Only".
  const then =
    grant.fallback === undefined || ended || model === undefined
      ? ""
      : `, then ${roleLabel(model, grant.fallback.role)}`;
  const end = `${ended ? "ended" : "until"} ${formatTime(grant.expiresAt)}${then}`;
  return isElevated(grant) ? `elevated ${end}` : end;
}

/** What a grant holds beyond its role and scope: its extras, in words, and its end. */
export function GrantTerms(props: {
  readonly grant: Pick<Grant, "extras" | "expiresAt" | "note" | "fallback">;
}): React.JSX.Element | null {
  const { model } = useWorkspace();
  const { grant } = props;
  if (grant.extras.length === 0 && grant.expiresAt === undefined) return null;
  const ended = grant.expiresAt !== undefined && grant.expiresAt <= Date.now();
  return (
    <span className="grant-terms">
      {grant.extras.length === 0 ? null : (
        <span className="muted small">
          plus: {grant.extras.map((extra) => wordsOf(model, extra)).join(", ")}
        </span>
      )}
      {isElevated(grant) ? (
        <ElevatedBadge grant={grant} />
      ) : grant.expiresAt === undefined ? null : (
        <Badge tone={ended ? "danger" : "warning"}>
          <span className="grant-end">{grantEnd(grant, model)}</span>
        </Badge>
      )}
    </span>
  );
}

/** The grants a member holds through their groups: a group's role is every member's. */
export function GroupGrantsOf(props: {
  readonly member: Member;
  readonly groups: readonly Group[];
}): React.JSX.Element | null {
  const { model } = useWorkspace();
  const held = props.groups
    .filter((group) => props.member.groups.includes(group.id))
    .flatMap((group) => group.grants.map((grant) => ({ group, grant })));
  if (held.length === 0) return null;
  return (
    <ul className="plain-list group-grants" aria-label="Through groups">
      {held.map(({ group, grant }) => (
        <li key={`${group.id} ${grant.scope}`} className="grant-row">
          <Badge>{roleLabel(model, grant.role)}</Badge>
          <span className="muted small">
            {scopeLabel(model, grant.scope)} · through {group.name}
          </span>
          <GrantTerms grant={grant} />
        </li>
      ))}
    </ul>
  );
}

/**
 * Takes one grant away from a member or group through the access-change confirmation: what they
 * lose, in the role matrix's words; the acknowledgement's Undo gives exactly that grant back
 * (role, scope, extras, end).
 */
export function TakeAwayButton(props: {
  readonly subjectName: string;
  readonly grant: Grant;
  /** Every grant the subject holds now (this one included): the preview's "Now". */
  readonly held: readonly GrantLike[];
  readonly propose: (change: AccessChange) => void;
}): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const { grant, subjectName } = props;
  const what = `${roleLabel(model, grant.role)} on ${scopeLabel(model, grant.scope)}`;
  const isGroup = grant.subject.startsWith("group:");
  return (
    <Button
      size="small"
      variant="ghost"
      aria-label={`Take away ${what} from ${subjectName}`}
      onClick={() =>
        props.propose({
          who: subjectName,
          title: `Take ${what} away from ${subjectName}?`,
          confirmLabel: "Take away",
          tone: "danger",
          before: props.held,
          after: props.held.filter((other) => other.scope !== grant.scope),
          apply: () =>
            api("DELETE", `${ws(workspace.id)}/grants`, {
              subject: grant.subject,
              scope: grant.scope,
            }).then(() => undefined),
          undo: () =>
            api("POST", `${ws(workspace.id)}/grants`, grantBody(grant.subject, grant)).then(
              () => undefined,
            ),
          note: (
            <p>
              {isGroup
                ? "Every member of the group loses what this grant gave them, unless another grant still gives it."
                : "They lose what this grant gave them at once, unless another grant still gives it."}
            </p>
          ),
          done: `${subjectName} no longer holds ${grantWords(model, grant)}.`,
        })
      }
    >
      Take away
    </Button>
  );
}

interface Draft {
  readonly subject: string;
  readonly role: string;
  readonly scope: string;
  readonly extras: readonly string[];
  /** The `datetime-local` value, "" for no end. */
  readonly until: string;
}

/** Why the draft cannot be sent, in words; undefined when it can. */
function problemOf(
  model: ModelDefinition,
  draft: Draft,
  held: readonly Grant[],
  subjectName: string,
): string | undefined {
  if (draft.subject === "") return "Choose who gets the access.";
  if (draft.role === "") return "Choose a role.";
  if (draft.scope === "") return "Choose where the role applies.";
  const type = splitResource(draft.scope).type;
  if (!(model.roles[draft.role]?.scopes ?? []).includes(type))
    return `${roleLabel(model, draft.role)} cannot be given on a ${typeLabel(model, type).toLowerCase()}.`;
  const allowed = extrasAllowed(model, draft.role, type);
  const stray = draft.extras.filter((extra) => !allowed.includes(extra));
  if (stray.length > 0)
    return `These extras do not go with ${roleLabel(model, draft.role)} here: ${stray.map((extra) => wordsOf(model, extra)).join(", ")}.`;
  const existing = held.find((grant) => grant.scope === draft.scope);
  if (existing !== undefined)
    return `${subjectName} already holds ${roleLabel(model, existing.role)} on ${scopeLabel(model, draft.scope)}: change that role instead (one role per place).`;
  if (draft.until !== "") {
    const end = new Date(draft.until).getTime();
    if (Number.isNaN(end)) return "The end date is not a date.";
    if (end <= Date.now()) return "The end must be in the future.";
  }
  return undefined;
}

/**
 * "Give access": a further grant for a member (a second server, say) or a role for a group, with
 * the model's extras and an optional end; the member or group is found by typing (searched on the
 * server), and the grant goes through the access-change confirmation (what they gain) with an Undo.
 */
export function GiveAccessCard(props: { readonly onSaved: () => void }): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const roles = grantableRoles(model);
  const empty: Draft = { subject: "", role: roles[0] ?? "", scope: "", extras: [], until: "" };
  const [draft, setDraft] = useState<Draft>(empty);
  /** "Eligible only" (#18): the member takes the role on themselves later, for a while. */
  const [terms, setTerms] = useState<EligibleDraft>(NO_ELIGIBILITY);
  const eligible = terms.eligibleOnly;
  const [problem, setProblem] = useState<string | undefined>();
  /** The members and groups the Who picker has shown, by subject: their grants and members. */
  const [found] = useState(() => new Map<string, Grantee>());
  const [grantee, setGrantee] = useState<Grantee | undefined>();
  const changes = useAccessChange({ onChanged: props.onSaved });
  /** The eligibility's confirmation is open; `done` acknowledges the eligibility set. */
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState<string | undefined>();
  const update = (change: Partial<Draft>) => {
    setDraft((previous) => ({ ...previous, ...change }));
    setProblem(undefined);
    setDone(undefined);
    changes.clear();
  };
  const member = grantee?.kind === "user" ? grantee.member : undefined;
  const group = grantee?.kind === "group" ? grantee.group : undefined;
  const subjectName =
    member !== undefined ? member.name || member.email : group !== undefined ? group.name : "";
  const held = member?.grants ?? group?.grants ?? [];
  const scopeType = draft.scope === "" ? undefined : splitResource(draft.scope).type;
  const extras = scopeType === undefined ? [] : extrasAllowed(model, draft.role, scopeType);
  const role = model.roles[draft.role];
  /** What an elevation through the eligibility would give. */
  const gains = [...(role?.permissions ?? []), ...draft.extras];
  const place = draft.scope === "" ? "" : scopeLabel(model, draft.scope);
  const end = draft.until === "" ? undefined : new Date(draft.until).getTime();
  const summary = `${roleLabel(model, draft.role)} on ${place}${end === undefined ? "" : `, ${grantEnd({ expiresAt: end })}`}`;
  const review = () => {
    const given: GrantLike = {
      role: draft.role,
      scope: draft.scope,
      extras: draft.extras,
      ...(end === undefined ? {} : { expiresAt: end }),
    };
    const subject = draft.subject;
    changes.propose({
      who: subjectName,
      title: `Give ${subjectName} the role ${summary}?`,
      confirmLabel: "Give access",
      before: held,
      after: [...held, given],
      apply: async () => {
        await api("POST", `${ws(workspace.id)}/grants`, grantBody(subject, given));
        setDraft(empty);
        setGrantee(undefined);
      },
      undo: () =>
        api("DELETE", `${ws(workspace.id)}/grants`, { subject, scope: given.scope }).then(
          () => undefined,
        ),
      note: (
        <>
          <p>
            {group !== undefined
              ? `Every member of ${group.name} (${group.members.length} ${group.members.length === 1 ? "person" : "people"}) gains this, on ${place} and everything under it.`
              : `${subjectName} keeps their other access and gains this on ${place} and everything under it.`}
          </p>
          {end === undefined ? (
            <p className="muted">Without an end: until someone takes it away.</p>
          ) : (
            <p>It ends by itself {grantEnd({ expiresAt: end }).replace(/^until /, "on ")}.</p>
          )}
        </>
      ),
      done: `${subjectName} now holds ${summary}.`,
    });
  };
  return (
    <Card
      title="Give access"
      description="A further role for a member (another server, say), or a role for a group: its members gain it."
    >
      <AsyncForm
        label="Give access"
        className="form form-inline"
        onSubmit={async () => {
          const found =
            eligible && group !== undefined
              ? "Only a member can be eligible, not a group."
              : eligible && !(Number(terms.maxHours) > 0)
                ? "Choose how long an activation may last."
                : problemOf(model, eligible ? { ...draft, until: "" } : draft, held, subjectName);
          setProblem(found);
          if (found !== undefined) return;
          // An eligibility gives nothing now: its own confirmation; a grant, the access change's.
          if (eligible) setConfirming(true);
          else review();
        }}
      >
        {() => (
          <>
            <Field label="Who">
              {(id) => (
                <Picker
                  id={id}
                  value={draft.subject}
                  selectedLabel={subjectName}
                  placeholder="Type a member's or group's name…"
                  required
                  search={granteeSearch(
                    workspace.id,
                    found,
                    (candidate) => candidate.kind === "group" || !candidate.member.isOwner,
                  )}
                  onChange={(subject) => {
                    setGrantee(found.get(subject));
                    update({ subject });
                  }}
                />
              )}
            </Field>
            <Field label="Role">
              {(id) => (
                <RoleSelect
                  id={id}
                  roles={roles}
                  value={draft.role}
                  onChange={(next) => update({ role: next, scope: "", extras: [] })}
                />
              )}
            </Field>
            <Field label="Where">
              {(id) => (
                <ScopeSelect
                  id={id}
                  role={draft.role}
                  value={draft.scope}
                  onChange={(scope) => update({ scope, extras: [] })}
                />
              )}
            </Field>
            <EligibleOnlyFields
              value={terms}
              disabled={group !== undefined}
              onChange={(change) => {
                setTerms((previous) => ({ ...previous, ...change }));
                setProblem(undefined);
                setDone(undefined);
              }}
            />
            {eligible ? null : (
              <Field label="Until (optional)" hint="Leave empty for access without an end.">
                {(id, hint) => (
                  <input
                    id={id}
                    className="input"
                    type="datetime-local"
                    aria-describedby={hint}
                    value={draft.until}
                    onChange={(event) => update({ until: event.target.value })}
                  />
                )}
              </Field>
            )}
            {extras.length === 0 ? null : (
              <fieldset className="extras">
                <legend>Extras on top of the role (optional)</legend>
                {extras.map((extra) => (
                  <label key={extra} className="toggle">
                    <input
                      type="checkbox"
                      checked={draft.extras.includes(extra)}
                      onChange={(event) =>
                        update({
                          extras: event.target.checked
                            ? [...draft.extras, extra]
                            : draft.extras.filter((other) => other !== extra),
                        })
                      }
                    />
                    <span>{wordsOf(model, extra)}</span>
                  </label>
                ))}
              </fieldset>
            )}
            <div className="form-submit">
              <Button type="submit" variant="primary">
                Review and give access
              </Button>
            </div>
            {problem === undefined ? null : (
              <div className="note note-error" role="alert">
                {problem}
              </div>
            )}
          </>
        )}
      </AsyncForm>
      {changes.status}
      {done === undefined ? null : <Notice tone="success">{done}</Notice>}
      {role?.description ? (
        <p className="muted small">
          {roleLabel(model, draft.role)}: {role.description}
        </p>
      ) : null}
      {changes.dialog}
      <ConfirmDialog
        open={confirming && eligible}
        title={`Make ${subjectName} eligible for ${roleLabel(model, draft.role)} on ${place}?`}
        confirmLabel="Make eligible"
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          await setEligibility(workspace.id, draft, terms);
          setDraft(empty);
          setTerms(NO_ELIGIBILITY);
          setDone(
            `${subjectName} may now elevate to ${roleLabel(model, draft.role)} on ${place}, for up to ${terms.maxHours} h at a time.`,
          );
          props.onSaved();
        }}
      >
        <p>
          {subjectName} gains nothing now. They may take the role on themselves for up to{" "}
          {terms.maxHours} h at a time, giving a reason
          {terms.require2fa ? " and their authenticator code" : ""}; it then ends by itself. While
          elevated they gain, on {place} and everything under it:
        </p>
        <ul className="gains">
          {gains.map((permission) => (
            <li key={permission}>{wordsOf(model, permission)}</li>
          ))}
        </ul>
      </ConfirmDialog>
    </Card>
  );
}
