import QRCode from "qrcode";
import { type ReactNode, useEffect, useRef, useState } from "react";
import { api, isApiError, type SignInMethods } from "../api.ts";
import { Link, navigate, useLocation } from "../router.tsx";
import { sameOriginPath, useSession } from "../session.tsx";
import { AsyncForm, Button, ErrorNote, Field, Loading, Notice, PasswordInput } from "../ui.tsx";

/** Where to go after signing in: `?next=` when it is a path of this console. */
function nextOf(search: URLSearchParams): string {
  return sameOriginPath(search.get("next"));
}

export function AuthLayout(props: {
  readonly title: string;
  readonly children: ReactNode;
  readonly footer?: ReactNode;
}): React.JSX.Element {
  return (
    <main className="auth" id="main">
      <div className="auth-card">
        <div className="auth-brand">
          <img src="/favicon.svg" alt="" width="36" height="36" />
          <span>Gatehouse</span>
        </div>
        <h1>{props.title}</h1>
        {props.children}
      </div>
      {props.footer === undefined ? null : <div className="auth-footer">{props.footer}</div>}
    </main>
  );
}

/** The QR code and secret of a TOTP enrolment, for an authenticator app. */
export function TotpSetup(props: {
  readonly secret: string;
  readonly otpauthUri: string;
}): React.JSX.Element {
  const [svg, setSvg] = useState<string | undefined>(undefined);
  useEffect(() => {
    QRCode.toString(props.otpauthUri, { type: "svg", margin: 1, width: 180 }).then(
      (text) => setSvg(`data:image/svg+xml;base64,${btoa(text)}`),
      () => setSvg(undefined),
    );
  }, [props.otpauthUri]);
  return (
    <div className="totp-setup">
      {svg === undefined ? null : (
        <img src={svg} alt="QR code for your authenticator app" width="180" height="180" />
      )}
      <div>
        <p>Scan the code with an authenticator app, or type this key into it:</p>
        <code className="totp-secret" data-testid="totp-secret">
          {props.secret}
        </code>
      </div>
    </div>
  );
}

function CodeField(props: {
  readonly value: string;
  readonly onChange: (value: string) => void;
}): React.JSX.Element {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <Field
      label="Authentication code"
      name="code"
      hint="The 6-digit code from your authenticator app, or one of your recovery codes."
    >
      {(id, hint) => (
        <input
          ref={ref}
          id={id}
          aria-describedby={hint}
          className="input input-code"
          autoComplete="one-time-code"
          autoCapitalize="none"
          spellCheck={false}
          pattern="[0-9]{6}|[A-Za-z2-7 \-]{26,60}"
          maxLength={60}
          required
          value={props.value}
          onChange={(event) => props.onChange(event.target.value.replace(/\s+/g, ""))}
        />
      )}
    </Field>
  );
}

/** Why an OpenID Connect sign-in came back to this page (`?oidc=`), in words for the person. */
const OIDC_REFUSALS: Readonly<Record<string, string>> = {
  "unknown-user":
    "Your account there is not set up for this console. Ask the panel's provider to give you access.",
  failed: "The sign-in did not complete. Please try again.",
  unavailable: "The sign-in service cannot be reached right now. Please try again shortly.",
};

/** "Sign in with <provider>" where the server has OpenID Connect configured, and why it failed. */
function OidcSignIn(props: {
  readonly refusal: string | null;
  /** The page to open after signing in (the provider's round trip keeps it). */
  readonly next: string;
}): React.JSX.Element | null {
  const [methods, setMethods] = useState<SignInMethods | undefined>(undefined);
  useEffect(() => {
    api<SignInMethods>("GET", "/v1/auth/methods").then(setMethods, () => setMethods(undefined));
  }, []);
  const oidc = methods?.oidc ?? null;
  const refusal = props.refusal === null ? undefined : OIDC_REFUSALS[props.refusal];
  if (oidc === null) return null;
  return (
    <div className="oidc-sign-in">
      {refusal === undefined ? null : (
        <div className="note note-warning" role="alert">
          Signing in with {oidc.name} failed. {refusal}
        </div>
      )}
      <a
        className="button button-primary button-block"
        href={
          props.next === "/"
            ? oidc.startUrl
            : `${oidc.startUrl}?next=${encodeURIComponent(props.next)}`
        }
      >
        Sign in with {oidc.name}
      </a>
      <p className="muted oidc-or">or with your email</p>
    </div>
  );
}

