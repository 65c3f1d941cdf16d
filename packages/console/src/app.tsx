import { type ReactNode, useEffect, useMemo, useState } from "react";
import {
  type Access,
  api,
  type ModelDefinition,
  setPreview,
  type Workspace,
  type WorkspaceModel,
  ws,
} from "./api.ts";
import {
  firstLevelTypes,
  resourcePath,
  roleLabel,
  rootTypeOf,
  scopeLabel,
  splitResource,
  typeLabel,
  viewPermissionOf,
  withWorkspaceRoles,
} from "./model.ts";
import { AcceptInvitationPage } from "./pages/accept-invitation.tsx";
import { AccessRequestsPage } from "./pages/access-requests.tsx";
import { AccountPage, EmailConfirmPage } from "./pages/account.tsx";
import { ActivityPage } from "./pages/activity.tsx";
import { ApiKeysPage } from "./pages/api-keys.tsx";
import { grantEnd } from "./pages/grant-editor.tsx";
import { JoinPage, NewWorkspacePage } from "./pages/join.tsx";
import { OutboxPage } from "./pages/outbox.tsx";
import { FleetPage, ResourcePage } from "./pages/resources.tsx";
import { RolesPage } from "./pages/roles.tsx";
import { SettingsPage } from "./pages/settings.tsx";
import { MagicLinkPage, SignInPage, SignUpPage } from "./pages/sign-in.tsx";
import { TeamPage } from "./pages/team.tsx";
import { Link, match, navigate, useLocation } from "./router.tsx";
import {
  loadPreview,
  storePreview,
  useSession,
  WorkspaceContext,
  type WorkspaceValue,
} from "./session.tsx";
import { Badge, Button, Empty, ErrorNote, Loading } from "./ui.tsx";
import { useApi } from "./use-api.ts";

export function App(): React.JSX.Element {
  const { path } = useLocation();
  const { me, error, reload } = useSession();
  if (path === "/sign-in") return <SignInPage />;
  if (path === "/sign-up") return <SignUpPage />;
  if (path === "/sign-in/magic") return <MagicLinkPage />;
  if (path === "/invitations/accept") return <AcceptInvitationPage />;
  if (path === "/dev/outbox") return <OutboxPage />;
  // Signed out, it keeps its token and sends the person to sign in first.
  if (path === "/account/email") return <EmailConfirmPage />;
  if (me === undefined) {
    return error === undefined ? (
      <Loading label="Loading your console…" />
    ) : (
      <div className="centered">
        <ErrorNote error={error} retry={() => void reload()} />
      </div>
    );
  }
  if (me === null) return <Redirect to={`/sign-in?next=${encodeURIComponent(path)}`} />;
  if (path === "/account")
    return (
      <PlainShell>
        <AccountPage />
      </PlainShell>
    );
  if (path === "/join")
    return (
      <PlainShell>
        <JoinPage />
      </PlainShell>
    );
  if (path === "/new-workspace")
    return (
      <PlainShell>
        <NewWorkspacePage />
      </PlainShell>
    );
  const workspace = /^\/w\/([^/]+)/.exec(path);
  if (workspace !== null) {
    const id = decodeURIComponent(workspace[1]!);
    // Entering or leaving "view as" starts the workspace afresh, as the member or as oneself.
    return <WorkspaceShell key={`${id} ${loadPreview()?.userId ?? ""}`} workspaceId={id} />;
  }
  if (path === "/") {
    // A shared workspace first: a personal one is often empty.
    const first = me.workspaces.find((workspace) => !workspace.personal) ?? me.workspaces[0];
    if (first !== undefined) return <Redirect to={`/w/${encodeURIComponent(first.id)}`} />;
    return (
      <PlainShell>
        <Empty title="You are not in a workspace yet">
          <p>
            Accept an invitation from the link in its mail, ask to join with a join key, or start
            one.
          </p>
          <div className="button-row">
            <Link className="button button-primary" to="/new-workspace">
              Create a workspace
            </Link>
            <Link className="button button-secondary" to="/join">
              Ask to join
            </Link>
          </div>
        </Empty>
      </PlainShell>
    );
  }
  return (
    <PlainShell>
      <NotFound />
    </PlainShell>
  );
}

function Redirect(props: { readonly to: string }): React.JSX.Element {
  useEffect(() => navigate(props.to, { replace: true }), [props.to]);
  return <Loading />;
}

export function NotFound(props: { readonly what?: string }): React.JSX.Element {
  return (
    <Empty title="Not found" page>
      <p>{props.what ?? "This page"} does not exist, or you do not have access to it.</p>
      <p>
        <Link to="/">Go to your console</Link>
      </p>
    </Empty>
  );
}

