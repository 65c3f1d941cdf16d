import { useEffect, useState } from "react";
import {
  type AccessChange,
  type GrantLike,
  grantsBody,
  grantWords,
  useAccessChange,
} from "../access-change.tsx";
import {
  api,
  type Grant,
  type Group,
  type Invitation,
  isApiError,
  type JoinRequest,
  type Member,
  type Seats,
  ws,
} from "../api.ts";
import { grantableRoles, roleLabel, rootTypeOf, scopeLabel, splitResource } from "../model.ts";
import {
  memberSearch,
  Picker,
  type PickerSearch,
  resourceLabel,
  resourceSearch,
} from "../picker.tsx";
import { countOf } from "../plural.ts";
import { RoleSelect } from "../role-select.tsx";
import { Link, navigate } from "../router.tsx";
import { storePreview, useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ConfirmDialog,
  Empty,
  ErrorNote,
  Field,
  formatDate,
  formatTime,
  Loading,
  Notice,
  PageHeader,
  SecretBox,
  useAction,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { GiveAccessCard, GrantTerms, GroupGrantsOf, TakeAwayButton } from "./grant-editor.tsx";
import { type TeamChoice, TeamSelect, teamsOf } from "./invitation-parts.tsx";

/**
 * The scopes a role can be given at — the whole workspace and/or resources of its scope types —
 * as a type-ahead picker searching on the server.
 */
export function ScopeSelect(props: {
  readonly id: string;
  readonly role: string;
  readonly value: string;
  readonly onChange: (scope: string) => void;
  readonly label?: string;
}): React.JSX.Element {
  const { model, workspace } = useWorkspace();
  const root = rootTypeOf(model);
  const scopes = model.roles[props.role]?.scopes ?? [];
  const resources = resourceSearch(
    workspace.id,
    model,
    scopes.filter((type) => type !== root),
  );
  const rootScope = `${root}:${workspace.id}`;
  const search: PickerSearch = async (text, after) => {
    const page = await resources(text, after);
    const label = scopeLabel(model, rootScope);
    if (
      !scopes.includes(root) ||
      after !== null ||
      !label.toLowerCase().includes(text.toLowerCase())
    )
      return page;
    return { ...page, options: [{ value: rootScope, label }, ...page.options] };
  };
  return (
    <Picker
      id={props.id}
      {...(props.label === undefined ? {} : { label: props.label })}
      value={props.value}
      selectedLabel={resourceLabel(model, props.value)}
      onChange={(value) => props.onChange(value)}
      search={search}
      placeholder="Type to find where…"
      required
    />
  );
}

/** The only scope a role can take, when there is one and it is the workspace; otherwise "". */
function defaultScope(
  role: string,
  model: ReturnType<typeof useWorkspace>["model"],
  workspaceId: string,
): string {
  const root = rootTypeOf(model);
  const scopes = model.roles[role]?.scopes ?? [];
  return scopes.length === 1 && scopes[0] === root ? `${root}:${workspaceId}` : "";
}

function SeatsLine(props: { readonly seats: Seats | undefined }): React.JSX.Element | null {
  const seats = props.seats?.seats;
  if (seats === undefined) return null;
  const plan = props.seats?.plans.find((candidate) => candidate.name === props.seats?.plan);
  return (
    <span data-testid="seats">
      {countOf(seats.members, "member")} · {seats.pending} pending
      {seats.limit === null
        ? " · no member limit"
        : ` · ${seats.remaining} of ${seats.limit} seats left on ${plan?.label ?? props.seats?.plan}`}
    </span>
  );
}

/** The pending invitation to `email`, if there is one. */
function pendingTo(invitations: readonly Invitation[], email: string): Invitation | undefined {
  const wanted = email.trim().toLowerCase();
  return invitations.find(
    (invitation) => invitation.status === "pending" && invitation.email === wanted,
  );
}

/**
 * Inviting: disabled with the reason when no seat is left; one banner at a time; an email with a
 * pending invitation is only re-invited after confirming the replacement (#16).
 */
function InviteCard(props: {
  readonly seats: Seats | undefined;
  readonly invitations: readonly Invitation[];
  readonly groups: readonly Group[];
  readonly onInvited: () => void;
}): React.JSX.Element {
  const { workspace, model, access } = useWorkspace();
  const roles = grantableRoles(model);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState(roles[0] ?? "");
  const [scope, setScope] = useState(defaultScope(roles[0] ?? "", model, workspace.id));
  const [team, setTeam] = useState("");
  const [sent, setSent] = useState<{ email: string; id: string; mailed: boolean } | undefined>();
  const [link, setLink] = useState<string | undefined>();
  const [refused, setRefused] = useState(false);
  const [replacing, setReplacing] = useState<Invitation | undefined>();
  const copy = useAction();
  const seats = props.seats?.seats;
  const full = seats?.remaining === 0;
  const plan = props.seats?.plans.find((candidate) => candidate.name === props.seats?.plan);
  const send = async (replace: boolean) => {
    const answer = await api<{ invitation: Invitation; mailed: boolean }>(
      "POST",
      `${ws(workspace.id)}/invitations`,
      {
        email: email.trim(),
        ...(role === "" ? {} : { role, scopes: [scope] }),
        ...(team === "" ? {} : { groups: [team] }),
        ...(replace ? { replace: true } : {}),
      },
    );
    setSent({ email: answer.invitation.email, id: answer.invitation.id, mailed: answer.mailed });
    setEmail("");
    props.onInvited();
  };
  const submit = async () => {
    setSent(undefined);
    setLink(undefined);
    setRefused(false);
    copy.clear();
    const pending = pendingTo(props.invitations, email);
    if (pending !== undefined) {
      setReplacing(pending);
      return;
    }
    try {
      await send(false);
    } catch (error) {
      // Invited meanwhile, from another tab or by someone else: ask as for a known one.
      if (!isApiError(error, "INVITATION_PENDING")) throw error;
      const fresh = await api<{ invitations: Invitation[] }>(
        "GET",
        `${ws(workspace.id)}/invitations?status=pending`,
      );
      const found = pendingTo(fresh.invitations, email);
      if (found === undefined) throw error;
      props.onInvited();
      setReplacing(found);
    }
  };
  const offer = (invitation: {
    role: string | null;
    scopes: readonly string[];
    groups: readonly TeamChoice[];
  }) => [
    ...invitation.scopes.map((where) =>
      grantWords(model, { role: invitation.role ?? "", scope: where }),
    ),
    ...invitation.groups.map((group) => `team ${group.name}`),
  ];
  const teamChoice = props.groups.filter((group) => group.id === team);
  return (
    <Card
      title="Invite someone"
      description="They get a link by mail, valid for 7 days. Pending invitations hold a seat but no permissions."
    >
      {full && !refused ? (
        <Notice tone="warning">
          <span data-testid="invite-full">
            Every seat of the {plan?.label ?? props.seats?.plan ?? "current"} plan is taken (
            {seats?.members} {seats?.members === 1 ? "member" : "members"}, {seats?.pending} pending{" "}
            {seats?.pending === 1 ? "invitation" : "invitations"}). To invite someone, revoke a
            pending invitation below
            {access.workflows.changePlan ? (
              <>
                {" "}
                or{" "}
                <Link to={`/w/${encodeURIComponent(workspace.id)}/settings`}>change the plan</Link>
              </>
            ) : (
              " or ask your provider for a larger plan"
            )}
            .
          </span>
        </Notice>
      ) : null}
      <AsyncForm
        label="Invite"
        className="form form-inline"
        onSubmit={submit}
        onError={() => setRefused(true)}
        words={{
          MEMBER_LIMIT_REACHED:
            "No seat is left for this invitation: revoke a pending invitation or change the plan.",
        }}
      >
        {(busy) => (
          <fieldset className="fieldset-plain" disabled={full}>
            <legend className="sr-only">New invitation</legend>
            <Field label="Email" name="email">
              {(id) => (
                <input
                  id={id}
                  className="input"
                  type="email"
                  required
                  maxLength={254}
                  autoComplete="off"
                  placeholder="name@example.com"
                  value={email}
                  onChange={(event) => setEmail(event.target.value)}
                />
              )}
            </Field>
            <Field label="Role" name="role">
              {(id) => (
                <RoleSelect
                  id={id}
                  roles={roles}
                  none={props.groups.length === 0 ? undefined : "No role (team only)"}
                  required={props.groups.length === 0}
                  value={role}
                  onChange={(next) => {
                    setRole(next);
                    setScope(defaultScope(next, model, workspace.id));
                  }}
                />
              )}
            </Field>
            {role === "" ? null : (
              <Field label="Scope" name="scopes">
                {(id) => <ScopeSelect id={id} role={role} value={scope} onChange={setScope} />}
              </Field>
            )}
            {props.groups.length === 0 ? null : (
              <Field label="Team" name="groups">
                {(id) => (
                  <TeamSelect id={id} teams={props.groups} value={team} onChange={setTeam} />
                )}
              </Field>
            )}
            <div className="form-submit">
              <Button type="submit" variant="primary" busy={busy}>
                Send invitation
              </Button>
            </div>
          </fieldset>
        )}
      </AsyncForm>
      {model.roles[role]?.description ? (
        <p className="muted small">
          {roleLabel(model, role)}: {model.roles[role]?.description}
        </p>
      ) : null}
      <div role="status" aria-live="polite">
        {sent === undefined ? null : (
          <div className={`note note-${sent.mailed ? "success" : "warning"}`}>
            {sent.mailed
              ? `Invitation sent to ${sent.email}.`
              : `The invitation to ${sent.email} exists, but its mail could not be sent.`}{" "}
            <Button
              size="small"
              busy={copy.busy}
              onClick={() =>
                copy.run(async () => {
                  const answer = await api<{ link: string }>(
                    "POST",
                    `${ws(workspace.id)}/invitations/${encodeURIComponent(sent.id)}/link`,
                  );
                  setLink(answer.link);
                })
              }
            >
              Get a link to share
            </Button>
          </div>
        )}
      </div>
      <ErrorNote error={copy.error} />
      {link === undefined ? null : (
        <SecretBox label="Invitation link" value={link}>
          Anyone with this link can accept the invitation for its email: share it only with them.
        </SecretBox>
      )}
      <ConfirmDialog
        open={replacing !== undefined}
        title={`Replace the pending invitation to ${replacing?.email}?`}
        confirmLabel="Replace invitation"
        onClose={() => setReplacing(undefined)}
        onConfirm={() => send(true)}
      >
        {replacing === undefined ? null : (
          <>
            <dl className="access-from-to">
              <div>
                <dt>Pending</dt>
                <dd data-testid="pending-offer">{offer(replacing).join("; ")}</dd>
              </div>
              <div>
                <dt>New</dt>
                <dd data-testid="new-offer">
                  {offer({
                    role: role === "" ? null : role,
                    scopes: role === "" ? [] : [scope],
                    groups: teamChoice,
                  }).join("; ")}
                </dd>
              </div>
            </dl>
            <p>
              The pending invitation's links stop working, and {replacing.email} gets a new mail
              with the new role.
            </p>
          </>
        )}
      </ConfirmDialog>
    </Card>
  );
}

/**
 * A member's grant: with people management, a role (and, where the role needs it, a scope) to
 * pick, saved only through the access-change confirmation — never on change or arrow keys (#16).
 */
function GrantEditor(props: {
  readonly member: Member;
  readonly grant: Grant;
  readonly propose: (change: AccessChange) => void;
}): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const [role, setRole] = useState(props.grant.role);
  const [scope, setScope] = useState(props.grant.scope);
  const root = rootTypeOf(model);
  const who = props.member.name || props.member.email;
  const scopes = model.roles[role]?.scopes ?? [];
  const fitsScope = scopes.includes(splitResource(scope).type);
  const changed = role !== props.grant.role || scope !== props.grant.scope;
  const pick = (next: string) => {
    setRole(next);
    const nextScopes = model.roles[next]?.scopes ?? [];
    if (nextScopes.includes(splitResource(props.grant.scope).type)) setScope(props.grant.scope);
    else if (nextScopes.length === 1 && nextScopes[0] === root) setScope(`${root}:${workspace.id}`);
    else setScope("");
  };
  const reset = () => {
    setRole(props.grant.role);
    setScope(props.grant.scope);
  };
  const review = () => {
    const before = props.member.grants;
    const after = before.map((grant) =>
      grant.scope === props.grant.scope ? { role, scope, extras: grant.extras } : grant,
    );
    const save = (grants: readonly GrantLike[]) =>
      api("PATCH", `${ws(workspace.id)}/members/${encodeURIComponent(props.member.userId)}`, {
        grants: grantsBody(grants),
      }).then(() => undefined);
    props.propose({
      who,
      title: `Change ${who}'s access?`,
      confirmLabel: "Change access",
      before,
      after,
      apply: () => save(after),
      undo: () => save(before),
      done: `${who} is now ${grantWords(model, { role, scope })}.`,
    });
  };
  const label = `Role of ${who} on ${scopeLabel(model, props.grant.scope)}`;
  return (
    <div className="grant-editor">
      <div className="grant-row">
        <RoleSelect
          label={label}
          small
          roles={grantableRoles(model)}
          value={role}
          onChange={pick}
        />
        {role === props.grant.role || (fitsScope && scope === props.grant.scope) ? (
          <span className="muted small">{scopeLabel(model, props.grant.scope)}</span>
        ) : (
          <ScopeSelect
            id={`scope-${props.member.userId}-${props.grant.scope}`}
            label={`Scope for ${roleLabel(model, role)}`}
            role={role}
            value={scope}
            onChange={setScope}
          />
        )}
      </div>
      {changed ? (
        <div className="grant-row">
          <Button size="small" variant="primary" disabled={scope === ""} onClick={review}>
            Review change
          </Button>
          <Button size="small" variant="ghost" onClick={reset}>
            Cancel
          </Button>
        </div>
      ) : null}
    </div>
  );
}

