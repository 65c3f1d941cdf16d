import { useEffect, useState } from "react";
import { api, type Capabilities, ws } from "../api.ts";
import {
  resourcePath,
  roleLabel,
  rootTypeOf,
  splitResource,
  typeLabel,
  typesInOrder,
  viewPermissionOf,
} from "../model.ts";
import { Link } from "../router.tsx";
import { useWorkspace } from "../session.tsx";
import { Badge, Button, Card, Empty, ErrorNote, Loading, PageHeader } from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { PermissionsCard } from "./permissions-card.tsx";

const PAGE = 100;

/**
 * The resources of `type` the caller (or the previewed member) may see, page by page: only what
 * the API lists for them.
 */
export function useVisible(type: string | undefined): {
  readonly items: readonly string[];
  readonly loading: boolean;
  readonly error: unknown;
  readonly hasMore: boolean;
  more(): void;
} {
  const { workspace, model } = useWorkspace();
  const permission = type === undefined ? undefined : viewPermissionOf(model, type);
  const [items, setItems] = useState<string[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const load = (after: string | null) => {
    if (type === undefined || permission === undefined) {
      setLoading(false);
      return;
    }
    setLoading(true);
    const query = new URLSearchParams({ type, permission, limit: String(PAGE) });
    if (after !== null) query.set("after", after);
    api<{ items: string[]; next: string | null }>(
      "GET",
      `${ws(workspace.id)}/resources?${query}`,
    ).then(
      (page) => {
        setItems((previous) => (after === null ? page.items : [...previous, ...page.items]));
        setNext(page.next);
        setError(undefined);
        setLoading(false);
      },
      (caught: unknown) => {
        setError(caught);
        setLoading(false);
      },
    );
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the type or workspace changes
  useEffect(() => load(null), [type, permission, workspace.id]);
  return { items, loading, error, hasMore: next !== null, more: () => load(next) };
}

function TypeCard(props: { readonly type: string }): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const visible = useVisible(props.type);
  const label = typeLabel(model, props.type);
  return (
    <Card
      title={`${label}s`}
      actions={
        visible.items.length > 0 ? (
          <Badge>
            {visible.items.length}
            {visible.hasMore ? "+" : ""}
          </Badge>
        ) : undefined
      }
    >
      {visible.loading && visible.items.length === 0 ? <Loading /> : null}
      <ErrorNote error={visible.error} />
      {!visible.loading && visible.error === undefined && visible.items.length === 0 ? (
        <Empty title={`No ${label.toLowerCase()}s you can see`}>
          <p>
            {label}s appear here when the host application registers them and your role covers them.
          </p>
        </Empty>
      ) : null}
      {visible.items.length === 0 ? null : (
        <ul className="resource-list" aria-label={`${label}s`}>
          {visible.items.map((resource) => (
            <li key={resource}>
              <Link to={resourcePath(workspace.id, resource)} className="resource-link">
                <span className="resource-icon" aria-hidden="true">
                  {label.slice(0, 1)}
                </span>
                <span className="resource-name">{splitResource(resource).id}</span>
                <span className="resource-type">{label}</span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {visible.hasMore ? (
        <Button size="small" busy={visible.loading} onClick={visible.more}>
          Show more
        </Button>
      ) : null}
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

/** Permissions grouped by their first word: `site.files.manage` → `site`. */
function groupsOf(permissions: readonly string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const permission of permissions) {
    const area = permission.split(".")[0] ?? permission;
    groups.set(area, [...(groups.get(area) ?? []), permission]);
  }
  return [...groups.entries()];
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
  if (held.length === 0) {
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
    .map((grant) => roleLabel(model, grant.role));
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
        <ul className="section-chips" aria-label="Sections you can open">
          {sections.map((section) => (
            <li key={section}>
              <Badge tone="accent">{model.sections?.[section]?.label ?? section}</Badge>
            </li>
          ))}
        </ul>
      )}
      <Card
        title="Your permissions here"
        description={`${held.length} permissions on this ${typeLabel(model, type).toLowerCase()}.`}
      >
        <div className="permission-groups">
          {groupsOf(held).map(([area, permissions]) => (
            <div className="permission-group" key={area}>
              <h3>{typeLabel(model, area)}</h3>
              <ul className="permission-list">
                {permissions.map((permission) => (
                  <li key={permission}>
                    <span className="check" aria-hidden="true">
                      ✓
                    </span>
                    <span>
                      <span className="permission-title">
                        {model.permissions[permission]?.description ?? permission}
                      </span>
                      <code>{permission}</code>
                    </span>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </div>
      </Card>
      <PermissionsCard resource={props.resource} capabilities={capabilities.data} />
    </>
  );
}