function Brand(): React.JSX.Element {
  return (
    <Link to="/" className="brand">
      <img src="/favicon.svg" alt="" width="28" height="28" />
      <span>Gatehouse</span>
    </Link>
  );
}

/** The signed-in person, and sign-out; `account: false` leaves out the account pages' link. */
function UserMenu(props: { readonly account?: boolean }): React.JSX.Element | null {
  const { me, signOut } = useSession();
  const outbox = useDevOutbox();
  if (me === null || me === undefined) return null;
  return (
    <div className="user-menu">
      {outbox ? (
        <Link to="/dev/outbox" className="topbar-link">
          Dev outbox
        </Link>
      ) : null}
      {props.account === false ? (
        <span className="topbar-person" title={me.user.email}>
          <span className="avatar" aria-hidden="true">
            {(me.user.name || me.user.email).slice(0, 1).toUpperCase()}
          </span>
          <span className="user-name">{me.user.name || me.user.email}</span>
        </span>
      ) : (
        <Link to="/account" className="topbar-link" title={me.user.email}>
          <span className="avatar" aria-hidden="true">
            {(me.user.name || me.user.email).slice(0, 1).toUpperCase()}
          </span>
          <span className="user-name">{me.user.name || me.user.email}</span>
        </Link>
      )}
      <Button
        size="small"
        variant="ghost"
        onClick={async () => {
          storePreview(undefined);
          await signOut();
          navigate("/sign-in");
        }}
      >
        Sign out
      </Button>
    </div>
  );
}

/** Whether the development outbox exists here (no SMTP, development mode, this machine). */
function useDevOutbox(): boolean {
  const [present, setPresent] = useState(false);
  useEffect(() => {
    api("GET", "/v1/dev/outbox").then(
      () => setPresent(true),
      () => setPresent(false),
    );
  }, []);
  return present;
}

/** Pages outside a workspace: account, join, new workspace. */
function PlainShell(props: { readonly children: ReactNode }): React.JSX.Element {
  return (
    <div className="plain-shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Brand />
        <UserMenu />
      </header>
      <main id="main" className="plain-main">
        {props.children}
      </main>
    </div>
  );
}

interface NavItem {
  readonly to: string;
  readonly label: string;
  readonly group?: string;
}

/**
 * The navigation, built from what the caller may use: sections they cannot use are absent,
 * never disabled. A member scoped below the first level (a site customer) gets only their
 * resources — no fleet and no workspace pages.
 */
function navigationOf(
  workspaceId: string,
  model: ModelDefinition,
  access: Access,
  fleet: boolean,
): NavItem[] {
  const base = `/w/${encodeURIComponent(workspaceId)}`;
  const root = rootTypeOf(model);
  const items: NavItem[] = [];
  const atRoot = access.grants.some((grant) => splitResource(grant.scope).type === root);
  // The member's own access to the whole workspace; "Resources" is the fleet (#16: they were one page).
  if (atRoot) items.push({ to: `${base}/access`, label: "Your access" });
  if (fleet) items.push({ to: `${base}/resources`, label: "Resources" });
  else {
    for (const grant of access.grants) {
      if (splitResource(grant.scope).type === root) continue;
      items.push({
        to: resourcePath(workspaceId, grant.scope),
        label: splitResource(grant.scope).id,
        group: `Your ${typeLabel(model, splitResource(grant.scope).type).toLowerCase()}s`,
      });
    }
  }
  const { workflows } = access;
  if (workflows.viewTeam) {
    items.push({ to: `${base}/team`, label: "Team" });
    items.push({ to: `${base}/roles`, label: "Roles" });
  }
  // Deciding and following access requests; an end customer kept to their own pages asks on them.
  if (workflows.managePeople || access.navigation === "full")
    items.push({ to: `${base}/access-requests`, label: "Access requests" });
  items.push({ to: `${base}/api-keys`, label: "API keys" });
  if (workflows.viewActivity) items.push({ to: `${base}/activity`, label: "Activity log" });
  if (workflows.changeSettings || workflows.ownerOnly)
    items.push({ to: `${base}/settings`, label: "Settings" });
  return items;
}

/** Where a member lands: the fleet, straight in their one resource, or their workspace access. */
function landingOf(
  workspaceId: string,
  model: ModelDefinition,
  access: Access,
  fleet: boolean,
): string {
  const base = `/w/${encodeURIComponent(workspaceId)}`;
  const root = rootTypeOf(model);
  if (fleet) return `${base}/resources`;
  const scoped = access.grants.find((grant) => splitResource(grant.scope).type !== root);
  if (
    scoped !== undefined &&
    !access.grants.some((grant) => splitResource(grant.scope).type === root)
  )
    return resourcePath(workspaceId, scoped.scope);
  return `${base}/access`;
}

