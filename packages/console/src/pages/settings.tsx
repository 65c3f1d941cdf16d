import { useId, useState } from "react";
import { api, isApiError, type Seats, ws } from "../api.ts";
import { memberSearch, Picker } from "../picker.tsx";
import { countOf } from "../plural.ts";
import { Link, navigate } from "../router.tsx";
import { useSession, useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ConfirmDialog,
  ErrorNote,
  Field,
  flash,
  Notice,
  PageHeader,
  useAction,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";

/** Workspace settings: name, plan and seats, sign-in policy, join key, ownership, closing. */
export function SettingsPage(): React.JSX.Element {
  const { workspace, model, access, canWrite, reload } = useWorkspace();
  const session = useSession();
  const base = ws(workspace.id);
  const { workflows } = access;
  const seats = useApi<Seats>(workflows.viewTeam ? `${base}/seats` : null);
  const [name, setName] = useState(workspace.name);
  const [plan, setPlan] = useState(workspace.plan ?? "");
  const [joinKey, setJoinKey] = useState(workspace.settings?.joinKey ?? "");
  const [saved, setSaved] = useState<string | undefined>();
  const [successor, setSuccessor] = useState<{ id: string; name: string }>({ id: "", name: "" });
  const [transferring, setTransferring] = useState(false);
  const [confirmName, setConfirmName] = useState("");
  const [closing, setClosing] = useState(false);
  const policy = useAction();
  // The switch's state while its change is saved: it shows the new position, pending.
  const [requiring, setRequiring] = useState<boolean | undefined>();
  const policyErrorId = useId();
  const edit = canWrite && workflows.changeSettings;
  const patch = async (body: Record<string, unknown>, message: string) => {
    await api("PATCH", base, body);
    setSaved(message);
    reload();
    await session.reload();
  };
  return (
    <>
      <PageHeader title="Settings" description={`${model.label ?? workspace.preset} workspace`} />
      <div className="stack">
        {saved === undefined ? null : <Notice tone="success">{saved}</Notice>}
        {edit ? (
          <Card title="Workspace name">
            <AsyncForm
              label="Rename the workspace"
              className="form form-inline"
              onSubmit={() => patch({ name: name.trim() }, "The workspace is renamed.")}
            >
              {(busy) => (
                <>
                  <Field label="Name">
                    {(id) => (
                      <input
                        id={id}
                        className="input"
                        required
                        value={name}
                        onChange={(event) => setName(event.target.value)}
                      />
                    )}
                  </Field>
                  <div className="form-submit">
                    <Button
                      type="submit"
                      variant="primary"
                      busy={busy}
                      disabled={name.trim() === "" || name.trim() === workspace.name}
                    >
                      Rename
                    </Button>
                  </div>
                </>
              )}
            </AsyncForm>
          </Card>
        ) : null}
        {workflows.viewTeam ? (
          <Card title="Plan and seats">
            <ErrorNote error={seats.error} retry={seats.reload} />
            {seats.data === undefined ? null : (
              <>
                <p data-testid="plan-seats">
                  {countOf(seats.data.seats.members, "member")} and{" "}
                  {countOf(seats.data.seats.pending, "pending invitation")}
                  {seats.data.seats.limit === null
                    ? " — this plan has no member limit."
                    : ` of ${seats.data.seats.limit} seats (${seats.data.seats.remaining} left).`}
                </p>
                {seats.data.plans.length > 0 && canWrite && workflows.changePlan ? (
                  <AsyncForm
                    label="Change the plan"
                    className="form form-inline"
                    onSubmit={async () => {
                      await patch({ plan }, "The plan is changed.");
                      seats.reload();
                    }}
                  >
                    {(busy) => (
                      <>
                        <Field label="Plan">
                          {(id) => (
                            <select
                              id={id}
                              className="select"
                              value={plan}
                              onChange={(event) => setPlan(event.target.value)}
                            >
                              {seats.data?.plans.map((candidate) => (
                                <option key={candidate.name} value={candidate.name}>
                                  {candidate.label} —{" "}
                                  {candidate.maxMembers === null
                                    ? "no limit"
                                    : countOf(candidate.maxMembers, "member")}
                                </option>
                              ))}
                            </select>
                          )}
                        </Field>
                        <div className="form-submit">
                          <Button type="submit" busy={busy} disabled={plan === workspace.plan}>
                            Change plan
                          </Button>
                        </div>
                      </>
                    )}
                  </AsyncForm>
                ) : seats.data.plans.length > 0 ? (
                  <p className="muted" data-testid="plan-by-operator">
                    The plan is changed by your provider; contact support to upgrade it.
                  </p>
                ) : null}
              </>
            )}
          </Card>
        ) : null}
        {edit ? (
          <Card
            title="Sign-in policy"
            actions={
              workspace.settings?.require2fa ? (
                <Badge tone="success">2FA required</Badge>
              ) : undefined
            }
          >
            <label className="toggle">
              <input
                type="checkbox"
                checked={requiring ?? workspace.settings?.require2fa ?? false}
                disabled={policy.busy}
                aria-busy={policy.busy || undefined}
                aria-describedby={policy.error === undefined ? undefined : policyErrorId}
                onChange={(event) => {
                  const on = event.target.checked;
                  setSaved(undefined);
                  setRequiring(on);
                  void policy
                    .run(() =>
                      patch(
                        { require2fa: on },
                        on
                          ? "Every member now needs two-factor sign-in."
                          : "Two-factor sign-in is optional again.",
                      ),
                    )
                    .finally(() => setRequiring(undefined));
                }}
              />
              <span>
                Require two-factor sign-in for every member
                <span className="muted small block">
                  Members without it are asked to set it up at their next sign-in. You need it
                  yourself first.
                </span>
              </span>
              {policy.busy ? (
                <span className="pending-note" role="status">
                  <span className="spinner spinner-inline" aria-hidden="true" />
                  Saving…
                </span>
              ) : null}
            </label>
            <div id={policyErrorId}>
              <ErrorNote
                error={policy.error}
                words={{
                  TOTP_NOT_ENABLED:
                    "Turn on two-factor sign-in for your own account before requiring it of everyone: otherwise the rule would lock you out too.",
                }}
              >
                {isApiError(policy.error, "TOTP_NOT_ENABLED") ? (
                  <>
                    {" "}
                    <Link to="/account">Set up two-factor sign-in</Link>
                  </>
                ) : null}
              </ErrorNote>
            </div>
          </Card>
        ) : null}
        {edit && model.policy?.joinRequests ? (
          <Card
            title="Join key"
            description="Registered users who know it can ask to join (e.g. your tax number)."
          >
            <AsyncForm
              label="Join key"
              className="form form-inline"
              onSubmit={() =>
                patch(
                  { joinKey: joinKey.trim() === "" ? null : joinKey.trim() },
                  joinKey.trim() === "" ? "Joining by key is off." : "The join key is saved.",
                )
              }
            >
              {(busy) => (
                <>
                  <Field label="Join key" hint="Leave empty to turn joining by key off.">
                    {(id, hint) => (
                      <input
                        id={id}
                        aria-describedby={hint}
                        className="input"
                        value={joinKey}
                        onChange={(event) => setJoinKey(event.target.value)}
                      />
                    )}
                  </Field>
                  <div className="form-submit">
                    <Button type="submit" busy={busy}>
                      Save join key
                    </Button>
                  </div>
                </>
              )}
            </AsyncForm>
          </Card>
        ) : null}
        {canWrite && workflows.ownerOnly ? (
          <Card title="Ownership" description="A workspace has exactly one owner.">
            {workflows.transferOwnership ? (
              <div className="form form-inline">
                <Field label="New owner">
                  {(id) => (
                    <Picker
                      id={id}
                      value={successor.id}
                      selectedLabel={successor.name}
                      placeholder="Type a member's name or email…"
                      search={memberSearch(workspace.id, (member) => !member.isOwner)}
                      onChange={(userId, option) =>
                        setSuccessor({ id: userId, name: option?.label ?? userId })
                      }
                    />
                  )}
                </Field>
                <div className="form-submit">
                  <Button disabled={successor.id === ""} onClick={() => setTransferring(true)}>
                    Transfer ownership
                  </Button>
                </div>
              </div>
            ) : (
              <p className="muted">Ownership of this workspace is transferred by support.</p>
            )}
          </Card>
        ) : null}
        {canWrite && workflows.ownerOnly ? (
          <Card
            title="Close the workspace"
            tone="danger"
            description="Deletes its members, resource records, invitations and keys. The host application's servers and sites are never touched; the activity log stays."
          >
            <div className="form form-inline">
              <Field label={`Type ${workspace.name} to confirm`}>
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    autoComplete="off"
                    value={confirmName}
                    onChange={(event) => setConfirmName(event.target.value)}
                  />
                )}
              </Field>
              <div className="form-submit">
                <Button
                  variant="danger"
                  disabled={confirmName !== workspace.name}
                  onClick={() => setClosing(true)}
                >
                  Close workspace
                </Button>
              </div>
            </div>
          </Card>
        ) : null}
      </div>
      <ConfirmDialog
        open={transferring}
        title="Transfer ownership?"
        confirmLabel="Transfer ownership"
        onClose={() => setTransferring(false)}
        onConfirm={async () => {
          await api("POST", `${base}/transfer-ownership`, { userId: successor.id });
          await session.reload();
          window.location.assign(`/w/${encodeURIComponent(workspace.id)}`);
        }}
      >
        <p>
          {successor.name} becomes the owner; you keep the{" "}
          {model.roles[model.formerOwnerRole ?? ""]?.label ?? "former owner's"} role.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={closing}
        title={`Close ${workspace.name}?`}
        confirmLabel="Close it for good"
        tone="danger"
        onClose={() => setClosing(false)}
        onConfirm={async () => {
          await api("DELETE", base, { confirmName });
          flash(`${workspace.name} is closed: its members no longer have access to it.`);
          await session.reload();
          navigate("/", { replace: true });
        }}
      >
        <p>This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
