import { useState } from "react";
import { api, type Invitation, ws } from "../api.ts";
import { grantableRoles, splitResource } from "../model.ts";
import { RoleSelect } from "../role-select.tsx";
import { useWorkspace } from "../session.tsx";
import { AsyncForm, Button, ConfirmDialog, ErrorNote, Field, Time } from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { offerWords, type TeamChoice, TeamSelect } from "./invitation-parts.tsx";

/**
 * The Permissions card's pending invitations: those giving access at or below the resource (a role
 * there or below, or a team's) that the caller may see — all of them for the team's viewers, a
 * sub-tree admin's own part — with withdraw, and an invitation to a role here or into a team.
 * `teams` are the teams on the card, the ones a sub-tree admin may manage.
 */
export function InvitationsHere(props: {
  readonly resource: string;
  readonly teams: readonly TeamChoice[];
  /** Called once an invitation is sent or withdrawn. */
  readonly onChanged?: () => void;
}): React.JSX.Element {
  const { workspace, model, canWrite } = useWorkspace();
  const query = new URLSearchParams({ status: "pending", resource: props.resource });
  const list = useApi<{ invitations: Invitation[] }>(`${ws(workspace.id)}/invitations?${query}`);
  const [withdrawing, setWithdrawing] = useState<Invitation | undefined>(undefined);
  const pending = list.data?.invitations ?? [];
  const changed = () => {
    list.reload();
    props.onChanged?.();
  };
  return (
    <section className="stack" aria-label="Pending invitations here">
      <h3>Pending invitations</h3>
      <ErrorNote error={list.error} retry={list.reload} />
      {list.data === undefined ? null : pending.length === 0 ? (
        <p className="muted small">No pending invitations give access here.</p>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Pending invitations here">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role, scope and teams</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {pending.map((invitation) => (
                <tr key={invitation.id} data-invitation={invitation.email}>
                  <td>{invitation.email}</td>
                  <td>{offerWords(model, invitation)}</td>
                  <td className="nowrap">
                    <Time value={invitation.expiresAt} />
                  </td>
                  <td className="cell-actions">
                    {canWrite ? (
                      <Button
                        size="small"
                        variant="danger"
                        onClick={() => setWithdrawing(invitation)}
                      >
                        Withdraw
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canWrite ? (
        <InviteHere resource={props.resource} teams={props.teams} onInvited={changed} />
      ) : null}
      <ConfirmDialog
        open={withdrawing !== undefined}
        title={`Withdraw the invitation to ${withdrawing?.email ?? ""}?`}
        confirmLabel="Withdraw invitation"
        tone="danger"
        onClose={() => setWithdrawing(undefined)}
        onConfirm={async () => {
          if (withdrawing === undefined) return;
          await api(
            "DELETE",
            `${ws(workspace.id)}/invitations/${encodeURIComponent(withdrawing.id)}`,
          );
          changed();
        }}
      >
        <p>Its links stop working at once and its seat is free. To undo it, invite them again.</p>
      </ConfirmDialog>
    </section>
  );
}

/** Invites someone by email to a role on this resource, into a team, or both. */
function InviteHere(props: {
  readonly resource: string;
  readonly teams: readonly TeamChoice[];
  readonly onInvited: () => void;
}): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const type = splitResource(props.resource).type;
  const roles = grantableRoles(model).filter((name) => model.roles[name]?.scopes.includes(type));
  const [email, setEmail] = useState("");
  const [role, setRole] = useState(roles[0] ?? "");
  const [team, setTeam] = useState("");
  const [sent, setSent] = useState<string | undefined>(undefined);
  return (
    <AsyncForm
      label="Invite here"
      className="form form-inline"
      onError={() => setSent(undefined)}
      onSubmit={async () => {
        setSent(undefined);
        const answer = await api<{ invitation: Invitation }>(
          "POST",
          `${ws(workspace.id)}/invitations`,
          {
            email: email.trim(),
            ...(role === "" ? {} : { role, scopes: [props.resource] }),
            ...(team === "" ? {} : { groups: [team] }),
          },
        );
        setSent(answer.invitation.email);
        setEmail("");
        props.onInvited();
      }}
    >
      {(busy) => (
        <>
          <Field label="Invite email" name="email">
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
          <Field label="Role here" name="role">
            {(id) => (
              <RoleSelect
                id={id}
                roles={roles}
                none="No role (team only)"
                value={role}
                onChange={setRole}
              />
            )}
          </Field>
          {props.teams.length === 0 ? null : (
            <Field label="Team" name="groups">
              {(id) => <TeamSelect id={id} teams={props.teams} value={team} onChange={setTeam} />}
            </Field>
          )}
          <div className="form-submit">
            <Button type="submit" variant="primary" busy={busy}>
              Send invitation
            </Button>
          </div>
          <div role="status" aria-live="polite">
            {sent === undefined ? null : (
              <p className="note note-success">Invitation sent to {sent}.</p>
            )}
          </div>
        </>
      )}
    </AsyncForm>
  );
}
