import { useEffect, useState } from "react";
import { api, isApiError } from "../api.ts";
import { Link, navigate, useLocation } from "../router.tsx";
import { useSession } from "../session.tsx";
import {
  AsyncForm,
  Button,
  ErrorNote,
  Field,
  formatDate,
  Loading,
  Notice,
  PasswordInput,
} from "../ui.tsx";
import { AuthLayout } from "./sign-in.tsx";

interface Preview {
  readonly workspaceName: string;
  readonly email: string;
  /** null for an invitation into teams only. */
  readonly roleLabel: string | null;
  readonly scopes: readonly string[];
  /** The names of the teams joined. */
  readonly teams: readonly string[];
  readonly expiresAt: number;
  readonly hasAccount: boolean;
}

interface Accepted {
  readonly workspaceId: string;
  readonly session: { readonly sessionId: string } | null;
}

/** What a scope means to an invitee: "the whole workspace" or "site shop.example". */
function scopeText(scopes: readonly string[]): string {
  return scopes
    .map((scope) => {
      const [type, ...id] = scope.split(":");
      return type === "workspace" ? "the whole workspace" : `${type} ${id.join(":")}`;
    })
    .join(", ");
}

/**
 * `/invitations/accept#<token>`: the link from an invitation mail or a copied link. Shows what the
 * invitation is for, then accepts it — signed in, by signing in, or by creating the account.
 */
export function AcceptInvitationPage(): React.JSX.Element {
  const { hash } = useLocation();
  const { me, reload, signOut } = useSession();
  const [token] = useState(hash);
  const [preview, setPreview] = useState<Preview | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");

  useEffect(() => {
    if (token === "") {
      setError(new Error("This invitation link is incomplete; open it from the mail again."));
      return;
    }
    api<Preview>("POST", "/v1/invitations/preview", { token }).then(setPreview, setError);
  }, [token]);

  const finish = async (accepted: Accepted) => {
    await reload();
    navigate(`/w/${encodeURIComponent(accepted.workspaceId)}`, { replace: true });
  };

  if (error !== undefined) {
    const gone =
      isApiError(error, "INVITATION_ALREADY_USED") ||
      isApiError(error, "INVITATION_REVOKED") ||
      isApiError(error, "INVITATION_EXPIRED");
    return (
      <AuthLayout title={gone ? "This invitation cannot be used" : "Invitation not found"}>
        <ErrorNote error={error} />
        <p>Ask whoever invited you for a new invitation.</p>
        <p>
          <Link to="/">Go to your console</Link>
        </p>
      </AuthLayout>
    );
  }
  if (preview === undefined || me === undefined)
    return (
      <AuthLayout title="Your invitation">
        <Loading label="Checking the invitation…" />
      </AuthLayout>
    );

  const summary = (
    <div className="invite-summary">
      <p>
        You are invited to <strong>{preview.workspaceName}</strong>
        {preview.roleLabel === null ? null : (
          <>
            {" "}
            as <strong>{preview.roleLabel}</strong> on {scopeText(preview.scopes)}
          </>
        )}
        {preview.teams.length === 0 ? null : (
          <>
            {preview.roleLabel === null ? " in" : ", in"} team{" "}
            <strong>{preview.teams.join(", ")}</strong>
          </>
        )}
        .
      </p>
      <p className="muted">
        For {preview.email} · valid until {formatDate(preview.expiresAt)}
      </p>
    </div>
  );

  if (me !== null) {
    const isInvitee = me.user.email.toLowerCase() === preview.email.toLowerCase();
    return (
      <AuthLayout title="Join the workspace">
        {summary}
        {isInvitee ? (
          <AsyncForm
            label="Accept the invitation"
            onSubmit={async () =>
              finish(await api<Accepted>("POST", "/v1/invitations/accept", { token }))
            }
          >
            {(busy) => (
              <Button type="submit" variant="primary" busy={busy} className="button-block">
                Accept and join
              </Button>
            )}
          </AsyncForm>
        ) : (
          <>
            <Notice tone="warning">
              You are signed in as {me.user.email}; this invitation is for {preview.email}.
            </Notice>
            <Button className="button-block" onClick={() => void signOut()}>
              Sign out to accept as {preview.email}
            </Button>
          </>
        )}
      </AuthLayout>
    );
  }

  if (preview.hasAccount) {
    return (
      <AuthLayout title="Join the workspace">
        {summary}
        <AsyncForm
          label="Sign in to accept"
          onSubmit={async () => {
            await api("POST", "/v1/auth/login", { email: preview.email, password });
            finish(await api<Accepted>("POST", "/v1/invitations/accept", { token }));
          }}
        >
          {(busy) => (
            <>
              <Field label="Password">
                {(id) => (
                  <PasswordInput
                    id={id}
                    purpose="current"
                    value={password}
                    onChange={setPassword}
                  />
                )}
              </Field>
              <Button type="submit" variant="primary" busy={busy} className="button-block">
                Sign in and join
              </Button>
              <p className="muted small">
                Two-factor sign-in on?{" "}
                <Link
                  to={`/sign-in?email=${encodeURIComponent(preview.email)}&next=${encodeURIComponent(`/invitations/accept#${token}`)}`}
                >
                  Sign in first
                </Link>
                , then open the link again.
              </p>
            </>
          )}
        </AsyncForm>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title="Create your account to join">
      {summary}
      <AsyncForm
        label="Create your account and join"
        onSubmit={async () => {
          const accepted = await api<Accepted>("POST", "/v1/invitations/accept", {
            token,
            password,
            ...(name.trim() === "" ? {} : { name: name.trim() }),
          });
          if (accepted.session === null) {
            navigate(`/sign-in?email=${encodeURIComponent(preview.email)}`, { replace: true });
            return;
          }
          await finish(accepted);
        }}
      >
        {(busy) => (
          <>
            <Field label="Email">
              {(id) => <input id={id} className="input" value={preview.email} readOnly />}
            </Field>
            <Field label="Your name">
              {(id) => (
                <input
                  id={id}
                  className="input"
                  autoComplete="name"
                  value={name}
                  onChange={(event) => setName(event.target.value)}
                />
              )}
            </Field>
            <Field label="Choose a password" hint="At least 10 characters.">
              {(id, hint) => (
                <PasswordInput
                  id={id}
                  purpose="new"
                  describedBy={hint}
                  value={password}
                  onChange={setPassword}
                />
              )}
            </Field>
            <Button type="submit" variant="primary" busy={busy} className="button-block">
              Create account and join
            </Button>
          </>
        )}
      </AsyncForm>
    </AuthLayout>
  );
}
