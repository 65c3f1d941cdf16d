import { useState } from "react";
import { type AccessChange, useAccessChange } from "../access-change.tsx";
import { type AccessRequest, api, ws } from "../api.ts";
import { roleLabel, scopeLabel, splitResource } from "../model.ts";
import { RoleSelect } from "../role-select.tsx";
import { useSession, useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  Empty,
  ErrorNote,
  Field,
  formatTime,
  Loading,
  PageHeader,
  useAction,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";

/**
 * Access requests (#18): a member asks for a role on a resource for a while (the card on a
 * resource's page); those who may give it there approve — perhaps for less, through the access
 * change confirmation — or reject, on the Access requests page. Support access
 * (docs/support-access.md): the host asks for one of its support people; the request carries a
 * "Support access" badge, and those who approved may revoke the session before it ends.
 */

/** How long one may ask for, in minutes, as people say it. */
const DURATIONS: readonly (readonly [number, string])[] = [
  [30, "30 minutes"],
  [60, "1 hour"],
  [120, "2 hours"],
  [240, "4 hours"],
  [480, "8 hours"],
  [1440, "1 day"],
  [10080, "1 week"],
];

function durationWords(minutes: number): string {
  const known = DURATIONS.find(([value]) => value === minutes);
  if (known !== undefined) return known[1];
  if (minutes % 1440 === 0) return `${minutes / 1440} days`;
  if (minutes % 60 === 0) return `${minutes / 60} hours`;
  return `${minutes} minutes`;
}

const STATUS_WORDS: Readonly<Record<AccessRequest["status"], string>> = {
  pending: "Waiting",
  approved: "Approved",
  rejected: "Rejected",
  withdrawn: "Withdrawn",
  revoked: "Revoked",
  expired: "Lapsed",
};

/**
 * The roles that can be asked for on a resource of `type`: over a standing role (and its extras)
 * there, only those that give something more — the server refuses the others
 * (ROLE_NOT_ABOVE_STANDING).
 */
function rolesAt(
  model: ReturnType<typeof useWorkspace>["model"],
  type: string,
  standing: { readonly role: string; readonly extras: readonly string[] } | undefined,
): string[] {
  const held = new Set([
    ...(standing === undefined ? [] : (model.roles[standing.role]?.permissions ?? [])),
    ...(standing?.extras ?? []),
  ]);
  return Object.entries(model.roles)
    .filter(
      ([name, role]) =>
        role.owner !== true &&
        role.scopes.includes(type) &&
        (standing === undefined ||
          (name !== standing.role &&
            (role.permissions ?? []).some((permission) => !held.has(permission)))),
    )
    .map(([name]) => name);
}

/** The card on a resource's page: ask for a role here, for a while, saying why. */
export function RequestAccessCard(props: { readonly resource: string }): React.JSX.Element | null {
  const { workspace, model, access, canWrite } = useWorkspace();
  // A role held here for good may be asked above for a while: the request's grant returns to it
  // when it ends (docs/access-requests.md). A temporary grant here already is not asked over.
  const heldHere = access.grants.find(
    (grant) =>
      grant.scope === props.resource &&
      (grant.expiresAt === undefined || grant.expiresAt === null || grant.expiresAt > Date.now()),
  );
  const standing =
    heldHere !== undefined && (heldHere.expiresAt === undefined || heldHere.expiresAt === null)
      ? heldHere
      : undefined;
  const roles = rolesAt(model, splitResource(props.resource).type, standing);
  const mine = useApi<{ accessRequests: AccessRequest[] }>(
    `${ws(workspace.id)}/access-requests?mine=true&status=pending`,
  );
  const [role, setRole] = useState(roles[0] ?? "");
  const [minutes, setMinutes] = useState(120);
  const [reason, setReason] = useState("");
  const [sent, setSent] = useState<string | undefined>();
  const withdrawing = useAction();
  // Asking is for a member's own access; the owner already holds everything.
  const temporaryHere = heldHere !== undefined && standing === undefined;
  if (!canWrite || access.isOwner || temporaryHere || roles.length === 0) return null;
  const waiting = (mine.data?.accessRequests ?? []).filter(
    (request) => request.scope === props.resource,
  );
  return (
    <Card
      title="Request access"
      description={
        standing === undefined
          ? "Ask for a role here for a while. Those who may give it are told, and approve — perhaps for less — or reject."
          : `You are ${roleLabel(model, standing.role)} here. Ask for a higher role for a while; when it ends you are ${roleLabel(model, standing.role)} again. Those who may give it are told, and approve — perhaps for less — or reject.`
      }
    >
      {waiting.length === 0 ? null : (
        <ul className="plain-list" aria-label="Your waiting requests">
          {waiting.map((request) => (
            <li key={request.id} data-access-request={request.id}>
              {roleLabel(model, request.role)} for {durationWords(request.durationMinutes)} —
              waiting for a decision{" "}
              <Button
                size="small"
                busy={withdrawing.busy}
                onClick={() =>
                  withdrawing.run(async () => {
                    await api(
                      "POST",
                      `${ws(workspace.id)}/access-requests/${encodeURIComponent(request.id)}/withdraw`,
                    );
                    setSent(undefined);
                    mine.reload();
                  })
                }
              >
                Withdraw
              </Button>
            </li>
          ))}
        </ul>
      )}
      <ErrorNote error={withdrawing.error} />
      <AsyncForm
        label="Request access"
        onError={() => setSent(undefined)}
        onSubmit={async () => {
          await api("POST", `${ws(workspace.id)}/access-requests`, {
            role,
            scope: props.resource,
            reason,
            durationMinutes: minutes,
          });
          setSent(`Asked for ${roleLabel(model, role)} for ${durationWords(minutes)}.`);
          setReason("");
          mine.reload();
        }}
      >
        {(busy) => (
          <>
            <Field label="Role" name="role">
              {(id) => <RoleSelect id={id} roles={roles} value={role} onChange={setRole} />}
            </Field>
            <Field label="For how long" name="durationMinutes">
              {(id) => (
                <select
                  id={id}
                  className="select"
                  value={minutes}
                  onChange={(event) => setMinutes(Number(event.target.value))}
                >
                  {DURATIONS.map(([value, words]) => (
                    <option key={value} value={value}>
                      {words}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Reason" name="reason" hint="What you need it for; the approvers read it.">
              {(id, describedBy) => (
                <textarea
                  id={id}
                  className="input"
                  required
                  maxLength={1000}
                  rows={2}
                  aria-describedby={describedBy}
                  value={reason}
                  onChange={(event) => setReason(event.target.value)}
                />
              )}
            </Field>
            <div className="form-submit">
              <Button type="submit" variant="primary" busy={busy}>
                Request access
              </Button>
            </div>
          </>
        )}
      </AsyncForm>
      <div role="status" aria-live="polite">
        {sent === undefined ? null : <p className="note note-success">{sent}</p>}
      </div>
    </Card>
  );
}

/** The Access requests page: those the caller may decide, and their own. */
export function AccessRequestsPage(): React.JSX.Element {
  const { workspace } = useWorkspace();
  const requests = useApi<{ accessRequests: AccessRequest[] }>(
    `${ws(workspace.id)}/access-requests`,
  );
  const { me } = useSession();
  const userId = me?.user.id;
  const all = requests.data?.accessRequests ?? [];
  const toDecide = all.filter((request) => request.userId !== userId);
  const own = all.filter((request) => request.userId === userId);
  // On the page, not in a row: the acknowledgement stays once the approved row has no buttons.
  const change = useAccessChange({ onChanged: requests.reload });
  return (
    <>
      <PageHeader
        title="Access requests"
        description="Requests for a role on a resource for a while: those you may decide, and your own."
      />
      {change.dialog}
      {change.status}
      <div className="stack">
        {requests.loading && requests.data === undefined ? <Loading /> : null}
        <ErrorNote error={requests.error} retry={requests.reload} />
        {requests.data === undefined ? null : (
          <>
            <Card
              title="To decide"
              description="Requests for roles you may give. You may approve less than asked: a narrower role, a resource below, a shorter time."
            >
              {toDecide.length === 0 ? (
                <Empty title="Nothing to decide">
                  <p>Requests you may decide show up here.</p>
                </Empty>
              ) : (
                <RequestsTable
                  requests={toDecide}
                  propose={change.propose}
                  onChanged={requests.reload}
                />
              )}
            </Card>
            <Card title="Your requests">
              {own.length === 0 ? (
                <p className="muted">
                  You have asked for nothing. Ask on a resource's page, under Request access.
                </p>
              ) : (
                <RequestsTable requests={own} onChanged={requests.reload} />
              )}
            </Card>
          </>
        )}
      </div>
    </>
  );
}

function RequestsTable(props: {
  readonly requests: readonly AccessRequest[];
  /** Offers decisions on pending requests, through the access change confirmation. */
  readonly propose?: (change: AccessChange) => void;
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { model } = useWorkspace();
  const { propose } = props;
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Who</th>
            <th scope="col">Asks for</th>
            <th scope="col">Reason</th>
            <th scope="col">Status</th>
            {propose === undefined ? null : <th scope="col">Decision</th>}
          </tr>
        </thead>
        <tbody>
          {props.requests.map((request) => (
            <tr key={request.id} data-access-request={request.email}>
              <td>
                <div className="person-name">{request.name || request.email}</div>
                <div className="muted small">{request.email}</div>
                {request.requestedBy === null ? null : (
                  <div>
                    <Badge tone="warning">Support access</Badge>{" "}
                    <span className="muted small">asked by the hosting company</span>
                  </div>
                )}
              </td>
              <td>
                {roleLabel(model, request.role)} on {scopeLabel(model, request.scope)} for{" "}
                {durationWords(request.durationMinutes)}
              </td>
              <td>{request.reason}</td>
              <td>
                <Badge tone={request.status === "approved" ? "accent" : "neutral"}>
                  {STATUS_WORDS[request.status]}
                </Badge>
                <div className="muted small">
                  {request.granted === null
                    ? request.status === "pending"
                      ? `lapses ${formatTime(request.expiresAt)}`
                      : (request.rejectionReason ?? "")
                    : `${roleLabel(model, request.granted.role)} on ${scopeLabel(model, request.granted.scope)} until ${formatTime(request.granted.expiresAt)}`}
                </div>
              </td>
              {propose === undefined ? null : (
                <td className="cell-actions">
                  {request.status === "pending" ? (
                    <Decide request={request} propose={propose} onChanged={props.onChanged} />
                  ) : request.status === "approved" &&
                    request.granted !== null &&
                    request.granted.expiresAt > Date.now() ? (
                    <Revoke request={request} onChanged={props.onChanged} />
                  ) : null}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Approve (through the access change confirmation), perhaps for less, or reject with a reason. */
function Decide(props: {
  readonly request: AccessRequest;
  readonly propose: (change: AccessChange) => void;
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, model, canWrite } = useWorkspace();
  const { request } = props;
  const [minutes, setMinutes] = useState(request.durationMinutes);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  const rejection = useAction();
  const base = `${ws(workspace.id)}/access-requests/${encodeURIComponent(request.id)}`;
  const who = request.name || request.email;
  const shorter = DURATIONS.filter(([value]) => value < request.durationMinutes);
  if (!canWrite) return <span className="muted">Read-only</span>;
  return (
    <>
      <select
        className="select select-small"
        aria-label={`How long for ${request.email}`}
        value={minutes}
        onChange={(event) => setMinutes(Number(event.target.value))}
      >
        <option value={request.durationMinutes}>
          {durationWords(request.durationMinutes)} (as asked)
        </option>
        {shorter.map(([value, words]) => (
          <option key={value} value={value}>
            {words}
          </option>
        ))}
      </select>
      <Button
        size="small"
        variant="primary"
        onClick={() =>
          props.propose({
            who,
            title: `Approve ${who}'s request?`,
            confirmLabel: "Approve",
            // Approving has no dry run; the grant it gives is the whole change, shown as After.
            affected: false,
            before: [],
            after: [
              {
                role: request.role,
                scope: request.scope,
                expiresAt: Date.now() + minutes * 60_000,
              },
            ],
            note: (
              <p className="muted small">
                For {durationWords(minutes)}, then it ends on its own. Their other access stays as
                it is. Reason given: “{request.reason}”
              </p>
            ),
            noUndo: "The grant ends on its own; Revoke now (here, once approved) ends it sooner.",
            apply: async () => {
              await api("POST", `${base}/approve`, { durationMinutes: minutes });
            },
            done: `${who} has ${roleLabel(model, request.role)} on ${scopeLabel(model, request.scope)} for ${durationWords(minutes)}.`,
          })
        }
      >
        Approve…
      </Button>
      {rejecting ? (
        <>
          <input
            className="input input-small"
            aria-label={`Why reject ${request.email}'s request`}
            maxLength={1000}
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
          <Button
            size="small"
            busy={rejection.busy}
            onClick={() =>
              rejection.run(async () => {
                await api("POST", `${base}/reject`, reason.trim() === "" ? {} : { reason });
                props.onChanged();
              })
            }
          >
            Reject
          </Button>
        </>
      ) : (
        <Button size="small" onClick={() => setRejecting(true)}>
          Reject…
        </Button>
      )}
      <ErrorNote error={rejection.error} />
    </>
  );
}

/** Ends an approved request's access now: a support session, or a member's approved grant. */
function Revoke(props: {
  readonly request: AccessRequest;
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, canWrite } = useWorkspace();
  const revoking = useAction();
  const { request } = props;
  if (!canWrite) return <span className="muted">Read-only</span>;
  return (
    <>
      <Button
        size="small"
        variant="danger"
        busy={revoking.busy}
        aria-label={`Revoke ${request.email}'s access`}
        onClick={() =>
          revoking.run(async () => {
            await api(
              "POST",
              `${ws(workspace.id)}/access-requests/${encodeURIComponent(request.id)}/revoke`,
            );
            props.onChanged();
          })
        }
      >
        Revoke now
      </Button>
      <ErrorNote error={revoking.error} />
    </>
  );
}
