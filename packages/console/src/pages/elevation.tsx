import { useState } from "react";
import { api, type Eligibility, ws } from "../api.ts";
import { roleLabel, scopeLabel } from "../model.ts";
import { useSession, useWorkspace } from "../session.tsx";
import { AsyncForm, Badge, Button, Card, ErrorNote, Field, formatTime, useAction } from "../ui.tsx";
import { useApi } from "../use-api.ts";

/**
 * Just-in-time elevation (#18): a member's own eligibilities with an "Elevate" control (how long,
 * why, and the authenticator code when it is required), the live ones with "End now", and the
 * "Elevated until …" badge that marks an elevation's grant wherever grants are shown.
 */

/** An elevation's grant carries the note the server gave it: "elevated until … (eligibility …): reason". */
export function isElevated(grant: { readonly note?: string | undefined }): boolean {
  return grant.note?.startsWith("elevated") === true;
}

/** "Elevated until 14:00" on an elevation's grant; nothing on any other grant. */
export function ElevatedBadge(props: {
  readonly grant: {
    readonly note?: string | undefined;
    readonly expiresAt?: number | null;
    readonly fallback?: { readonly role: string } | undefined;
  };
}): React.JSX.Element | null {
  const { model } = useWorkspace();
  const { grant } = props;
  if (!isElevated(grant) || grant.expiresAt === undefined || grant.expiresAt === null) return null;
  const ended = grant.expiresAt <= Date.now();
  return (
    <Badge tone={ended ? "danger" : "warning"} title={grant.note ?? ""}>
      <span className="elevated-until">
        {ended ? "Elevation ended" : "Elevated until"} {formatTime(grant.expiresAt)}
        {/* A temporary role over a standing one says what it returns to. */}
        {grant.fallback === undefined || ended
          ? null
          : `, then ${roleLabel(model, grant.fallback.role)}`}
      </span>
    </Badge>
  );
}

const HOUR = 3_600_000;

