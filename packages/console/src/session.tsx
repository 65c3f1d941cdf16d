import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
} from "react";
import {
  type Access,
  api,
  isApiError,
  type Me,
  type ModelDefinition,
  onSessionEnded,
  type Workspace,
} from "./api.ts";
import { navigate } from "./router.tsx";

/**
 * Sign-in, then back to `next`: the page the session ended on (#16). The sign-in page only
 * follows a path of this console (see `sameOriginPath`).
 */
export function signInPath(next: string, ended = false): string {
  return `/sign-in?next=${encodeURIComponent(next)}${ended ? "&ended=1" : ""}`;
}

/**
 * `next` when it is a path of this console, else "/": never another origin (`//evil`, `/\evil`,
 * `https:`), so a crafted sign-in link cannot send people elsewhere.
 * @example
 * sameOriginPath("/w/ws_1/team?tab=invites"); // "/w/ws_1/team?tab=invites"
 */
export function sameOriginPath(next: string | null): string {
  if (next === null || !next.startsWith("/") || next.startsWith("//") || next.includes("\\"))
    return "/";
  try {
    const url = new URL(next, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}

/** Who is signed in (null when nobody), loaded once and reloaded after sign-in and changes. */
interface SessionValue {
  readonly me: Me | null | undefined;
  readonly error: unknown;
  reload(): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function SessionProvider(props: { readonly children: ReactNode }): React.JSX.Element {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const signedIn = useRef(false);
  signedIn.current = me !== null && me !== undefined;
  // A session that ends while the console is open (expired, ended elsewhere, 2FA now required)
  // returns to sign-in, which comes back to this page afterwards.
  useEffect(() => {
    onSessionEnded(() => {
      if (!signedIn.current) return;
      signedIn.current = false;
      setMe(null);
      const here = window.location.pathname + window.location.search + window.location.hash;
      if (window.location.pathname !== "/sign-in") navigate(signInPath(here, true));
    });
    return () => onSessionEnded(undefined);
  }, []);
  const reload = useCallback(async () => {
    try {
      setMe(await api<Me>("GET", "/v1/me"));
      setError(undefined);
    } catch (caught) {
      if (isApiError(caught) && caught.status === 401) setMe(null);
      else setError(caught);
    }
  }, []);
  const signOut = useCallback(async () => {
    try {
      await api("POST", "/v1/auth/logout");
    } finally {
      setMe(null);
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);
  return (
    <SessionContext.Provider value={{ me, error, reload, signOut }}>
      {props.children}
    </SessionContext.Provider>
  );
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (value === undefined) throw new Error("useSession outside SessionProvider");
  return value;
}

/** A previewed member ("view as"), kept for the tab so that a reload stays in the preview. */
export interface Preview {
  readonly workspaceId: string;
  readonly userId: string;
  readonly name: string;
}

const PREVIEW_KEY = "gatehouse.preview";

export function loadPreview(): Preview | undefined {
  try {
    const stored = window.sessionStorage.getItem(PREVIEW_KEY);
    return stored === null ? undefined : (JSON.parse(stored) as Preview);
  } catch {
    return undefined;
  }
}

export function storePreview(preview: Preview | undefined): void {
  if (preview === undefined) window.sessionStorage.removeItem(PREVIEW_KEY);
  else window.sessionStorage.setItem(PREVIEW_KEY, JSON.stringify(preview));
}

/** The open workspace as the caller (or the previewed member) sees it. */
export interface WorkspaceValue {
  readonly workspace: Workspace;
  readonly model: ModelDefinition;
  readonly access: Access;
  /** The caller sees resources right under the workspace: they get the fleet list. */
  readonly fleet: boolean;
  /** Set while previewing as a member: everything is read-only. */
  readonly preview: Preview | undefined;
  /** True when the console may offer writes (never in a preview). */
  readonly canWrite: boolean;
  reload(): void;
}

export const WorkspaceContext = createContext<WorkspaceValue | undefined>(undefined);

export function useWorkspace(): WorkspaceValue {
  const value = useContext(WorkspaceContext);
  if (value === undefined) throw new Error("useWorkspace outside a workspace");
  return value;
}
