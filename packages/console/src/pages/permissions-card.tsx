import { useMemo, useState } from "react";
import {
  type AccessChange,
  type GrantLike,
  grantBody,
  grantWords,
  useAccessChange,
} from "../access-change.tsx";
import { api, type Capabilities, type PermissionsPage as Page, ws } from "../api.ts";
import { grantableRoles, roleLabel, scopeLabel, splitResource, typeLabel } from "../model.ts";
import { type Grantee, granteeSearch, PICKER_PAGE, Picker, type PickerSearch } from "../picker.tsx";
import { RoleSelect } from "../role-select.tsx";
import { useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ErrorNote,
  Field,
  formatTime,
  Loading,
  Time,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { ElevatedBadge } from "./elevation.tsx";
import { InvitationsHere } from "./permissions-invitations.tsx";
import { RemoveFromHere } from "./permissions-remove.tsx";

type Entry = Page["items"][number];
type Path = Entry["via"][number];

const PLACE: Record<Path["place"], string> = {
  here: "here",
  above: "inherited",
  below: "below",
};

/**
 * Whether the caller administers `resource`: the workspace-wide team gate or people management,
 * or — for a sub-tree admin — the model's delegation permission or team gate held here or above,
 * as the server decides it (`capabilities.administers`), whatever types those act on (#15).
 */
function useAdministers(capabilities: Capabilities | undefined): boolean {
  const { access } = useWorkspace();
  if (access.workflows.viewTeam || access.workflows.managePeople) return true;
  return access.workflows.administerBelow && capabilities?.administers === true;
}

/**
 * The Permissions card of a resource: everyone with access here, inherited from above or on a
 * resource below, and the grant giving it — for members who administer the resource. Grants made
 * here or below can be revoked (with a confirmation), and roles given here to someone listed.
 */
export function PermissionsCard(props: {
  readonly resource: string;
  readonly capabilities: Capabilities | undefined;
}): React.JSX.Element | null {
  const shown = useAdministers(props.capabilities);
  if (!shown) return null;
  return <PermissionsList resource={props.resource} />;
}

function PermissionsList(props: { readonly resource: string }): React.JSX.Element {
  const { workspace, model, canWrite } = useWorkspace();
  const { type, id } = splitResource(props.resource);
  const [after, setAfter] = useState<string | undefined>(undefined);
  const query = new URLSearchParams({ limit: "100", ...(after === undefined ? {} : { after }) });
  const page = useApi<Page>(
    `${ws(workspace.id)}/resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/permissions?${query}`,
  );
  const changes = useAccessChange({ onChanged: page.reload });
  const items = page.data?.items ?? [];
  /** Takes a grant made here or below away, through the access-change confirmation, with Undo. */
  const revoke = (entry: Entry, path: Path) => {
    const who = nameOf(entry);
    const before = directGrants(entry);
    const { grant } = path;
    changes.propose({
      who,
      title: `Revoke ${who}'s ${roleLabel(model, grant.role)} on ${scopeLabel(model, grant.scope)}?`,
      confirmLabel: "Revoke",
      tone: "danger",
      before,
      after: before.filter((other) => other.scope !== grant.scope),
      apply: () =>
        api("DELETE", `${ws(workspace.id)}/grants`, {
          subject: grant.subject,
          scope: grant.scope,
        }).then(() => undefined),
      undo: () =>
        api("POST", `${ws(workspace.id)}/grants`, grantBody(grant.subject, grant)).then(
          () => undefined,
        ),
      note: <p>{who} loses this role at once, unless another grant still gives the same.</p>,
      done: `${who} no longer holds ${grantWords(model, grant)}.`,
    });
  };
  return (
    <Card
      title="Permissions"
      description={`Everyone with access to this ${typeLabel(model, type).toLowerCase()}: granted here, inherited from above, or on something below it.`}
    >
      {changes.status}
      {page.loading && page.data === undefined ? <Loading /> : null}
      <ErrorNote error={page.error} retry={page.reload} />
      {items.length === 0 ? null : (
        <div className="table-wrap">
          <table className="table" aria-label="Permissions">
            <thead>
              <tr>
                <th scope="col">Who</th>
                <th scope="col">Access</th>
                <th scope="col">Until</th>
              </tr>
            </thead>
            <tbody>
              {items.map((entry) => (
                <tr key={entry.subject} data-subject={entry.user?.email ?? entry.group?.name}>
                  <td>
                    <div className="person-name">{nameOf(entry)}</div>
                    <div className="muted small">
                      {entry.user === null ? "Team" : entry.user.email}
                    </div>
                  </td>
                  <td>
                    {entry.via.map((path) => (
                      <div key={`${path.grant.subject} ${path.grant.scope}`} className="grant-row">
                        <Badge tone={path.place === "here" ? "accent" : "neutral"}>
                          {roleLabel(model, path.grant.role)}
                        </Badge>
                        <ElevatedBadge grant={path.grant} />
                        {path.accessRequest?.support === true ? (
                          <Badge tone="warning">Support access</Badge>
                        ) : null}
                        <span className="muted small">
                          {scopeLabel(model, path.grant.scope)} · {PLACE[path.place]}
                          {path.throughGroup === null
                            ? ""
                            : ` · via team ${items.find((item) => item.subject === path.throughGroup)?.group?.name ?? path.throughGroup}`}
                          {path.accessRequest === null
                            ? ""
                            : ` · ${path.accessRequest.support ? `support access asked by ${path.accessRequest.requestedBy}` : "requested"}, approved by ${path.accessRequest.approver?.name || path.accessRequest.approver?.email || path.accessRequest.approvedBy}${path.grant.expiresAt === null ? "" : ` until ${formatTime(path.grant.expiresAt)}`}`}
                        </span>
                        {canWrite && path.place !== "above" && path.throughGroup === null ? (
                          <Button size="small" variant="danger" onClick={() => revoke(entry, path)}>
                            Revoke
                          </Button>
                        ) : null}
                      </div>
                    ))}
                  </td>
                  <td className="nowrap">
                    {entry.expiresAt === null ? "—" : <Time value={entry.expiresAt} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page.data?.next ? (
        <Button size="small" onClick={() => setAfter(page.data?.next ?? undefined)}>
          Next page
        </Button>
      ) : null}
      {canWrite && items.length > 0 ? (
        <GrantHere resource={props.resource} propose={changes.propose} />
      ) : null}
      {canWrite ? <RemoveFromHere entries={items} onRemoved={page.reload} /> : null}
      <InvitationsHere
        resource={props.resource}
        teams={items.flatMap((entry) =>
          entry.group === null ? [] : [{ id: entry.subject.slice(6), name: entry.group.name }],
        )}
      />
      {changes.dialog}
    </Card>
  );
}

/** A subject's name on the card: a user's name or email, a team's name. */
function nameOf(entry: Entry): string {
  return entry.user?.name || entry.user?.email || entry.group?.name || entry.subject;
}

/** The grants a card entry holds itself (not through a team), one per scope. */
function directGrants(entry: Entry): GrantLike[] {
  const byScope = new Map<string, GrantLike>();
  for (const path of entry.via)
    if (path.throughGroup === null) byScope.set(path.grant.scope, path.grant);
  return [...byScope.values()];
}

/** Someone the Grant form may give a role to: their name and the grants the preview starts from. */
interface Chosen {
  readonly name: string;
  readonly grants: readonly GrantLike[];
}

/**
 * Searches, on the server, the people and teams the caller may give a role to: the workspace's
 * members and groups for those who may see the team (`workflows.viewTeam`); for a sub-tree admin,
 * whom `GET …/members` and `…/groups` refuse, the people and teams with access in this resource's
 * part of the tree — the card's own list, searched with `q`.
 */
function reachableSearch(
  options: { readonly workspaceId: string; readonly resource: string; readonly team: boolean },
  chosen: Map<string, Chosen>,
): PickerSearch {
  const { workspaceId } = options;
  if (options.team) {
    const found = new Map<string, Grantee>();
    const search = granteeSearch(workspaceId, found, (grantee) =>
      grantee.kind === "group" ? true : !grantee.member.isOwner,
    );
    return async (text, after) => {
      const page = await search(text, after);
      for (const [subject, grantee] of found)
        chosen.set(
          subject,
          grantee.kind === "user"
            ? { name: grantee.member.name || grantee.member.email, grants: grantee.member.grants }
            : { name: grantee.group.name, grants: grantee.group.grants },
        );
      return page;
    };
  }
  const { type, id } = splitResource(options.resource);
  return async (text, after) => {
    const query = new URLSearchParams({ limit: String(PICKER_PAGE) });
    if (text !== "") query.set("q", text);
    if (after !== null) query.set("after", after);
    const page = await api<Page>(
      "GET",
      `${ws(workspaceId)}/resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/permissions?${query}`,
    );
    for (const entry of page.items)
      chosen.set(entry.subject, { name: nameOf(entry), grants: directGrants(entry) });
    return {
      options: page.items.map((entry) => ({
        value: entry.subject,
        label: nameOf(entry),
        hint: entry.user?.email ?? "Team",
      })),
      next: page.next,
    };
  };
}

/**
 * Gives a role on this resource to anyone the caller may reach, found by typing; saved only
 * through the access-change confirmation (what they gain), with an Undo (#16).
 */
function GrantHere(props: {
  readonly resource: string;
  readonly propose: (change: AccessChange) => void;
}): React.JSX.Element | null {
  const { workspace, model, access } = useWorkspace();
  const type = splitResource(props.resource).type;
  const roles = grantableRoles(model).filter((name) => model.roles[name]?.scopes.includes(type));
  const team = access.workflows.viewTeam;
  const [chosen] = useState(() => new Map<string, Chosen>());
  const [subject, setSubject] = useState("");
  const [role, setRole] = useState(roles[0] ?? "");
  const [problem, setProblem] = useState<string | undefined>();
  const search = useMemo(
    () => reachableSearch({ workspaceId: workspace.id, resource: props.resource, team }, chosen),
    [workspace.id, props.resource, team, chosen],
  );
  if (roles.length === 0) return null;
  const who = chosen.get(subject);
  const review = () => {
    if (who === undefined) {
      setProblem("Choose who gets the role: type a name or email.");
      return;
    }
    const existing = who.grants.find((grant) => grant.scope === props.resource);
    if (existing !== undefined) {
      setProblem(
        `${who.name} already holds ${roleLabel(model, existing.role)} here: revoke it first (one role per place).`,
      );
      return;
    }
    const given = { role, scope: props.resource };
    const grantee = subject;
    props.propose({
      who: who.name,
      title: `Give ${who.name} the role ${grantWords(model, given)}?`,
      confirmLabel: "Grant",
      before: who.grants,
      after: [...who.grants, given],
      apply: async () => {
        await api("POST", `${ws(workspace.id)}/grants`, { subject: grantee, ...given });
        setSubject("");
      },
      undo: () =>
        api("DELETE", `${ws(workspace.id)}/grants`, { subject: grantee, scope: given.scope }).then(
          () => undefined,
        ),
      done: `${who.name} now holds ${grantWords(model, given)}.`,
    });
  };
  return (
    <AsyncForm
      label="Grant a role here"
      className="form form-inline"
      onSubmit={async () => review()}
    >
      {() => (
        <>
          <Field label="Who">
            {(id) => (
              <Picker
                id={id}
                value={subject}
                selectedLabel={who?.name ?? ""}
                placeholder="Type a name or email…"
                required
                search={search}
                onChange={(value) => {
                  setSubject(value);
                  setProblem(undefined);
                }}
              />
            )}
          </Field>
          <Field label="Role">
            {(id) => (
              <RoleSelect
                id={id}
                roles={roles}
                value={role}
                onChange={(next) => {
                  setRole(next);
                  setProblem(undefined);
                }}
              />
            )}
          </Field>
          <div className="form-submit">
            <Button type="submit" variant="primary">
              Review and grant
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
  );
}