/** "1 hour", "90 minutes", "8 hours". */
function durationWords(ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR} ${ms === HOUR ? "hour" : "hours"}`;
  return `${Math.round(ms / 60_000)} minutes`;
}

/** The caller's own eligibilities in this workspace, each to activate or end. */
export function ElevationsCard(): React.JSX.Element | null {
  const { workspace, canWrite, reload } = useWorkspace();
  const { me } = useSession();
  const listed = useApi<{ eligibilities: Eligibility[] }>(`${ws(workspace.id)}/eligibilities`);
  const mine = (listed.data?.eligibilities ?? []).filter(
    (item) => item.subject === `user:${me?.user.id ?? ""}`,
  );
  if (mine.length === 0) return null;
  const changed = () => {
    listed.reload();
    reload();
  };
  return (
    <Card
      title="Just-in-time access"
      description="Roles you may take on yourself for a while, with a reason. They end by themselves."
    >
      <ul className="plain-list elevations">
        {mine.map((item) => (
          <EligibilityRow key={item.id} item={item} canWrite={canWrite} onChanged={changed} />
        ))}
      </ul>
      <ErrorNote error={listed.error} />
    </Card>
  );
}

function EligibilityRow(props: {
  readonly item: Eligibility;
  readonly canWrite: boolean;
  readonly onChanged: () => void;
}): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const { item } = props;
  const [open, setOpen] = useState(false);
  const [minutes, setMinutes] = useState(String(Math.min(60, item.maxDurationMs / 60_000)));
  const [reason, setReason] = useState("");
  const [code, setCode] = useState("");
  const end = useAction();
  const what = `${roleLabel(model, item.role)} on ${scopeLabel(model, item.scope)}`;
  const base = `${ws(workspace.id)}/eligibilities/${encodeURIComponent(item.id)}`;
  return (
    <li className="elevation" data-eligibility={item.id}>
      <div className="grant-row">
        <Badge>{roleLabel(model, item.role)}</Badge>
        <span className="muted small">
          {scopeLabel(model, item.scope)} · up to {durationWords(item.maxDurationMs)}
          {item.require2fa ? " · needs your authenticator code" : ""}
        </span>
        {item.active === null ? null : (
          <ElevatedBadge grant={{ note: item.active.note, expiresAt: item.active.until }} />
        )}
        {!props.canWrite ? null : item.active === null ? (
          <Button size="small" variant="primary" onClick={() => setOpen((value) => !value)}>
            Elevate
          </Button>
        ) : (
          <Button
            size="small"
            variant="danger"
            busy={end.busy}
            aria-label={`End ${what} now`}
            onClick={() =>
              end.run(async () => {
                await api("POST", `${base}/deactivate`);
                props.onChanged();
              })
            }
          >
            End now
          </Button>
        )}
      </div>
      <ErrorNote error={end.error} />
      {!open || item.active !== null ? null : (
        <AsyncForm
          label={`Elevate to ${what}`}
          className="form form-inline"
          words={{
            TOTP_INVALID: "That code is not valid. Enter the current code from your app.",
            TOTP_ENROLLMENT_REQUIRED:
              "This role needs two-factor sign-in: set up an authenticator app in your account first.",
          }}
          onSubmit={async () => {
            await api("POST", `${base}/activate`, {
              durationMs: Math.round(Number(minutes) * 60_000),
              reason,
              ...(item.require2fa ? { totpCode: code } : {}),
            });
            setOpen(false);
            setReason("");
            setCode("");
            props.onChanged();
          }}
        >
          {(busy) => (
            <>
              <Field label="For how long (minutes)">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    type="number"
                    min={1}
                    max={item.maxDurationMs / 60_000}
                    required
                    value={minutes}
                    onChange={(event) => setMinutes(event.target.value)}
                  />
                )}
              </Field>
              <Field label="Why">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    required
                    maxLength={500}
                    value={reason}
                    onChange={(event) => setReason(event.target.value)}
                  />
                )}
              </Field>
              {item.require2fa ? (
                <Field label="Authenticator code">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      inputMode="numeric"
                      autoComplete="one-time-code"
                      required
                      value={code}
                      onChange={(event) => setCode(event.target.value)}
                    />
                  )}
                </Field>
              ) : null}
              <div className="form-submit">
                <Button type="submit" variant="primary" busy={busy}>
                  Elevate now
                </Button>
              </div>
            </>
          )}
        </AsyncForm>
      )}
    </li>
  );
}

/** For "Give access": the eligibility's own fields, when the manager chooses "eligible only". */
export interface EligibleDraft {
  readonly eligibleOnly: boolean;
  /** The longest activation, in hours (text of the number input). */
  readonly maxHours: string;
  readonly require2fa: boolean;
}

export const NO_ELIGIBILITY: EligibleDraft = {
  eligibleOnly: false,
  maxHours: "1",
  require2fa: false,
};

/** The "eligible only" choice and its terms, inside "Give access". */
export function EligibleOnlyFields(props: {
  readonly value: EligibleDraft;
  readonly disabled: boolean;
  readonly onChange: (change: Partial<EligibleDraft>) => void;
}): React.JSX.Element {
  const { value } = props;
  return (
    <fieldset className="extras">
      <legend>Just-in-time (optional)</legend>
      <label className="toggle">
        <input
          type="checkbox"
          disabled={props.disabled}
          checked={value.eligibleOnly}
          onChange={(event) => props.onChange({ eligibleOnly: event.target.checked })}
        />
        <span>Eligible only: they take it on themselves for a while, with a reason</span>
      </label>
      {value.eligibleOnly ? (
        <>
          <Field label="Longest activation (hours)">
            {(id) => (
              <input
                id={id}
                className="input"
                type="number"
                min={0.25}
                max={720}
                step={0.25}
                required
                value={value.maxHours}
                onChange={(event) => props.onChange({ maxHours: event.target.value })}
              />
            )}
          </Field>
          <label className="toggle">
            <input
              type="checkbox"
              checked={value.require2fa}
              onChange={(event) => props.onChange({ require2fa: event.target.checked })}
            />
            <span>Ask for their authenticator code when they elevate</span>
          </label>
        </>
      ) : null}
    </fieldset>
  );
}

/** Saves an eligibility from "Give access". */
export async function setEligibility(
  workspaceId: string,
  draft: { subject: string; role: string; scope: string },
  terms: EligibleDraft,
): Promise<void> {
  await api("POST", `${ws(workspaceId)}/eligibilities`, {
    subject: draft.subject,
    role: draft.role,
    scope: draft.scope,
    maxDurationMs: Math.round(Number(terms.maxHours) * HOUR),
    require2fa: terms.require2fa,
  });
}
