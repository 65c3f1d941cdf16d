import { useEffect, useId, useState } from "react";
import { api, type Capabilities, type ResourceListing, ws } from "../api.ts";
import {
  resourcePath,
  roleLabel,
  rootTypeOf,
  splitResource,
  typeLabel,
  typesInOrder,
  viewPermissionOf,
} from "../model.ts";
import { countOf } from "../plural.ts";
import { Link } from "../router.tsx";
import { useWorkspace } from "../session.tsx";
import { Button, Card, Empty, ErrorNote, Loading, PageHeader } from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { RequestAccessCard } from "./access-requests.tsx";
import { ElevationsCard } from "./elevation.tsx";
import { grantEnd } from "./grant-editor.tsx";
import { PermissionsCard } from "./permissions-card.tsx";
import { ResourceActivity } from "./resource-activity.tsx";
import { ActionsCard, AdminSignIn } from "./site-view.tsx";

const PAGE = 50;
/** Children shown at a time when a resource is opened in place; "Show more" adds as many. */
const CHILD_PAGE = 10;

/**
 * One page of the resources of `type` the caller (or the previewed member) may see, whose id
 * contains `text`: only what the API lists for them, page by page with Previous and Next.
 */
function useVisiblePage(
  type: string,
  text: string,
): {
  readonly items: readonly string[];
  readonly children: ResourceListing["children"];
  readonly loading: boolean;
  readonly error: unknown;
  readonly page: number;
  readonly hasNext: boolean;
  step(by: 1 | -1): void;
} {
  const { workspace, model } = useWorkspace();
  const permission = viewPermissionOf(model, type);
  // The cursors of the pages shown so far: page n starts after cursors[n - 1].
  const [cursors, setCursors] = useState<readonly string[]>([]);
  const [page, setPage] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new search starts at the first page
  useEffect(() => {
    setCursors([]);
    setPage(0);
  }, [text, type]);
  const query = new URLSearchParams({ type, permission: permission ?? "", limit: String(PAGE) });
  if (text !== "") query.set("q", text);
  const after = page === 0 ? undefined : cursors[page - 1];
  if (after !== undefined) query.set("after", after);
  const loaded = useApi<ResourceListing>(
    permission === undefined ? null : `${ws(workspace.id)}/resources?${query}`,
  );
  const next = loaded.data?.next ?? null;
  return {
    items: loaded.data?.items ?? [],
    children: loaded.data?.children ?? {},
    loading: loaded.loading,
    error: loaded.error,
    page,
    hasNext: next !== null,
    step(by) {
      if (by === 1 && next !== null) setCursors((previous) => [...previous.slice(0, page), next]);
      setPage((current) => Math.max(0, current + by));
    },
  };
}

/**
 * One resource of a list: a link to its page and, per type of child it has, how many the caller
 * may see ("12 sites") — a disclosure button that opens them in place, below the row.
 */
function ResourceRow(props: {
  readonly resource: string;
  readonly counts: Readonly<Record<string, number>> | undefined;
}): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const { type, id } = splitResource(props.resource);
  const label = typeLabel(model, type);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const listId = useId();
  return (
    <li>
      <div className="resource-row">
        <Link to={resourcePath(workspace.id, props.resource)} className="resource-link">
          <span className="resource-icon" aria-hidden="true">
            {label.slice(0, 1)}
          </span>
          <span className="resource-name">{id}</span>
          <span className="resource-type">{label}</span>
        </Link>
        {Object.entries(props.counts ?? {}).map(([childType, count]) => {
          const words = countOf(count, typeLabel(model, childType).toLowerCase());
          if (count === 0)
            return (
              <span key={childType} className="resource-count">
                {words}
              </span>
            );
          const expanded = open === childType;
          return (
            <button
              key={childType}
              type="button"
              className="resource-count disclosure"
              aria-expanded={expanded}
              aria-controls={expanded ? listId : undefined}
              onClick={() => setOpen(expanded ? undefined : childType)}
            >
              <span className="disclosure-mark" aria-hidden="true" />
              {words}
              <span className="sr-only"> of {id}</span>
            </button>
          );
        })}
      </div>
      {open === undefined ? null : <ChildList id={listId} parent={props.resource} type={open} />}
    </li>
  );
}

/**
 * The children of one type of an opened resource, as the caller may see them (by the type's
 * view permission, as the counts are), `CHILD_PAGE` at a time with "Show more".
 */
