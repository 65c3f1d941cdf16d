import {
  type ButtonHTMLAttributes,
  cloneElement,
  createContext,
  type FormEvent,
  isValidElement,
  type KeyboardEvent,
  type ReactNode,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
} from "react";
import { fieldMessage, isAboutFields, wordsFor } from "./error-words.ts";

/** Building blocks with one look: cards, fields, buttons, states for loading, empty and error. */

const FLASH_KEY = "gatehouse.flash";

/**
 * A message for the next page, after a change that leaves this one (closing a workspace): shown
 * once under that page's header (#16).
 * @example
 * flash("Acme is closed."); navigate("/");
 */
export function flash(text: string): void {
  try {
    window.sessionStorage.setItem(FLASH_KEY, text);
  } catch {
    // Without storage the next page simply has no message.
  }
}

function FlashMessage(): React.JSX.Element | null {
  const [text, setText] = useState<string | null>(() => {
    try {
      return window.sessionStorage.getItem(FLASH_KEY);
    } catch {
      return null;
    }
  });
  useEffect(() => {
    if (text !== null) window.sessionStorage.removeItem(FLASH_KEY);
  }, [text]);
  if (text === null) return null;
  return (
    <div className="note note-success access-ack" role="status">
      <span>{text}</span>
      <Button size="small" variant="ghost" onClick={() => setText(null)}>
        Dismiss
      </Button>
    </div>
  );
}

export function PageHeader(props: {
  readonly title: string;
  readonly description?: ReactNode;
  readonly actions?: ReactNode;
}): React.JSX.Element {
  return (
    <>
      <FlashMessage />
      <header className="page-header">
        <div>
          <h1>{props.title}</h1>
          {props.description === undefined ? null : (
            <p className="page-description">{props.description}</p>
          )}
        </div>
        {props.actions === undefined ? null : <div className="page-actions">{props.actions}</div>}
      </header>
    </>
  );
}

export function Card(props: {
  readonly title?: string;
  readonly description?: ReactNode;
  readonly actions?: ReactNode;
  readonly children: ReactNode;
  readonly tone?: "danger";
  readonly labelledBy?: string;
}): React.JSX.Element {
  const id = useId();
  return (
    <section
      className={props.tone === "danger" ? "card card-danger" : "card"}
      aria-labelledby={props.title === undefined ? undefined : id}
    >
      {props.title === undefined ? null : (
        <div className="card-header">
          <div>
            <h2 id={id}>{props.title}</h2>
            {props.description === undefined ? null : (
              <p className="card-description">{props.description}</p>
            )}
          </div>
          {props.actions === undefined ? null : <div className="card-actions">{props.actions}</div>}
        </div>
      )}
      <div className="card-body">{props.children}</div>
    </section>
  );
}