/** "Acme Hosting requires two-factor sign-in." — which workspaces ask for it (#16). */
export function requiredByWords(names: readonly string[]): string {
  if (names.length === 0) return "A workspace you belong to requires two-factor sign-in.";
  const quoted = names.map((name) => `“${name}”`);
  const list =
    quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} and ${quoted.at(-1)}`;
  return `${list} ${names.length === 1 ? "requires" : "require"} two-factor sign-in.`;
}

export function SignInPage(): React.JSX.Element {
  const { search } = useLocation();
  const { reload } = useSession();
  const [email, setEmail] = useState(search.get("email") ?? "");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [step, setStep] = useState<"password" | "code" | "enroll">("password");
  const [enrollment, setEnrollment] = useState<{
    secret: string;
    otpauthUri: string;
    requiredBy: string[];
  }>();
  const [magic, setMagic] = useState<"form" | "sent" | undefined>(undefined);

  const signIn = async () => {
    try {
      await api("POST", "/v1/auth/login", {
        email,
        password,
        ...(step === "password" ? {} : { totpCode: code }),
      });
    } catch (error) {
      if (isApiError(error, "TOTP_REQUIRED")) {
        setStep("code");
        return;
      }
      if (isApiError(error, "TOTP_ENROLLMENT_REQUIRED")) {
        setEnrollment(await api("POST", "/v1/auth/totp/enroll-with-password", { email, password }));
        setStep("enroll");
        return;
      }
      throw error;
    }
    await reload();
    // Just enrolled: the account page makes the recovery codes and shows them once, then goes on.
    if (step === "enroll")
      navigate(`/account?enrolled=1&next=${encodeURIComponent(nextOf(search))}`, {
        replace: true,
      });
    else navigate(nextOf(search), { replace: true });
  };

  if (magic !== undefined) {
    return (
      <AuthLayout
        title="Sign in with a link"
        footer={
          <Button variant="ghost" onClick={() => setMagic(undefined)}>
            Back to password sign-in
          </Button>
        }
      >
        {magic === "sent" ? (
          <Notice tone="success">
            If <strong>{email}</strong> has an account, a sign-in link is on its way. It works once,
            for 10 minutes.
          </Notice>
        ) : (
          <AsyncForm
            label="Email me a sign-in link"
            onSubmit={async () => {
              await api("POST", "/v1/auth/magic-link", { email });
              setMagic("sent");
            }}
          >
            {(busy) => (
              <>
                <Field label="Email" name="email">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      type="email"
                      autoComplete="email"
                      required
                      value={email}
                      onChange={(event) => setEmail(event.target.value)}
                    />
                  )}
                </Field>
                <Button type="submit" variant="primary" busy={busy} className="button-block">
                  Email me a link
                </Button>
              </>
            )}
          </AsyncForm>
        )}
      </AuthLayout>
    );
  }

  return (
    <AuthLayout
      title={step === "enroll" ? "Set up two-factor sign-in" : "Sign in"}
      footer={
        <>
          New here? <Link to="/sign-up">Create an account</Link>
        </>
      }
    >
      {step === "password" && search.get("ended") === "1" ? (
        <Notice tone="info">
          Your session has ended. Sign in again to go back to where you were.
        </Notice>
      ) : null}
      {step === "password" ? (
        <OidcSignIn refusal={search.get("oidc")} next={nextOf(search)} />
      ) : null}
      <AsyncForm label="Sign in" onSubmit={signIn}>
        {(busy) => (
          <>
            {step === "password" ? (
              <>
                <Field label="Email" name="email">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      type="email"
                      autoComplete="username"
                      required
                      value={email}
                      onChange={(event) => setEmail(event.target.value)}
                    />
                  )}
                </Field>
                <Field label="Password" name="password">
                  {(id) => (
                    <PasswordInput
                      id={id}
                      purpose="current"
                      value={password}
                      onChange={setPassword}
                    />
                  )}
                </Field>
              </>
            ) : null}
            {step === "enroll" && enrollment !== undefined ? (
              <>
                <Notice tone="warning">
                  <span data-testid="required-by">{requiredByWords(enrollment.requiredBy)}</span>{" "}
                  Add Gatehouse to your authenticator app, then enter its code.
                </Notice>
                <TotpSetup {...enrollment} />
              </>
            ) : null}
            {step === "code" ? (
              <p className="muted">Two-factor sign-in is on for {email}.</p>
            ) : null}
            {step === "password" ? null : <CodeField value={code} onChange={setCode} />}
            <Button type="submit" variant="primary" busy={busy} className="button-block">
              {step === "password" ? "Sign in" : "Verify and sign in"}
            </Button>
            {step === "password" ? (
              <Button variant="ghost" className="button-block" onClick={() => setMagic("form")}>
                Email me a sign-in link instead
              </Button>
            ) : null}
          </>
        )}
      </AsyncForm>
    </AuthLayout>
  );
}

export function SignUpPage(): React.JSX.Element {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  if (sent) {
    return (
      <AuthLayout
        title="Check your mail"
        footer={
          <>
            Already confirmed? <Link to="/sign-in">Sign in</Link>
          </>
        }
      >
        <Notice tone="success">
          We sent a link to <strong>{email}</strong>. Follow it to choose your password, create your
          account and sign in; it works once, for 24 hours.
        </Notice>
      </AuthLayout>
    );
  }
  return (
    <AuthLayout
      title="Create your account"
      footer={
        <>
          Already have an account? <Link to="/sign-in">Sign in</Link>
        </>
      }
    >
      <AsyncForm
        label="Create your account"
        onSubmit={async () => {
          // The same answer whether or not the address has an account: the mail tells. The
          // password is chosen on the mailed link's page, by whoever holds the mailbox.
          await api("POST", "/v1/auth/signup", { email, ...(name ? { name } : {}) });
          setSent(true);
        }}
      >
        {(busy) => (
          <>
            <Field label="Name" name="name">
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
            <Field label="Email" name="email">
              {(id) => (
                <input
                  id={id}
                  className="input"
                  type="email"
                  autoComplete="email"
                  required
                  value={email}
                  onChange={(event) => setEmail(event.target.value)}
                />
              )}
            </Field>
            <Button type="submit" variant="primary" busy={busy} className="button-block">
              Create account
            </Button>
          </>
        )}
      </AsyncForm>
    </AuthLayout>
  );
}

/**
 * `/sign-in/magic#<token>`: the link from the sign-in mail, or from the sign-up mail — which asks
 * its follower to choose the new account's password before creating it.
 */