function ChildList(props: {
  readonly id: string;
  readonly parent: string;
  readonly type: string;
}): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  // Each page with the cursor it was asked after: a page that arrives twice is kept once.
  const [pages, setPages] = useState<
    readonly { readonly after: string | undefined; readonly page: ResourceListing }[]
  >([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const load = (after: string | undefined) => {
    const query = new URLSearchParams({
      type: props.type,
      parent: props.parent,
      limit: String(CHILD_PAGE),
    });
    if (after !== undefined) query.set("after", after);
    setLoading(true);
    setError(undefined);
    return api<ResourceListing>("GET", `${ws(workspace.id)}/resources?${query}`).then(
      (page) => {
        setPages((previous) =>
          previous.some((loaded) => loaded.after === after)
            ? previous
            : [...previous, { after, page }],
        );
        setLoading(false);
      },
      (failure: unknown) => {
        setError(failure);
        setLoading(false);
      },
    );
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: the first page, once, when opened
  useEffect(() => {
    void load(undefined);
  }, []);
  const label = typeLabel(model, props.type);
  const next = pages.at(-1)?.page.next ?? null;
  return (
    <div className="resource-children">
      <ul
        id={props.id}
        className="resource-list"
        aria-label={`${label}s of ${splitResource(props.parent).id}`}
      >
        {pages.flatMap(({ page }) =>
          page.items.map((resource) => (
            <ResourceRow key={resource} resource={resource} counts={page.children[resource]} />
          )),
        )}
      </ul>
      {loading ? <Loading /> : null}
      <ErrorNote error={error} retry={() => void load(pages.at(-1)?.page.next ?? undefined)} />
      {next === null || loading ? null : (
        <Button size="small" variant="ghost" onClick={() => void load(next)}>
          Show more
          <span className="sr-only">{` ${label.toLowerCase()}s of ${splitResource(props.parent).id}`}</span>
        </Button>
      )}
    </div>
  );
}

function TypeCard(props: { readonly type: string }): React.JSX.Element {
  const { model } = useWorkspace();
  const [search, setSearch] = useState("");
  const [text, setText] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setText(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const visible = useVisiblePage(props.type, text);
  const label = typeLabel(model, props.type);
  const searchId = `search-${props.type}`;
  return (
    <Card title={`${label}s`}>
      <search className="member-search">
        <label className="sr-only" htmlFor={searchId}>
          {`Search ${label.toLowerCase()}s`}
        </label>
        <input
          id={searchId}
          className="input"
          type="search"
          placeholder={`Search ${label.toLowerCase()}s…`}
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
      </search>
      {visible.loading && visible.items.length === 0 ? <Loading /> : null}
      <ErrorNote error={visible.error} />
      {!visible.loading && visible.error === undefined && visible.items.length === 0 ? (
        text === "" ? (
          <Empty title={`No ${label.toLowerCase()}s you can see`}>
            <p>
              {label}s appear here when the host application registers them and your role covers
              them.
            </p>
          </Empty>
        ) : (
          <Empty title={`No ${label.toLowerCase()} matches “${text}”`} />
        )
      ) : null}
      {visible.items.length === 0 ? null : (
        <ul className="resource-list" aria-label={`${label}s`}>
          {visible.items.map((resource) => (
            <ResourceRow key={resource} resource={resource} counts={visible.children[resource]} />
          ))}
        </ul>
      )}
      {visible.page === 0 && !visible.hasNext ? null : (
        <nav className="pager" aria-label={`${label} pages`}>
          <Button size="small" disabled={visible.page === 0} onClick={() => visible.step(-1)}>
            Previous
          </Button>
          <span className="muted small">Page {visible.page + 1}</span>
          <Button size="small" disabled={!visible.hasNext} onClick={() => visible.step(1)}>
            Next
          </Button>
        </nav>
      )}
    </Card>
  );
}

/** The fleet list: every resource type under the workspace, each listing what the caller may see. */
export function FleetPage(): React.JSX.Element {
  const { model } = useWorkspace();
  const types = typesInOrder(model);
  return (
    <>
      <PageHeader
        title="Resources"
        description="What the host application registered and your role lets you see."
      />
      <div className="grid-2">
        {types.map((type) => (
          <TypeCard key={type} type={type} />
        ))}
      </div>
    </>
  );
}

/**
 * One resource as the caller may use it: the per-site view of a customer, a server for its
 * operator, or the workspace overview. Outside the caller's reach it is "not found", exactly like
 * a resource that does not exist.
 */
export function ResourcePage(props: { readonly resource: string }): React.JSX.Element {
  const { workspace, model, access } = useWorkspace();
  const capabilities = useApi<Capabilities>(
    `${ws(workspace.id)}/capabilities?resource=${encodeURIComponent(props.resource)}`,
  );
  const { type, id } = splitResource(props.resource);
  const isRoot = type === rootTypeOf(model);
  if (capabilities.loading && capabilities.data === undefined) return <Loading />;
  if (capabilities.error !== undefined)
    return <ErrorNote error={capabilities.error} retry={capabilities.reload} />;
  const held = capabilities.data?.permissions ?? [];
  // Someone who administers the resource sees its Permissions card even holding nothing on it (#15).
  if (held.length === 0 && capabilities.data?.administers !== true) {
    return (
      <Empty title="Not found" page>
        <p>
          {typeLabel(model, type)} {id} does not exist, or you do not have access to it.
        </p>
      </Empty>
    );
  }
  const sections = capabilities.data?.sections ?? [];
  const roles = access.grants
    .filter((grant) => grant.scope === props.resource)
    .map((grant) => {
      const end = grantEnd(grant);
      return `${roleLabel(model, grant.role)}${end === "" ? "" : ` (${end})`}`;
    });
  return (
    <>
      <PageHeader
        title={isRoot ? workspace.name : id}
        description={
          isRoot
            ? `Your access to the whole ${typeLabel(model, type).toLowerCase()}.`
            : `${typeLabel(model, type)} · what you can do here${roles.length > 0 ? ` as ${roles.join(", ")}` : ""}`
        }
      />
      {sections.length === 0 ? null : (
        // The model's sections name areas of the host's own panel, not pages of this console: words, not links.
        <p className="muted sections-line">
          In your panel:{" "}
          {sections.map((section) => model.sections?.[section]?.label ?? section).join(" · ")}
        </p>
      )}
      <div className="stack">
        <ElevationsCard />
        <AdminSignIn resource={props.resource} held={held} />
        <ActionsCard resource={props.resource} held={held} />
        <ResourceActivity resource={props.resource} held={held} />
        <PermissionsCard resource={props.resource} capabilities={capabilities.data} />
        <RequestAccessCard resource={props.resource} />
      </div>
    </>
  );
}