function WorkspaceShell(props: { readonly workspaceId: string }): React.JSX.Element {
  const { workspaceId } = props;
  const { path } = useLocation();
  const stored = loadPreview();
  const preview = stored?.workspaceId === workspaceId ? stored : undefined;
  // The API client must know of the preview before the first request of this render.
  setPreview(preview === undefined ? undefined : { workspaceId, userId: preview.userId });
  const workspace = useApi<Workspace>(ws(workspaceId));
  const model = useApi<WorkspaceModel>(`${ws(workspaceId)}/model`);
  // The workspace's model: its preset's plus the roles it defined (docs/workspace-roles.md).
  const merged = useMemo(() => model.data && withWorkspaceRoles(model.data), [model.data]);
  const access = useApi<Access>(`${ws(workspaceId)}/access`);
  const fleet = useFleet(workspaceId, merged);
  const [menuOpen, setMenuOpen] = useState(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the phone menu closes on every navigation
  useEffect(() => setMenuOpen(false), [path]);

  const value = useMemo<WorkspaceValue | undefined>(() => {
    if (
      workspace.data === undefined ||
      merged === undefined ||
      access.data === undefined ||
      fleet === undefined
    )
      return undefined;
    return {
      workspace: workspace.data,
      model: merged,
      access: access.data,
      // Members at the workspace root see the fleet even while it is empty (its empty states).
      fleet:
        fleet ||
        (firstLevelTypes(merged).length > 0 &&
          access.data.grants.some(
            (grant) => splitResource(grant.scope).type === rootTypeOf(merged),
          )),
      preview,
      canWrite: preview === undefined && access.data.viewAs === null,
      reload: () => {
        workspace.reload();
        access.reload();
        model.reload();
      },
    };
  }, [workspace, model, merged, access, fleet, preview]);

  const failed = workspace.error ?? model.error ?? access.error;
  if (failed !== undefined) {
    return (
      <PlainShell>
        {preview !== undefined ? (
          <ErrorNote error={failed} retry={() => stopPreview(workspaceId)} />
        ) : (
          <NotFound what="This workspace" />
        )}
      </PlainShell>
    );
  }
  if (value === undefined) return <Loading label="Opening the workspace…" />;
  const items = navigationOf(workspaceId, value.model, value.access, value.fleet);
  // The model keeps some members (a hosting company's end customers) to this workspace's own pages.
  const fullNavigation = value.access.navigation === "full";
  const base = `/w/${encodeURIComponent(workspaceId)}`;
  const page = pageOf(path, base, value);
  return (
    <WorkspaceContext.Provider value={value}>
      <div className={menuOpen ? "shell menu-open" : "shell"}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <aside className="sidebar" aria-label="Workspace">
          <div className="sidebar-top">
            <Brand />
            <button
              type="button"
              className="menu-button"
              aria-expanded={menuOpen}
              aria-controls="workspace-nav"
              onClick={() => setMenuOpen((open) => !open)}
            >
              <span className="sr-only">Menu</span>
              <span className="menu-icon" aria-hidden="true" />
            </button>
          </div>
          <div id="workspace-nav" className="sidebar-panel">
            {preview === undefined && fullNavigation ? (
              <WorkspaceSwitcher current={value.workspace} />
            ) : null}
            <nav aria-label="Sections">
              <NavList items={items} path={path} />
            </nav>
            <div className="sidebar-footer">
              <div className="sidebar-role">
                {value.access.grants.map((grant) => (
                  <Badge
                    key={`${grant.subject} ${grant.scope}`}
                    tone={value.access.isOwner ? "accent" : "neutral"}
                  >
                    {roleLabel(value.model, grant.role)} · {scopeLabel(value.model, grant.scope)}
                    {grant.expiresAt === undefined ? "" : ` · ${grantEnd(grant, value.model)}`}
                  </Badge>
                ))}
              </div>
            </div>
          </div>
        </aside>
        <div className="shell-main">
          <header className="topbar topbar-workspace">
            <span className="topbar-workspace-name">{value.workspace.name}</span>
            <UserMenu account={fullNavigation} />
          </header>
          {preview !== undefined ? (
            <div className="preview-banner" role="status">
              <span>
                Viewing as <strong>{preview.name}</strong> — read-only preview of what they see.
              </span>
              <Button size="small" onClick={() => stopPreview(workspaceId)}>
                Stop viewing as {preview.name}
              </Button>
            </div>
          ) : null}
          <main id="main" className="content">
            {page ?? <NotFound />}
          </main>
        </div>
      </div>
    </WorkspaceContext.Provider>
  );
}

/**
 * Whether the caller gets the fleet list: the API lists them a resource of a type right under the
 * workspace (a server, customer, client, project). A site-scoped member gets none.
 */
function useFleet(workspaceId: string, model: ModelDefinition | undefined): boolean | undefined {
  const [fleet, setFleet] = useState<boolean | undefined>(undefined);
  useEffect(() => {
    if (model === undefined) return;
    let current = true;
    const lists = firstLevelTypes(model).flatMap((type) => {
      const permission = viewPermissionOf(model, type);
      if (permission === undefined) return [];
      const query = new URLSearchParams({ type, permission, limit: "1" });
      return [api<{ items: string[] }>("GET", `${ws(workspaceId)}/resources?${query}`)];
    });
    Promise.all(lists).then(
      (pages) => current && setFleet(pages.some((page) => page.items.length > 0)),
      () => current && setFleet(false),
    );
    return () => {
      current = false;
    };
  }, [workspaceId, model]);
  return fleet;
}

function stopPreview(workspaceId: string): void {
  storePreview(undefined);
  setPreview(undefined);
  window.location.assign(`/w/${encodeURIComponent(workspaceId)}/team`);
}

/** The page at `path`, or undefined (not found) — including pages the caller may not use. */
function pageOf(path: string, base: string, value: WorkspaceValue): ReactNode | undefined {
  const { workflows } = value.access;
  const rest = path.slice(base.length) || "/";
  if (rest === "/") {
    return <Redirect to={landingOf(value.workspace.id, value.model, value.access, value.fleet)} />;
  }
  if (rest === "/access")
    return value.access.grants.some(
      (grant) => splitResource(grant.scope).type === rootTypeOf(value.model),
    ) ? (
      <ResourcePage resource={`${rootTypeOf(value.model)}:${value.workspace.id}`} />
    ) : undefined;
  if (rest === "/resources") return value.fleet ? <FleetPage /> : undefined;
  const resource = match("/resources/:type/:id", rest);
  if (resource !== undefined)
    return <ResourcePage key={rest} resource={`${resource["type"]}:${resource["id"]}`} />;
  if (rest === "/team") return workflows.viewTeam ? <TeamPage /> : undefined;
  if (rest === "/roles") return workflows.viewTeam ? <RolesPage /> : undefined;
  if (rest === "/api-keys") return <ApiKeysPage />;
  if (rest === "/access-requests") return <AccessRequestsPage />;
  if (rest === "/activity") return workflows.viewActivity ? <ActivityPage /> : undefined;
  if (rest === "/settings")
    return workflows.changeSettings || workflows.ownerOnly ? <SettingsPage /> : undefined;
  return undefined;
}

function NavList(props: {
  readonly items: readonly NavItem[];
  readonly path: string;
}): React.JSX.Element {
  const groups: { group: string | undefined; items: NavItem[] }[] = [];
  for (const item of props.items) {
    const last = groups.at(-1);
    if (last !== undefined && last.group === item.group) last.items.push(item);
    else groups.push({ group: item.group, items: [item] });
  }
  return (
    <>
      {groups.map((group) => (
        <div className="nav-group" key={`${group.group ?? ""} ${group.items[0]?.to ?? ""}`}>
          {group.group === undefined ? null : <div className="nav-heading">{group.group}</div>}
          <ul className="nav-list">
            {group.items.map((item) => {
              const current = props.path === item.to || props.path.startsWith(`${item.to}/`);
              return (
                <li key={item.to}>
                  <Link
                    to={item.to}
                    className={current ? "nav-link nav-link-current" : "nav-link"}
                    aria-current={current ? "page" : undefined}
                  >
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </>
  );
}

function WorkspaceSwitcher(props: { readonly current: Workspace }): React.JSX.Element | null {
  const { me } = useSession();
  const workspaces = me?.workspaces ?? [];
  if (workspaces.length < 2) return null;
  return (
    <div className="switcher">
      <label htmlFor="workspace-switcher" className="switcher-label">
        Workspace
      </label>
      <select
        id="workspace-switcher"
        className="select"
        value={props.current.id}
        onChange={(event) => navigate(`/w/${encodeURIComponent(event.target.value)}`)}
      >
        {workspaces.map((workspace) => (
          <option key={workspace.id} value={workspace.id}>
            {workspace.name}
          </option>
        ))}
      </select>
    </div>
  );
}
