import { Fragment } from "react";
import type { OutboxMail } from "../api.ts";
import { Link } from "../router.tsx";
import { Card, Empty, ErrorNote, Loading, PageHeader, Time } from "../ui.tsx";
import { useApi } from "../use-api.ts";

/** Links of this console inside a mail become in-app links; the rest stays text. */
function MailText(props: { readonly text: string }): React.JSX.Element {
  const parts = props.text.split(/(https?:\/\/\S+)/g);
  return (
    <pre className="mail-text">
      {parts.map((part, index) => {
        const key = `${index}-${part.slice(0, 12)}`;
        if (!/^https?:\/\//.test(part)) return <Fragment key={key}>{part}</Fragment>;
        const url = new URL(part);
        return url.origin === window.location.origin ? (
          <Link key={key} to={url.pathname + url.search + url.hash}>
            {part}
          </Link>
        ) : (
          <a key={key} href={part}>
            {part}
          </a>
        );
      })}
    </pre>
  );
}

/**
 * The development outbox: mail the server kept instead of sending (no SMTP configured, development
 * mode), so invitations and sign-in links can be followed locally. Reachable from this machine only.
 */
export function OutboxPage(): React.JSX.Element {
  const outbox = useApi<{ mails: OutboxMail[] }>("/v1/dev/outbox");
  return (
    <main className="plain-main" id="main">
      <PageHeader
        title="Development outbox"
        description="Mail kept instead of sent: no SMTP server is configured. Only this machine can read it."
        actions={<Link to="/">Back to the console</Link>}
      />
      {outbox.loading && outbox.data === undefined ? <Loading /> : null}
      {outbox.error === undefined ? null : (
        <Empty title="No outbox here">
          <p>
            The outbox exists in development only: without SMTP_URL, with DEMO on, on this machine.
          </p>
          <ErrorNote error={outbox.error} />
        </Empty>
      )}
      {outbox.data?.mails.length === 0 ? <Empty title="No mail yet" /> : null}
      <div className="stack">
        {outbox.data?.mails.map((mail) => (
          <Card key={`${mail.at}-${mail.to}-${mail.subject}`} title={mail.subject}>
            <p className="muted">
              To {mail.to} · <Time value={mail.at} />
            </p>
            <MailText text={mail.text} />
          </Card>
        ))}
      </div>
    </main>
  );
}