/** The Team page's members: a page of 25 at a time, searched on the server by email or name. */
const MEMBERS_PAGE = 25;

function MembersCard(props: {
  readonly members: readonly Member[];
  readonly groups: readonly Group[];
  readonly total: number | undefined;
  readonly search: string;
  readonly onSearch: (text: string) => void;
  readonly page: number;
  readonly hasNext: boolean;
  readonly onPage: (step: 1 | -1) => void;
  readonly loading: boolean;
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, model, access, canWrite } = useWorkspace();
  const changes = useAccessChange({ onChanged: props.onChanged });
  const manage = canWrite && access.workflows.managePeople;
  const viewAs = canWrite && access.isOwner;
  const groupName = (id: string) => props.groups.find((group) => group.id === id)?.name ?? id;
  return (
    <Card
      title="Members"
      description={
        props.total === undefined
          ? undefined
          : `${props.total} ${props.total === 1 ? "person" : "people"} with access.`
      }
    >
      {changes.status}
      <search className="member-search">
        <label className="sr-only" htmlFor="member-search">
          Search members
        </label>
        <input
          id="member-search"
          className="input"
          type="search"
          placeholder="Search by name or email…"
          value={props.search}
          onChange={(event) => props.onSearch(event.target.value)}
        />
      </search>
      {props.members.length === 0 && !props.loading ? (
        <Empty
          title={
            props.search.trim() === "" ? "No members" : `No member matches “${props.search.trim()}”`
          }
        />
      ) : null}
      <div className="table-wrap">
        <table className="table" aria-label="Members">
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Role and scope</th>
              <th scope="col">Joined</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.members.map((member) => (
              <tr key={member.userId} data-member={member.email}>
                <td>
                  <div className="person">
                    <span className="avatar" aria-hidden="true">
                      {(member.name || member.email).slice(0, 1).toUpperCase()}
                    </span>
                    <div>
                      <div className="person-name">{member.name}</div>
                      <div className="muted small">{member.email}</div>
                      {member.supportUntil === undefined ? null : (
                        <div className="muted small">
                          <Badge tone="warning">Support access</Badge> until{" "}
                          {formatTime(member.supportUntil)}
                        </div>
                      )}
                      {member.groups.length === 0 ? null : (
                        <div className="muted small">
                          Groups: {member.groups.map(groupName).join(", ")}
                        </div>
                      )}
                    </div>
                  </div>
                </td>
                <td>
                  {member.grants.length === 0 ? (
                    <span className="muted">Through groups only</span>
                  ) : null}
                  {member.grants.map((grant) =>
                    manage && !member.isOwner && member.userId !== access.userId ? (
                      <div key={`${grant.scope} ${grant.role}`}>
                        <GrantEditor member={member} grant={grant} propose={changes.propose} />
                        <div className="grant-row">
                          <GrantTerms grant={grant} />
                          {member.grants.length > 1 ? (
                            <TakeAwayButton
                              subjectName={member.name || member.email}
                              grant={grant}
                              held={member.grants}
                              propose={changes.propose}
                            />
                          ) : null}
                        </div>
                      </div>
                    ) : (
                      <div key={grant.scope} className="grant-row">
                        <Badge tone={member.isOwner ? "accent" : "neutral"}>
                          {roleLabel(model, grant.role)}
                        </Badge>
                        <span className="muted small">{scopeLabel(model, grant.scope)}</span>
                        <GrantTerms grant={grant} />
                      </div>
                    ),
                  )}
                  <GroupGrantsOf member={member} groups={props.groups} />
                </td>
                <td className="nowrap">{formatDate(member.joinedAt)}</td>
                <td className="cell-actions">
                  {viewAs && member.userId !== access.userId ? (
                    <Button
                      size="small"
                      onClick={() => {
                        storePreview({
                          workspaceId: workspace.id,
                          userId: member.userId,
                          name: member.name || member.email,
                        });
                        navigate(`/w/${encodeURIComponent(workspace.id)}`);
                      }}
                    >
                      View as
                    </Button>
                  ) : null}
                  {manage && !member.isOwner && member.userId !== access.userId ? (
                    <Button
                      size="small"
                      variant="danger"
                      onClick={() => {
                        const who = member.name || member.email;
                        changes.propose({
                          who,
                          title: `Remove ${who}?`,
                          confirmLabel: "Remove member",
                          tone: "danger",
                          before: member.grants,
                          after: [],
                          apply: () =>
                            api(
                              "DELETE",
                              `${ws(workspace.id)}/members/${encodeURIComponent(member.userId)}`,
                            ).then(() => undefined),
                          noUndo:
                            "To give them access again, send a new invitation: they must accept it themselves.",
                          note: (
                            <p>
                              Their access ends at once and their API keys stop working. Their
                              records and the activity log stay.
                            </p>
                          ),
                          done: `${who} was removed from the workspace.`,
                        });
                      }}
                    >
                      Remove
                    </Button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.page === 0 && !props.hasNext ? null : (
        <nav className="pager" aria-label="Member pages">
          <Button size="small" disabled={props.page === 0} onClick={() => props.onPage(-1)}>
            Previous
          </Button>
          <span className="muted small">Page {props.page + 1}</span>
          <Button size="small" disabled={!props.hasNext} onClick={() => props.onPage(1)}>
            Next
          </Button>
        </nav>
      )}
      {changes.dialog}
    </Card>
  );
}

function InvitationsCard(props: {
  readonly invitations: readonly Invitation[];
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, model, access, canWrite } = useWorkspace();
  const manage = canWrite && access.workflows.managePeople;
  const [links, setLinks] = useState<Record<string, string>>({});
  const [revoking, setRevoking] = useState<Invitation | undefined>();
  const [revoked, setRevoked] = useState<string | undefined>();
  const action = useAction();
  const pending = props.invitations.filter((invitation) => invitation.status === "pending");
  return (
    <Card title="Pending invitations">
      {pending.length === 0 ? (
        <Empty title="No pending invitations" />
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Pending invitations">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role and scope</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {pending.map((invitation) => (
                <tr key={invitation.id} data-invitation={invitation.email}>
                  <td>
                    {invitation.email}
                    {links[invitation.id] === undefined ? null : (
                      <SecretBox label="Link" value={links[invitation.id]!}>
                        A new link: the one copied before stops working; the mailed one still works.
                      </SecretBox>
                    )}
                  </td>
                  <td>
                    {invitation.role === null ? null : (
                      <>
                        <Badge>{roleLabel(model, invitation.role)}</Badge>{" "}
                        <span className="muted small">
                          {invitation.scopes.map((scope) => scopeLabel(model, scope)).join(", ")}
                        </span>
                      </>
                    )}
                    {invitation.groups.length === 0 ? null : (
                      <div className="muted small">Team {teamsOf(invitation)}</div>
                    )}
                  </td>
                  <td className="nowrap">{formatDate(invitation.expiresAt)}</td>
                  <td className="cell-actions">
                    {manage ? (
                      <>
                        <Button
                          size="small"
                          onClick={() =>
                            action.run(async () => {
                              const answer = await api<{ link: string }>(
                                "POST",
                                `${ws(workspace.id)}/invitations/${encodeURIComponent(invitation.id)}/link`,
                              );
                              setLinks((previous) => ({
                                ...previous,
                                [invitation.id]: answer.link,
                              }));
                              try {
                                await navigator.clipboard.writeText(answer.link);
                              } catch {
                                // The link stays on screen to copy by hand.
                              }
                            })
                          }
                        >
                          Copy link
                        </Button>
                        <Button
                          size="small"
                          variant="danger"
                          onClick={() => {
                            setRevoked(undefined);
                            setRevoking(invitation);
                          }}
                        >
                          Revoke
                        </Button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorNote error={action.error} />
      <div role="status" aria-live="polite">
        {revoked === undefined ? null : (
          <div className="note note-success access-ack">
            <span>
              The invitation to {revoked} is revoked: its links no longer work and its seat is free.
              To undo it, invite them again.
            </span>
            <Button size="small" variant="ghost" onClick={() => setRevoked(undefined)}>
              Dismiss
            </Button>
          </div>
        )}
      </div>
      <ConfirmDialog
        open={revoking !== undefined}
        title={`Revoke the invitation to ${revoking?.email}?`}
        confirmLabel="Revoke invitation"
        tone="danger"
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          if (revoking === undefined) return;
          await api("DELETE", `${ws(workspace.id)}/invitations/${encodeURIComponent(revoking.id)}`);
          setRevoked(revoking.email);
          props.onChanged();
        }}
      >
        <p>
          Its links stop working at once and its seat is free again. This cannot be undone: to
          invite {revoking?.email} again, send a new invitation.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

/** Pending join requests; approving one is confirmed like every change of access, with an Undo. */
function JoinRequestsCard(props: {
  readonly requests: readonly JoinRequest[];
  readonly error: unknown;
  readonly retry: () => void;
  readonly groups: readonly Group[];
  readonly onChanged: () => void;
}): React.JSX.Element {
  const changes = useAccessChange({ onChanged: props.onChanged });
  return (
    <Card title="Join requests" description="People who know the join key and asked to join.">
      <ErrorNote error={props.error} retry={props.retry} />
      {changes.status}
      {props.requests.length === 0 ? (
        <Empty title="No pending join requests" />
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Join requests">
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Note</th>
                <th scope="col">Asked</th>
                <th scope="col">
                  <span className="sr-only">Decision</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.requests.map((request) => (
                <JoinRequestRow
                  key={request.id}
                  request={request}
                  groups={props.groups}
                  propose={changes.propose}
                  onChanged={props.onChanged}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {changes.dialog}
    </Card>
  );
}

function JoinRequestRow(props: {
  readonly request: JoinRequest;
  readonly groups: readonly Group[];
  readonly propose: (change: AccessChange) => void;
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, model, access, canWrite } = useWorkspace();
  const roles = grantableRoles(model);
  const root = rootTypeOf(model);
  const atRoot = roles.filter((role) => model.roles[role]?.scopes.includes(root));
  const [role, setRole] = useState(atRoot[0] ?? "");
  const [team, setTeam] = useState("");
  const action = useAction();
  const manage = canWrite && access.workflows.managePeople;
  const base = `${ws(workspace.id)}/join-requests/${encodeURIComponent(props.request.id)}`;
  return (
    <tr data-join-request={props.request.email}>
      <td>
        <div className="person-name">{props.request.name}</div>
        <div className="muted small">{props.request.email}</div>
      </td>
      <td>{props.request.note || <span className="muted">No note</span>}</td>
      <td className="nowrap">{formatDate(props.request.createdAt)}</td>
      <td className="cell-actions">
        {manage ? (
          <>
            <RoleSelect
              label={`Role for ${props.request.email}`}
              small
              roles={atRoot}
              none={props.groups.length === 0 ? undefined : "No role (team only)"}
              value={role}
              onChange={setRole}
            />
            {props.groups.length === 0 ? null : (
              <TeamSelect
                id={`team-${props.request.id}`}
                label={`Team for ${props.request.email}`}
                small
                teams={props.groups}
                value={team}
                onChange={setTeam}
              />
            )}
            <Button
              size="small"
              variant="primary"
              busy={action.busy}
              onClick={() => {
                const { name, email, userId } = props.request;
                const who = name || email;
                const teamName = props.groups.find((group) => group.id === team)?.name;
                const joined = [
                  role === "" ? "" : roleLabel(model, role),
                  teamName === undefined ? "" : `a member of the team ${teamName}`,
                ]
                  .filter(Boolean)
                  .join(" and ");
                props.propose({
                  who,
                  title: `Let ${who} join as ${joined}?`,
                  confirmLabel: "Approve",
                  affected: false,
                  before: [],
                  after: role === "" ? [] : [{ role, scope: `${root}:${workspace.id}` }],
                  ...(teamName === undefined
                    ? {}
                    : { note: <p>They also get whatever the team {teamName} holds.</p> }),
                  apply: async () => {
                    await api("POST", `${base}/approve`, {
                      ...(role === "" ? {} : { role }),
                      ...(team === "" ? {} : { groups: [team] }),
                    });
                  },
                  undo: async () => {
                    await api(
                      "DELETE",
                      `${ws(workspace.id)}/members/${encodeURIComponent(userId)}`,
                    );
                  },
                  done: `${who} joined the workspace as ${joined}.`,
                });
              }}
            >
              Approve
            </Button>
            <Button
              size="small"
              onClick={() =>
                action.run(async () => {
                  await api("POST", `${base}/reject`);
                  props.onChanged();
                })
              }
            >
              Reject
            </Button>
          </>
        ) : null}
        <ErrorNote error={action.error} />
      </td>
    </tr>
  );
}

/**
 * Groups: a group's roles are every member's, so adding or removing a member, taking a role away
 * and deleting the group all go through the access-change confirmation (what the member gains or
 * loses), with an Undo where there can be one (#16).
 */
function GroupsCard(props: {
  readonly groups: readonly Group[];
  readonly members: readonly Member[];
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, access, canWrite } = useWorkspace();
  const manage = canWrite && access.workflows.managePeople;
  const [name, setName] = useState("");
  const changes = useAccessChange({ onChanged: props.onChanged });
  /** The members the add-member pickers have shown, by user id: their own grants. */
  const [found] = useState(() => new Map<string, Member>());
  const memberOf = (userId: string) =>
    props.members.find((candidate) => candidate.userId === userId) ?? found.get(userId);
  const nameOf = (userId: string) => {
    const member = memberOf(userId);
    return member?.name || member?.email || userId;
  };
  /** A member's access: their own grants and those of every group they are in but `except`. */
  const accessOf = (userId: string, except?: string): GrantLike[] => [
    ...(memberOf(userId)?.grants ?? []),
    ...props.groups
      .filter((group) => group.id !== except && group.members.includes(userId))
      .flatMap((group) => group.grants),
  ];
  const membership = (group: Group, userId: string) =>
    `${ws(workspace.id)}/groups/${encodeURIComponent(group.id)}/members/${encodeURIComponent(userId)}`;
  const join = (group: Group, userId: string) => {
    const who = nameOf(userId);
    const before = accessOf(userId, group.id);
    changes.propose({
      who,
      title: `Add ${who} to ${group.name}?`,
      confirmLabel: "Add to group",
      before,
      after: [...before, ...group.grants],
      apply: () => api("PUT", membership(group, userId)).then(() => undefined),
      undo: () => api("DELETE", membership(group, userId)).then(() => undefined),
      note: <p>Members of {group.name} hold its roles for as long as they are in it.</p>,
      done: `${who} is now in ${group.name}.`,
    });
  };
  const leave = (group: Group, userId: string) => {
    const who = nameOf(userId);
    const after = accessOf(userId, group.id);
    changes.propose({
      who,
      title: `Take ${who} out of ${group.name}?`,
      confirmLabel: "Take out of group",
      tone: "danger",
      before: [...after, ...group.grants],
      after,
      apply: () => api("DELETE", membership(group, userId)).then(() => undefined),
      undo: () => api("PUT", membership(group, userId)).then(() => undefined),
      done: `${who} is no longer in ${group.name}.`,
    });
  };
  const remove = (group: Group) =>
    changes.propose({
      who: group.name,
      title: `Delete the group ${group.name}?`,
      confirmLabel: "Delete group",
      tone: "danger",
      // Deleting a group has no dry run; the note below names who loses its roles.
      affected: false,
      before: group.grants,
      after: [],
      apply: () =>
        api("DELETE", `${ws(workspace.id)}/groups/${encodeURIComponent(group.id)}`).then(
          () => undefined,
        ),
      noUndo: "To give its members these roles again, create a group, add them and give it roles.",
      note:
        group.members.length === 0 ? undefined : (
          <p>
            Its {countOf(group.members.length, "member")} ({group.members.map(nameOf).join(", ")})
            lose what its roles gave them, unless another grant still gives it.
          </p>
        ),
      done: `The group ${group.name} is deleted.`,
    });
  return (
    <Card title="Groups" description="Teams of members that hold grants together.">
      {changes.status}
      {props.groups.length === 0 ? <Empty title="No groups yet" /> : null}
      <ul className="group-list">
        {props.groups.map((group) => (
          <li key={group.id} className="group-item">
            <div className="group-head">
              <strong>{group.name}</strong>
              {group.grants.length === 0 ? (
                <span className="muted small">No role yet: give it one under Give access</span>
              ) : null}
              {manage ? (
                <Button size="small" variant="ghost" onClick={() => remove(group)}>
                  Delete group
                </Button>
              ) : null}
            </div>
            {group.grants.length === 0 ? null : (
              <GroupRoles group={group} manage={manage} propose={changes.propose} />
            )}
            <div className="chips">
              {group.members.length === 0 ? <span className="muted small">No members</span> : null}
              {group.members.map((userId) => (
                <span className="chip" key={userId}>
                  {nameOf(userId)}
                  {manage ? (
                    <button
                      type="button"
                      className="chip-remove"
                      aria-label={`Remove ${nameOf(userId)} from ${group.name}`}
                      onClick={() => leave(group, userId)}
                    >
                      ×
                    </button>
                  ) : null}
                </span>
              ))}
              {manage ? (
                <Picker
                  small
                  label={`Add a member to ${group.name}`}
                  value=""
                  selectedLabel=""
                  placeholder="Add member…"
                  search={memberSearch(
                    workspace.id,
                    (member) => !group.members.includes(member.userId),
                    found,
                  )}
                  onChange={(userId) => join(group, userId)}
                />
              ) : null}
            </div>
          </li>
        ))}
      </ul>
      {changes.dialog}
      {manage ? (
        <AsyncForm
          label="New group"
          className="form form-inline"
          onSubmit={async () => {
            await api("POST", `${ws(workspace.id)}/groups`, { name: name.trim() });
            setName("");
            props.onChanged();
          }}
        >
          {(busy) => (
            <>
              <Field label="New group">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    required
                    placeholder="e.g. Support team"
                    value={name}
                    onChange={(event) => setName(event.target.value)}
                  />
                )}
              </Field>
              <div className="form-submit">
                <Button type="submit" busy={busy}>
                  Create group
                </Button>
              </div>
            </>
          )}
        </AsyncForm>
      ) : null}
    </Card>
  );
}

/** A group's roles, each with its Take away (through the access-change confirmation). */
function GroupRoles(props: {
  readonly group: Group;
  readonly manage: boolean;
  readonly propose: (change: AccessChange) => void;
}): React.JSX.Element {
  const { model } = useWorkspace();
  const { group } = props;
  return (
    <ul className="plain-list" aria-label={`Roles of ${group.name}`}>
      {group.grants.map((grant) => (
        <li key={grant.scope} className="grant-row">
          <Badge>{roleLabel(model, grant.role)}</Badge>
          <span className="muted small">{scopeLabel(model, grant.scope)}</span>
          <GrantTerms grant={grant} />
          {props.manage ? (
            <TakeAwayButton
              subjectName={group.name}
              grant={grant}
              held={group.grants}
              propose={props.propose}
            />
          ) : null}
        </li>
      ))}
    </ul>
  );
}

/** The Team page (only for those allowed to see the team): members with role × scope, invitations, join requests and groups. */
export function TeamPage(): React.JSX.Element {
  const { workspace, model, access, canWrite } = useWorkspace();
  const base = ws(workspace.id);
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  // The cursors of the pages shown so far: page n starts after cursors[n - 1].
  const [cursors, setCursors] = useState<readonly string[]>([]);
  const [page, setPage] = useState(0);
  useEffect(() => {
    const timer = setTimeout(() => {
      setQuery(search.trim());
      setCursors([]);
      setPage(0);
    }, 250);
    return () => clearTimeout(timer);
  }, [search]);
  const memberQuery = new URLSearchParams({ limit: String(MEMBERS_PAGE) });
  if (query !== "") memberQuery.set("q", query);
  const after = page === 0 ? undefined : cursors[page - 1];
  if (after !== undefined) memberQuery.set("after", after);
  const members = useApi<{ members: Member[]; next: string | null }>(
    `${base}/members?${memberQuery}`,
  );
  const groups = useApi<{ groups: Group[] }>(`${base}/groups`);
  // Group chips name their members from the whole list, loaded only while a group has members.
  const groupMembers = useApi<{ members: Member[] }>(
    groups.data?.groups.some((group) => group.members.length > 0) ? `${base}/members` : null,
  );
  const invitations = useApi<{ invitations: Invitation[] }>(`${base}/invitations?status=pending`);
  const joinRequests = useApi<{ joinRequests: JoinRequest[] }>(
    `${base}/join-requests?status=pending`,
  );
  const seats = useApi<Seats>(`${base}/seats`);
  const reloadAll = () => {
    members.reload();
    groupMembers.reload();
    invitations.reload();
    joinRequests.reload();
    groups.reload();
    seats.reload();
  };
  const manage = canWrite && access.workflows.managePeople;
  const joins = joinRequests.data?.joinRequests ?? [];
  return (
    <>
      <PageHeader title="Team" description={<SeatsLine seats={seats.data} />} />
      <div className="stack">
        {manage ? (
          <InviteCard
            seats={seats.data}
            invitations={invitations.data?.invitations ?? []}
            groups={groups.data?.groups ?? []}
            onInvited={reloadAll}
          />
        ) : null}
        {members.loading && members.data === undefined ? (
          <Loading label="Loading members…" />
        ) : null}
        <ErrorNote error={members.error} retry={members.reload} />
        {members.data === undefined ? null : (
          <MembersCard
            members={members.data.members}
            groups={groups.data?.groups ?? []}
            total={seats.data?.seats.members}
            search={search}
            onSearch={setSearch}
            page={page}
            hasNext={members.data.next !== null}
            loading={members.loading}
            onPage={(step) => {
              const next = members.data?.next;
              if (step === 1 && next !== null && next !== undefined)
                setCursors((previous) => [...previous.slice(0, page), next]);
              setPage((current) => Math.max(0, current + step));
            }}
            onChanged={reloadAll}
          />
        )}
        {manage ? <GiveAccessCard onSaved={reloadAll} /> : null}
        <ErrorNote error={invitations.error} retry={invitations.reload} />
        {invitations.data === undefined ? null : (
          <InvitationsCard invitations={invitations.data.invitations} onChanged={reloadAll} />
        )}
        {model.policy?.joinRequests || joins.length > 0 ? (
          <JoinRequestsCard
            requests={joins}
            error={joinRequests.error}
            retry={joinRequests.reload}
            groups={groups.data?.groups ?? []}
            onChanged={reloadAll}
          />
        ) : null}
        <ErrorNote error={groups.error} retry={groups.reload} />
        {groups.data === undefined ? null : (
          <GroupsCard
            groups={groups.data.groups}
            members={groupMembers.data?.members ?? []}
            onChanged={reloadAll}
          />
        )}
      </div>
    </>
  );
}
