import { useEffect, useRef, useState } from "react";
import { api, type SessionInfo } from "../api.ts";
import { deviceName } from "../device-name.ts";
import { countOf } from "../plural.ts";
import { Link, navigate, useLocation } from "../router.tsx";
import { sameOriginPath, useSession } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ConfirmDialog,
  ErrorNote,
  Field,
  Loading,
  Notice,
  PageHeader,
  PasswordInput,
  SecretBox,
  Time,
  useAction,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { AuthLayout, requiredByWords, TotpSetup } from "./sign-in.tsx";

/** The signed-in person: profile, two-factor sign-in (TOTP) and sessions. */
export function AccountPage(): React.JSX.Element {
  const { me, reload } = useSession();
  const { search } = useLocation();
  // Just enrolled (here, or at sign-in): the recovery codes are made and shown at once (#16).
  const [justEnrolled, setJustEnrolled] = useState(search.get("enrolled") === "1");
  const next = search.get("next") === null ? undefined : sameOriginPath(search.get("next"));
  const sessions = useApi<{ sessions: SessionInfo[]; current: string | null }>("/v1/me/sessions");
  const [enrollment, setEnrollment] = useState<{ secret: string; otpauthUri: string }>();
  const [code, setCode] = useState("");
  const start = useAction();
  const end = useAction();
  const [ended, setEnded] = useState<number>();
  if (me === null || me === undefined) return <Loading />;
  const { twoFactor } = me;
  return (
    <div className="narrow">
      <PageHeader
        title="Your account"
        description={`${me.user.name} · ${me.user.email}`}
        actions={
          <>
            <Link className="button button-secondary" to="/join">
              Ask to join a workspace
            </Link>
            <Link className="button button-secondary" to="/new-workspace">
              Create a workspace
            </Link>
          </>
        }
      />
      <div className="stack">
        <ProfileCard name={me.user.name} onSaved={reload} />
        <EmailCard email={me.user.email} />
        <PasswordCard onChanged={sessions.reload} />
        <Card
          title="Two-factor sign-in"
          description="A code from an authenticator app at every sign-in (TOTP)."
          actions={
            twoFactor.enabled ? <Badge tone="success">On</Badge> : <Badge tone="warning">Off</Badge>
          }
        >
          {twoFactor.enabled ? (
            <>
              <p>Two-factor sign-in is on. Each code works once.</p>
              <RecoveryCodes
                left={twoFactor.recoveryCodesLeft}
                onMade={reload}
                makeAtOnce={justEnrolled}
              />
              {justEnrolled && next !== undefined ? (
                <p>
                  <Link className="button button-primary" to={next}>
                    I have stored them — continue
                  </Link>
                </p>
              ) : null}
            </>
          ) : enrollment === undefined ? (
            <>
              {twoFactor.required ? (
                <Notice tone="warning">
                  <span data-testid="required-by">{requiredByWords(twoFactor.requiredBy)}</span> Set
                  it up below.
                </Notice>
              ) : null}
              <Button
                variant="primary"
                busy={start.busy}
                onClick={() =>
                  start.run(async () => setEnrollment(await api("POST", "/v1/auth/totp/enroll")))
                }
              >
                Set up two-factor sign-in
              </Button>
              <ErrorNote error={start.error} />
            </>
          ) : (
            <AsyncForm
              label="Confirm two-factor sign-in"
              onSubmit={async () => {
                await api("POST", "/v1/auth/totp/confirm", { code });
                setEnrollment(undefined);
                setJustEnrolled(true);
                await reload();
              }}
            >
              {(busy) => (
                <>
                  <TotpSetup {...enrollment} />
                  <Field label="Code from the app">
                    {(id) => (
                      <input
                        id={id}
                        className="input input-code"
                        inputMode="numeric"
                        autoComplete="one-time-code"
                        maxLength={6}
                        value={code}
                        onChange={(event) => setCode(event.target.value.replace(/\D/g, ""))}
                      />
                    )}
                  </Field>
                  <Button type="submit" variant="primary" busy={busy}>
                    Turn on
                  </Button>
                </>
              )}
            </AsyncForm>
          )}
        </Card>
        <Card
          title="Sessions"
          description="Where you are signed in. End any you do not recognise."
          actions={
            (sessions.data?.sessions.length ?? 0) > 1 ? (
              <Button
                size="small"
                busy={end.busy}
                onClick={() =>
                  end.run(async () => {
                    const { sessionsEnded } = await api<{ sessionsEnded: number }>(
                      "DELETE",
                      "/v1/me/sessions",
                    );
                    setEnded(sessionsEnded);
                    sessions.reload();
                  })
                }
              >
                End all other sessions
              </Button>
            ) : undefined
          }
        >
          {ended === undefined ? null : (
            <Notice tone="success">Signed out of {countOf(ended, "other session")}.</Notice>
          )}
          {sessions.loading && sessions.data === undefined ? <Loading /> : null}
          <ErrorNote error={sessions.error ?? end.error} retry={sessions.reload} />
          {sessions.data === undefined ? null : (
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Device</th>
                    <th scope="col">Last active</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {sessions.data.sessions.map((session) => (
                    <tr key={session.id}>
                      <td>
                        <div title={session.agent ?? ""}>{deviceName(session.agent)}</div>
                        <div className="muted small">{session.ip ?? ""}</div>
                      </td>
                      <td>
                        <Time value={session.lastSeenAt} />
                      </td>
                      <td className="cell-actions">
                        {session.id === sessions.data?.current ? (
                          <Badge tone="accent">This device</Badge>
                        ) : (
                          <Button
                            size="small"
                            onClick={() =>
                              end.run(async () => {
                                await api(
                                  "DELETE",
                                  `/v1/me/sessions/${encodeURIComponent(session.id)}`,
                                );
                                sessions.reload();
                              })
                            }
                          >
                            End session
                          </Button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
    </div>
  );
}

/** The name others see. */
function ProfileCard(props: {
  readonly name: string;
  readonly onSaved: () => Promise<void>;
}): React.JSX.Element {
  const [name, setName] = useState(props.name);
  const [saved, setSaved] = useState(false);
  return (
    <Card title="Profile" description="Your name is what the people in your workspaces see.">
      <AsyncForm
        label="Change your name"
        onSubmit={async () => {
          setSaved(false);
          await api("PATCH", "/v1/me", { name });
          await props.onSaved();
          setSaved(true);
        }}
      >
        {(busy) => (
          <>
            <Field label="Name">
              {(id) => (
                <input
                  id={id}
                  className="input"
                  autoComplete="name"
                  required
                  maxLength={200}
                  value={name}
                  onChange={(event) => setName(event.target.value)}
                />
              )}
            </Field>
            <div className="button-row">
              <Button
                type="submit"
                variant="primary"
                busy={busy}
                disabled={name.trim() === "" || name.trim() === props.name}
              >
                Save name
              </Button>
            </div>
            {saved ? <Notice tone="success">Your name is saved.</Notice> : null}
          </>
        )}
      </AsyncForm>
    </Card>
  );
}

/**
 * The address the account signs in with. A new one is confirmed from its own inbox first: the
 * form mails it a link (`POST /v1/me/email`), and only following that link, signed in here
 * (`/account/email`), makes the change; the old address is then told.
 */
function EmailCard(props: { readonly email: string }): React.JSX.Element {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [sentTo, setSentTo] = useState<string>();
  return (
    <Card title="Email" description="You sign in with this address, and mail to you goes there.">
      <p>
        Your email is <strong data-testid="current-email">{props.email}</strong>.
      </p>
      {sentTo === undefined ? (
        <AsyncForm
          label="Change your email"
          words={{ INVALID_CREDENTIALS: "The current password is wrong." }}
          onSubmit={async () => {
            await api("POST", "/v1/me/email", {
              email,
              ...(password === "" ? {} : { currentPassword: password }),
            });
            setSentTo(email.trim());
            setEmail("");
            setPassword("");
          }}
        >
          {(busy) => (
            <>
              <Field label="New email" name="email">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    type="email"
                    autoComplete="email"
                    required
                    maxLength={254}
                    value={email}
                    onChange={(event) => setEmail(event.target.value)}
                  />
                )}
              </Field>
              <Field
                label="Your password"
                name="password"
                hint="To confirm it is you. Without a password on your account, sign in again first."
              >
                {(id, hint) => (
                  <PasswordInput
                    id={id}
                    purpose="current"
                    describedBy={hint}
                    required={false}
                    value={password}
                    onChange={setPassword}
                  />
                )}
              </Field>
              <div className="button-row">
                <Button
                  type="submit"
                  variant="primary"
                  busy={busy}
                  disabled={
                    email.trim() === "" || email.trim().toLowerCase() === props.email.toLowerCase()
                  }
                >
                  Send confirmation link
                </Button>
              </div>
            </>
          )}
        </AsyncForm>
      ) : (
        <>
          <Notice tone="success">
            <span data-testid="email-sent">
              Check the inbox of {sentTo}: open the link we sent there within an hour, signed in
              here, to confirm it. Until then you keep signing in with {props.email}.
            </span>
          </Notice>
          <p className="muted small">
            No mail? Check the spam folder. If the address already has an account, it gets a notice
            instead of a link.
          </p>
          <div className="button-row">
            <Button onClick={() => setSentTo(undefined)}>Use another address</Button>
          </div>
        </>
      )}
    </Card>
  );
}

/**
 * `/account/email#<token>`: the link mailed to a new address. It works signed in as the account
 * that asked; signed out, the token waits in this tab while the person signs in.
 */
export function EmailConfirmPage(): React.JSX.Element {
  const { me, reload, error: sessionError } = useSession();
  const { hash } = useLocation();
  const [token] = useState(() => hash || (sessionStorage.getItem(PENDING_TOKEN) ?? ""));
  const [state, setState] = useState<"working" | "done" | "failed">("working");
  const [error, setError] = useState<unknown>(undefined);
  const [email, setEmail] = useState("");
  const started = useRef(false);

  useEffect(() => {
    // The token must not stay in the address bar or the history.
    if (hash !== "") window.history.replaceState(null, "", "/account/email");
    if (started.current) return;
    if (me === undefined) {
      // The session could not be read (the server is away): say so rather than wait forever.
      if (sessionError !== undefined) {
        setError(sessionError);
        setState("failed");
      }
      return;
    }
    if (me === null) {
      if (token !== "") sessionStorage.setItem(PENDING_TOKEN, token);
      navigate(`/sign-in?next=${encodeURIComponent("/account/email")}`, { replace: true });
      return;
    }
    started.current = true;
    sessionStorage.removeItem(PENDING_TOKEN);
    if (token === "") {
      setState("failed");
      return;
    }
    void (async () => {
      try {
        const answer = await api<{ user: { email: string } }>("POST", "/v1/me/email/confirm", {
          token,
        });
        setEmail(answer.user.email);
        setState("done");
        await reload();
      } catch (caught) {
        setError(caught);
        setState("failed");
      }
    })();
  });

  return (
    <AuthLayout title={state === "done" ? "Your email is changed" : "Confirming your new email"}>
      {state === "working" ? <Loading label="Checking your link…" /> : null}
      {state === "done" ? (
        <>
          <Notice tone="success">
            <span data-testid="email-changed">
              Your email is now {email}. Sign in with it from now on.
            </span>
          </Notice>
          <p>
            <Link className="button button-primary" to="/account">
              Go to your account
            </Link>
          </p>
        </>
      ) : null}
      {state === "failed" ? (
        <>
          <ErrorNote error={error ?? new Error("This confirmation link is incomplete.")} />
          <p>
            <Link to="/account">Ask for a new link on your account page</Link>
          </p>
        </>
      ) : null}
    </AuthLayout>
  );
}

/** Where a confirmation link's token waits while its follower signs in (this tab only). */
const PENDING_TOKEN = "gatehouse.email-change";

/** A new password, given the current one; every other session ends with it. */
function PasswordCard(props: { readonly onChanged: () => void }): React.JSX.Element {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [ended, setEnded] = useState<number>();
  return (
    <Card title="Password" description="Changing it signs you out everywhere else.">
      <AsyncForm
        label="Change your password"
        words={{ INVALID_CREDENTIALS: "The current password is wrong." }}
        onSubmit={async () => {
          setEnded(undefined);
          const answer = await api<{ sessionsEnded: number }>("PUT", "/v1/me/password", {
            currentPassword: current,
            newPassword: next,
          });
          setCurrent("");
          setNext("");
          setEnded(answer.sessionsEnded);
          props.onChanged();
        }}
      >
        {(busy) => (
          <>
            <Field label="Current password">
              {(id) => (
                <PasswordInput id={id} purpose="current" value={current} onChange={setCurrent} />
              )}
            </Field>
            <Field label="New password" hint="At least 10 characters, not a common one.">
              {(id, hint) => (
                <PasswordInput
                  id={id}
                  purpose="new"
                  describedBy={hint}
                  minLength={10}
                  value={next}
                  onChange={setNext}
                />
              )}
            </Field>
            <div className="button-row">
              <Button
                type="submit"
                variant="primary"
                busy={busy}
                disabled={current === "" || next === ""}
              >
                Change password
              </Button>
            </div>
            {ended === undefined ? null : (
              <Notice tone="success">
                Your password is changed; {countOf(ended, "other session")} ended.
              </Notice>
            )}
          </>
        )}
      </AsyncForm>
    </Card>
  );
}

/**
 * Recovery codes: each signs in once in place of a code from the app, for the day the phone is lost.
 * They are shown once, when made; making new ones ends the old ones, so that is confirmed first.
 */
function RecoveryCodes(props: {
  readonly left: number;
  readonly onMade: () => Promise<void>;
  /** Right after enrolment: make the first codes without asking, and show them. */
  readonly makeAtOnce?: boolean;
}): React.JSX.Element {
  const [codes, setCodes] = useState<readonly string[]>();
  const [confirming, setConfirming] = useState(false);
  const make = useAction();
  const started = useRef(false);
  const run = () =>
    make.run(async () => {
      const made = await api<{ codes: string[] }>("POST", "/v1/auth/totp/recovery-codes");
      setCodes(made.codes);
      await props.onMade();
    });
  // biome-ignore lint/correctness/useExhaustiveDependencies: made once, on the first render that may
  useEffect(() => {
    if (!props.makeAtOnce || props.left > 0 || started.current) return;
    started.current = true;
    void run();
  }, [props.makeAtOnce, props.left]);
  return (
    <div className="stack" data-testid="recovery-codes">
      {codes === undefined ? (
        <p>
          {props.left === 0
            ? "You have no recovery codes. Make some, in case you lose the phone with your app."
            : `${props.left} recovery ${props.left === 1 ? "code" : "codes"} left.`}
        </p>
      ) : (
        <SecretBox label="Your recovery codes" value={codes.join("\n")}>
          Store them somewhere safe now: they are not shown again. Each signs you in once in place
          of a code from the app.
        </SecretBox>
      )}
      <div>
        <Button
          busy={make.busy}
          onClick={() => (props.left > 0 || codes !== undefined ? setConfirming(true) : run())}
        >
          {props.left > 0 || codes !== undefined
            ? "Make new recovery codes"
            : "Make recovery codes"}
        </Button>
      </div>
      <ErrorNote error={make.error} />
      <ConfirmDialog
        open={confirming}
        title="Make new recovery codes?"
        confirmLabel="Make new codes"
        onConfirm={async () => {
          await run();
        }}
        onClose={() => setConfirming(false)}
      >
        <p>The recovery codes you have now stop working.</p>
      </ConfirmDialog>
    </div>
  );
}