export function MagicLinkPage(): React.JSX.Element {
  const { hash, search } = useLocation();
  const { reload } = useSession();
  const [token] = useState(hash);
  // Where the sign-in began (an OpenID Connect sign-in brings it back); read before the address changes.
  const [next] = useState(() => nextOf(search));
  const [state, setState] = useState<"working" | "code" | "password" | "failed">("working");
  const [error, setError] = useState<unknown>(undefined);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const started = useRef(false);

  /** Follows the link; `step` is what a form adds (a TOTP code, or a sign-up's password). */
  const consume = async (step?: { totpCode: string } | { password: string }) => {
    try {
      await api("POST", "/v1/auth/magic-link/consume", { token, ...step });
      // The token must not stay in the address bar or the history.
      window.history.replaceState(null, "", "/sign-in/magic");
      await reload();
      navigate(next, { replace: true });
    } catch (caught) {
      if (isApiError(caught, "TOTP_REQUIRED")) {
        setState("code");
        return;
      }
      if (isApiError(caught, "PASSWORD_REQUIRED")) {
        setState("password");
        return;
      }
      // A form's errors (a wrong code, a weak password) show on the form, in words.
      if (step !== undefined) throw caught;
      setError(caught);
      setState("failed");
    }
  };

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (token === "") {
      setState("failed");
      return;
    }
    void consume();
  });

  return (
    <AuthLayout title={state === "password" ? "Choose a password" : "Signing you in"}>
      {state === "working" ? <Loading label="Checking your sign-in link…" /> : null}
      {state === "failed" ? (
        <>
          <ErrorNote error={error ?? new Error("This sign-in link is incomplete.")} />
          <p>
            <Link to="/sign-in">Request a new link</Link>
          </p>
        </>
      ) : null}
      {state === "code" ? (
        <AsyncForm label="Two-factor code" onSubmit={() => consume({ totpCode: code })}>
          {(busy) => (
            <>
              <CodeField value={code} onChange={setCode} />
              <Button type="submit" variant="primary" busy={busy} className="button-block">
                Verify and sign in
              </Button>
            </>
          )}
        </AsyncForm>
      ) : null}
      {state === "password" ? (
        <AsyncForm label="Choose a password" onSubmit={() => consume({ password })}>
          {(busy) => (
            <>
              <p className="muted">
                Your address is confirmed. Choose the password for your account.
              </p>
              <Field
                label="Password"
                name="password"
                hint="At least 10 characters; a passphrase works well."
              >
                {(id, hint) => (
                  <PasswordInput
                    id={id}
                    purpose="new"
                    describedBy={hint}
                    minLength={10}
                    value={password}
                    onChange={setPassword}
                  />
                )}
              </Field>
              <Button type="submit" variant="primary" busy={busy} className="button-block">
                Create account
              </Button>
            </>
          )}
        </AsyncForm>
      ) : null}
    </AuthLayout>
  );
}
