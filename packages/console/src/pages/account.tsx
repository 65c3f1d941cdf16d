import { useEffect, useRef, useState } from "react";
import { api, type SessionInfo } from "../api.ts";
import { Link, useLocation } from "../router.tsx";
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
  SecretBox,
  Time,
  useAction,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { requiredByWords, TotpSetup } from "./sign-in.tsx";

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
        <Card title="Sessions" description="Where you are signed in. End any you do not recognise.">
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
                        <div className="truncate" title={session.agent ?? ""}>
                          {session.agent ?? "Unknown device"}
                        </div>
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
