import { useState } from "react";
import { api, type Capabilities, type PermissionsPage as Page, ws } from "../api.ts";
import { grantableRoles, roleLabel, scopeLabel, splitResource, typeLabel } from "../model.ts";
import { useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ConfirmDialog,
  ErrorNote,
  Field,
  formatTime,
  Loading,
  Time,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";

type Entry = Page["items"][number];
type Path = Entry["via"][number];

const PLACE: Record<Path["place"], string> = {
  here: "here",
  above: "inherited",
  below: "below",
};

/**
 * Whether the caller administers `resource`: the workspace-wide team gate or people management,
 * or — for a sub-tree admin — the model's delegation permission or team gate held here.
 */
function useAdministers(capabilities: Capabilities | undefined): boolean {
  const { model, access } = useWorkspace();
  if (access.workflows.viewTeam || access.workflows.managePeople) return true;
  if (!access.workflows.administerBelow || capabilities === undefined) return false;
  const gates = [model.delegation, model.gates?.teamView].filter((name) => name !== undefined);
  return gates.some((name) => capabilities.permissions.includes(name));
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
  const [revoking, setRevoking] = useState<{ entry: Entry; path: Path } | undefined>(undefined);
  const nameOf = (entry: Entry) =>
    entry.user?.name || entry.user?.email || entry.group?.name || entry.subject;
  const items = page.data?.items ?? [];
  return (
    <Card
      title="Permissions"
      description={`Everyone with access to this ${typeLabel(model, type).toLowerCase()}: granted here, inherited from above, or on something below it.`}
    >
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
                        <span className="muted small">
                          {scopeLabel(model, path.grant.scope)} · {PLACE[path.place]}
                          {path.throughGroup === null
                            ? ""
                            : ` · via team ${items.find((item) => item.subject === path.throughGroup)?.group?.name ?? path.throughGroup}`}
                          {path.accessRequest === null
                            ? ""
                            : ` · requested, approved by ${path.accessRequest.approver?.name || path.accessRequest.approver?.email || path.accessRequest.approvedBy}${path.grant.expiresAt === null ? "" : ` until ${formatTime(path.grant.expiresAt)}`}`}
                        </span>
                        {canWrite && path.place !== "above" && path.throughGroup === null ? (
                          <Button
                            size="small"
                            variant="danger"
                            onClick={() => setRevoking({ entry, path })}
                          >
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
        <GrantHere resource={props.resource} entries={items} onChanged={page.reload} />
      ) : null}
      <ConfirmDialog
        open={revoking !== undefined}
        title={`Revoke ${revoking === undefined ? "" : roleLabel(model, revoking.path.grant.role)}?`}
        confirmLabel="Revoke"
        tone="danger"
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          if (revoking === undefined) return;
          await api("DELETE", `${ws(workspace.id)}/grants`, {
            subject: revoking.path.grant.subject,
            scope: revoking.path.grant.scope,
          });
          page.reload();
        }}
      >
        <p>
          {revoking === undefined ? "" : nameOf(revoking.entry)} loses this role on{" "}
          {revoking === undefined ? "" : scopeLabel(model, revoking.path.grant.scope)} at once.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

/** Gives a role on this resource to someone (or a team) already on the card. */
function GrantHere(props: {
  readonly resource: string;
  readonly entries: readonly Entry[];
  readonly onChanged: () => void;
}): React.JSX.Element | null {
  const { workspace, model } = useWorkspace();
  const type = splitResource(props.resource).type;
  const roles = grantableRoles(model).filter((name) => model.roles[name]?.scopes.includes(type));
  const [subject, setSubject] = useState(props.entries[0]?.subject ?? "");
  const [role, setRole] = useState(roles[0] ?? "");
  if (roles.length === 0) return null;
  return (
    <AsyncForm
      label="Grant a role here"
      className="form form-inline"
      onSubmit={async () => {
        await api("POST", `${ws(workspace.id)}/grants`, { subject, role, scope: props.resource });
        props.onChanged();
      }}
    >
      {(busy) => (
        <>
          <Field label="Who">
            {(id) => (
              <select
                id={id}
                className="select"
                value={subject}
                onChange={(event) => setSubject(event.target.value)}
              >
                {props.entries.map((entry) => (
                  <option key={entry.subject} value={entry.subject}>
                    {entry.user?.email ?? `Team ${entry.group?.name ?? entry.subject}`}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Role">
            {(id) => (
              <select
                id={id}
                className="select"
                value={role}
                onChange={(event) => setRole(event.target.value)}
              >
                {roles.map((name) => (
                  <option key={name} value={name}>
                    {roleLabel(model, name)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <div className="form-submit">
            <Button type="submit" variant="primary" busy={busy}>
              Grant
            </Button>
          </div>
        </>
      )}
    </AsyncForm>
  );
}
