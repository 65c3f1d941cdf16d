import nodemailer from "nodemailer";

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

export interface SentMail extends Mail {
  readonly at: number;
}

/** Sends invitations and sign-in links. */
export interface Mailer {
  send(mail: Mail): Promise<void>;
  /** Development outbox (no SMTP_URL): the mail that would have been sent, newest last. */
  readonly outbox: readonly SentMail[] | undefined;
}

const OUTBOX_LIMIT = 200;

/**
 * SMTP through nodemailer when `smtpUrl` is set; otherwise a development outbox that also logs
 * each mail, so links can be copied from the console or the log.
 * @example
 * const mailer = createMailer({ smtpUrl: process.env.SMTP_URL, from: "Gatehouse <noreply@example.com>", log: console.info });
 */
export function createMailer(options: {
  smtpUrl: string | undefined;
  from: string;
  log: (message: string) => void;
}): Mailer {
  if (options.smtpUrl !== undefined) {
    const transport = nodemailer.createTransport(options.smtpUrl);
    return {
      outbox: undefined,
      async send(mail) {
        await transport.sendMail({
          from: options.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
        });
      },
    };
  }
  const outbox: SentMail[] = [];
  return {
    outbox,
    async send(mail) {
      outbox.push({ ...mail, at: Date.now() });
      if (outbox.length > OUTBOX_LIMIT) outbox.shift();
      options.log(
        `mail to ${mail.to} (no SMTP_URL set, kept in the outbox): ${mail.subject}\n${mail.text}`,
      );
    },
  };
}