export function Button(
  props: ButtonHTMLAttributes<HTMLButtonElement> & {
    readonly variant?: "primary" | "secondary" | "danger" | "ghost";
    readonly busy?: boolean;
    readonly size?: "small";
  },
): React.JSX.Element {
  const { variant = "secondary", busy = false, size, className, children, ...rest } = props;
  const classes = ["button", `button-${variant}`, size === "small" ? "button-small" : "", className]
    .filter(Boolean)
    .join(" ");
  return (
    <button
      type="button"
      className={classes}
      aria-busy={busy || undefined}
      {...rest}
      disabled={rest.disabled || busy}
    >
      {busy ? <span className="spinner spinner-inline" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/** The error of the enclosing form, and the API field names its fields show errors for. */
const FormContext = createContext<{ readonly error: unknown; readonly fields: Set<string> }>({
  error: undefined,
  fields: new Set(),
});

/**
 * A password box: the one the account has (`current`), or a new one (`new`, which password
 * managers offer to generate and save). Required; `minLength` where the form checks it early.
 */
export function PasswordInput(props: {
  readonly id: string;
  readonly purpose: "current" | "new";
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly describedBy?: string | undefined;
  readonly minLength?: number;
  /** Whether the form needs it (by default); an account may have no password to confirm with. */
  readonly required?: boolean;
}): React.JSX.Element {
  return (
    <input
      id={props.id}
      aria-describedby={props.describedBy}
      className="input"
      type="password"
      autoComplete={`${props.purpose}-password`}
      required={props.required ?? true}
      minLength={props.minLength}
      value={props.value}
      onChange={(event) => props.onChange(event.target.value)}
    />
  );
}

/**
 * A labelled field. With `name` (the API's name of the value, e.g. `email`), the enclosing
 * form's error about it is shown under it in words, tied to the control by aria-describedby.
 */
export function Field(props: {
  readonly label: string;
  readonly hint?: ReactNode;
  readonly name?: string;
  /** An error to show for `name`, when it does not come from the enclosing AsyncForm. */
  readonly error?: unknown;
  readonly children: (id: string, describedBy: string | undefined) => ReactNode;
}): React.JSX.Element {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const form = useContext(FormContext);
  const { name } = props;
  useEffect(() => {
    if (name === undefined) return;
    form.fields.add(name);
    return () => {
      form.fields.delete(name);
    };
  }, [form.fields, name]);
  const message = name === undefined ? undefined : fieldMessage(props.error ?? form.error, name);
  const describedBy =
    [props.hint === undefined ? "" : hintId, message === undefined ? "" : errorId]
      .filter(Boolean)
      .join(" ") || undefined;
  const control = props.children(id, props.hint === undefined ? undefined : hintId);
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {isValidElement<Record<string, unknown>>(control) && message !== undefined
        ? cloneElement(control, { "aria-describedby": describedBy, "aria-invalid": true })
        : control}
      {props.hint === undefined ? null : (
        <p className="field-hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {message === undefined ? null : (
        <p className="field-error" id={errorId} role="alert">
          {message}
        </p>
      )}
    </div>
  );
}

export function Loading(props: { readonly label?: string }): React.JSX.Element {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{props.label ?? "Loading…"}</span>
    </div>
  );
}

export function Empty(props: {
  readonly title: string;
  readonly children?: ReactNode;
  /** The whole page is this state (not found): its title is the page's heading. */
  readonly page?: boolean;
}): React.JSX.Element {
  return (
    <div className="state state-empty">
      {props.page ? (
        <h1 className="state-title">{props.title}</h1>
      ) : (
        <p className="state-title">{props.title}</p>
      )}
      {props.children === undefined ? null : <div className="state-text">{props.children}</div>}
    </div>
  );
}

export function ErrorNote(props: {
  readonly error: unknown;
  readonly retry?: () => void;
  /** Words for some codes where the page knows better than the general ones. */
  readonly words?: Readonly<Record<string, string>> | undefined;
  readonly children?: ReactNode;
}): React.JSX.Element | null {
  if (props.error === undefined || props.error === null) return null;
  return (
    <div className="note note-error" role="alert">
      <span>
        {wordsFor(props.error, props.words)}
        {props.children}
      </span>
      {props.retry === undefined ? null : (
        <Button size="small" variant="ghost" onClick={props.retry}>
          Try again
        </Button>
      )}
    </div>
  );
}

export function Notice(props: {
  readonly tone?: "success" | "info" | "warning";
  readonly children: ReactNode;
}): React.JSX.Element {
  return (
    <div className={`note note-${props.tone ?? "info"}`} role="status">
      {props.children}
    </div>
  );
}

export function Badge(props: {
  readonly tone?: "neutral" | "success" | "danger" | "warning" | "accent";
  readonly children: ReactNode;
  readonly title?: string;
}): React.JSX.Element {
  return (
    <span className={`badge badge-${props.tone ?? "neutral"}`} title={props.title}>
      {props.children}
    </span>
  );
}

/**
 * A form whose submit handler is async: shows its own busy state and error where it happens — next
 * to the field it is about (see Field's `name`), else under the form. The browser checks required
 * fields, email types and lengths before anything is sent.
 */
export function AsyncForm(props: {
  readonly onSubmit: () => Promise<void>;
  readonly children: (busy: boolean) => ReactNode;
  readonly className?: string;
  readonly label?: string;
  /** Words for some codes where the page knows better than the general ones. */
  readonly words?: Readonly<Record<string, string>>;
  /** Called with each refusal, e.g. to clear an earlier success message. */
  readonly onError?: (error: unknown) => void;
}): React.JSX.Element {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [fields] = useState(() => new Set<string>());
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onSubmit();
    } catch (caught) {
      setError(caught);
      props.onError?.(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className={props.className ?? "form"} onSubmit={submit} aria-label={props.label}>
      <FormContext.Provider value={{ error, fields }}>{props.children(busy)}</FormContext.Provider>
      {isAboutFields(error, [...fields]) ? null : <ErrorNote error={error} words={props.words} />}
    </form>
  );
}

/** Runs an action with busy and error state, for buttons outside forms. */
export function useAction(): {
  readonly busy: boolean;
  readonly error: unknown;
  run(action: () => Promise<void>): Promise<void>;
  clear(): void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  return {
    busy,
    error,
    clear: () => setError(undefined),
    async run(action) {
      setBusy(true);
      setError(undefined);
      try {
        await action();
      } catch (caught) {
        setError(caught);
      } finally {
        setBusy(false);
      }
    },
  };
}

/**
 * Keeps Tab inside a modal dialog: Chromium's showModal() makes the page inert but lets Tab leave
 * the last control for the browser's own interface, so the dialog wraps from its last control to its
 * first (and back with Shift+Tab).
 */
function keepFocusInside(event: KeyboardEvent<HTMLDialogElement>): void {
  if (event.key !== "Tab") return;
  const controls = [
    ...event.currentTarget.querySelectorAll<HTMLElement>(
      "a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex='-1'])",
    ),
  ].filter((control) => control.checkVisibility());
  const first = controls[0];
  const last = controls.at(-1);
  if (first === undefined || last === undefined) return;
  const active = document.activeElement;
  if (event.shiftKey && (active === first || active === event.currentTarget)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && active === last) {
    event.preventDefault();
    first.focus();
  }
}

/**
 * A modal confirmation on the native <dialog>: focus is trapped, Escape cancels, and closing gives
 * focus back to the control that opened it.
 */
export function ConfirmDialog(props: {
  readonly open: boolean;
  readonly title: string;
  readonly children: ReactNode;
  readonly confirmLabel: string;
  readonly tone?: "danger";
  readonly onConfirm: () => Promise<void>;
  readonly onClose: () => void;
}): React.JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const action = useAction();
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) {
      opener.current =
        document.activeElement instanceof HTMLElement ? document.activeElement : null;
      dialog.showModal();
    }
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onKeyDown={keepFocusInside}
      onClose={() => {
        action.clear();
        props.onClose();
        // Back to the control that opened it, if it is still there (a removed row's is not).
        if (opener.current?.isConnected) opener.current.focus();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div className="dialog-body">{props.children}</div>
      <ErrorNote error={action.error} />
      <div className="dialog-actions">
        <Button onClick={() => ref.current?.close()}>Cancel</Button>
        <Button
          variant={props.tone === "danger" ? "danger" : "primary"}
          busy={action.busy}
          onClick={() =>
            action.run(async () => {
              await props.onConfirm();
              ref.current?.close();
            })
          }
        >
          {props.confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}

export function CopyButton(props: {
  readonly text: string;
  readonly label?: string;
}): React.JSX.Element {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
    } catch {
      // Without clipboard access (plain HTTP on another host), the text stays selectable on screen.
    }
    setCopied(true);
    window.setTimeout(() => setCopied(false), 2000);
  };
  return (
    <Button size="small" onClick={copy} aria-live="polite">
      {copied ? "Copied" : (props.label ?? "Copy")}
    </Button>
  );
}

/** A secret or link shown once, selectable, with a copy button. */
export function SecretBox(props: {
  readonly label: string;
  readonly value: string;
  readonly children?: ReactNode;
}): React.JSX.Element {
  return (
    <div className="secret">
      <div className="secret-label">{props.label}</div>
      <div className="secret-row">
        <code className="secret-value" data-testid="secret-value">
          {props.value}
        </code>
        <CopyButton text={props.value} />
      </div>
      {props.children === undefined ? null : <div className="secret-hint">{props.children}</div>}
    </div>
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDate(value: number | string): string {
  return dateFormat.format(new Date(value));
}

export function formatTime(value: number | string): string {
  return timeFormat.format(new Date(value));
}

export function Time(props: { readonly value: number | string }): React.JSX.Element {
  const date = new Date(props.value);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {formatTime(props.value)}
    </time>
  );
}
