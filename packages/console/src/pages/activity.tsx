import { useEffect, useMemo, useState } from "react";
import { type AuditEntry, api, type Member, type Verification, ws } from "../api.ts";
import { anyResourceSearch, memberSearch, Picker, resourceLabel } from "../picker.tsx";
import { countOf } from "../plural.ts";
import { navigate, useLocation } from "../router.tsx";
import { useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  Empty,
  ErrorNote,
  Field,
  Loading,
  PageHeader,
  Time,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";

interface Filters {
  actor: string;
  action: string;
  resource: string;
  result: "" | "success" | "denied";
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { actor: "", action: "", resource: "", result: "", from: "", to: "" };

/** The applied filters live in the address (#16): shareable, and back and forward step through them. */
function filtersOf(search: URLSearchParams): Filters {
  const result = search.get("result");
  return {
    actor: search.get("actor") ?? "",
    action: search.get("action") ?? "",
    resource: search.get("resource") ?? "",
    result: result === "success" || result === "denied" ? result : "",
    from: search.get("from") ?? "",
    to: search.get("to") ?? "",
  };
}

/** The address of the page with `filters` applied: only the filters set, as typed. */
function addressOf(path: string, filters: Filters): string {
  const query = new URLSearchParams(
    Object.entries(filters).filter(([, value]) => value.trim() !== ""),
  ).toString();
  return query === "" ? path : `${path}?${query}`;
}

function queryOf(filters: Filters): URLSearchParams {
  const query = new URLSearchParams();
  if (filters.actor) query.set("actor", filters.actor);
  if (filters.action.trim()) query.set("action", filters.action.trim());
  if (filters.resource.trim()) query.set("resource", filters.resource.trim());
  if (filters.result) query.set("result", filters.result);
  if (filters.from) query.set("from", String(new Date(filters.from).getTime()));
  if (filters.to) query.set("to", String(new Date(filters.to).getTime()));
  return query;
}

function ChainStatus(): React.JSX.Element {
  const { workspace } = useWorkspace();
  const verify = useApi<Verification>(`${ws(workspace.id)}/audit/verify`);
  if (verify.loading && verify.data === undefined)
    return <span className="muted small">Verifying the chain…</span>;
  if (verify.data === undefined) return <ErrorNote error={verify.error} retry={verify.reload} />;
  return verify.data.valid ? (
    <span className="chain chain-ok" data-testid="chain-status">
      <Badge tone="success">Chain verified</Badge>
      <span className="muted small">
        {countOf(verify.data.entries, "entry", "entries")} · head {verify.data.head?.slice(0, 12)}
      </span>
    </span>
  ) : (
    <span className="chain" data-testid="chain-status">
      <Badge tone="danger">Chain broken</Badge>
      <span className="small">
        at entry {verify.data.seq} ({verify.data.problem}): {verify.data.message}
      </span>
    </span>
  );
}

/**
 * Pages of the activity log for one query (`resource=` for a resource's scoped activity): the first
 * page when the query changes, older ones on `load(cursor)`.
 */
export function useAuditPages(base: string, query: string) {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const load = async (after: string | undefined) => {
    setLoading(true);
    try {
      const params = new URLSearchParams(query);
      if (after !== undefined) params.set("cursor", after);
      const page = await api<{ entries: AuditEntry[]; nextCursor?: string }>(
        "GET",
        `${base}/audit?${params}`,
      );
      setEntries((previous) =>
        after === undefined ? page.entries : [...(previous ?? []), ...page.entries],
      );
      setCursor(page.nextCursor);
      setError(undefined);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the query changes
  useEffect(() => {
    void load(undefined);
  }, [base, query]);
  return { entries, cursor, error, loading, load };
}

/** Who acted and on what, in words: members by name (when the team is known), invitations by email. */
function describer(members: readonly Member[] | undefined) {
  const name = (userId: string | null) => {
    if (userId === null) return "";
    const member = members?.find((candidate) => candidate.userId === userId);
    return member?.name || member?.email || userId;
  };
  return {
    actor(entry: AuditEntry): string {
      switch (entry.actor.type) {
        case "user":
          return name(entry.actor.id);
        case "api_key":
          return `API key of ${name(entry.actor.onBehalfOf)}`;
        case "assistant":
          return `Assistant for ${name(entry.actor.onBehalfOf)}`;
        case "preview":
          return `${name(entry.actor.id)} viewing as ${name(entry.actor.onBehalfOf)}`;
        case "host":
          return entry.actor.onBehalfOf === null
            ? `Host app ${entry.actor.id}`
            : `Host app ${entry.actor.id} for ${name(entry.actor.onBehalfOf)}`;
        default:
          return `${entry.actor.type}: ${entry.actor.id}`;
      }
    },
    target(entry: AuditEntry): string {
      const target = entry.target ?? "";
      if (target.startsWith("user:")) return name(target.slice(5));
      const email = entry.details["email"];
      if (target.startsWith("invitation:") && typeof email === "string")
        return `Invitation of ${email}`;
      return target;
    },
  };
}

/** CSV and JSON Lines downloads of the entries a query matches. */
export function ExportLinks(props: {
  readonly base: string;
  readonly query: URLSearchParams;
}): React.JSX.Element {
  const href = (format: string) =>
    `${props.base}/audit/export?${new URLSearchParams({ format, ...Object.fromEntries(props.query) })}`;
  return (
    <div className="button-row">
      <a className="button button-secondary button-small" href={href("csv")} download>
        Export CSV
      </a>
      <a className="button button-secondary button-small" href={href("jsonl")} download>
        Export JSONL
      </a>
    </div>
  );
}

/** The entries of a log read (whole or scoped) with their paging: who, what, on what, when, result. */
export function AuditEntries(props: {
  readonly pages: ReturnType<typeof useAuditPages>;
  readonly members?: readonly Member[] | undefined;
  readonly label?: string;
}): React.JSX.Element {
  const { entries, cursor, error, loading, load } = props.pages;
  const describe = describer(props.members);
  return (
    <>
      <ErrorNote error={error} retry={() => void load(undefined)} />
      {entries === undefined && loading ? <Loading label="Loading the log…" /> : null}
      {entries?.length === 0 ? <Empty title="No entries match these filters" /> : null}
      {entries === undefined || entries.length === 0 ? null : (
        <div className="table-wrap">
          <table className="table" aria-label={props.label ?? "Activity"}>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Result</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.seq} data-action={entry.action}>
                  <td className="nowrap">
                    <Time value={entry.at} />
                  </td>
                  <td>{describe.actor(entry)}</td>
                  <td>
                    <code>{entry.action}</code>
                  </td>
                  <td className="truncate-cell" title={entry.target ?? ""}>
                    {describe.target(entry)}
                  </td>
                  <td>
                    <Badge tone={entry.result === "success" ? "success" : "danger"}>
                      {entry.result}
                    </Badge>
                  </td>
                  <td className="muted small">{entry.origin.ip ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor === undefined ? null : (
        <Button busy={loading} onClick={() => void load(cursor)}>
          Load older entries
        </Button>
      )}
    </>
  );
}

/** The activity log: filter, page, export and verify the tamper-evident chain. */
export function ActivityPage(): React.JSX.Element {
  const { workspace, model, access, canWrite } = useWorkspace();
  const base = ws(workspace.id);
  // Names for the entries' actors and targets (the actor filter searches on the server).
  const members = useApi<{ members: Member[] }>(
    access.workflows.viewTeam ? `${base}/members` : null,
  );
  const { path, search } = useLocation();
  const applied = search.toString();
  // biome-ignore lint/correctness/useExhaustiveDependencies: the filters change only with the address
  const filters = useMemo(() => filtersOf(search), [applied]);
  const [draft, setDraft] = useState<Filters>(filters);
  useEffect(() => setDraft(filters), [filters]);
  const setFilters = (next: Filters) => navigate(addressOf(path, next));
  const [actorName, setActorName] = useState("");
  const pages = useAuditPages(base, queryOf(filters).toString());
  const exportQuery = queryOf(filters);
  const set = (key: keyof Filters) => (event: { target: { value: string } }) =>
    setDraft((previous) => ({ ...previous, [key]: event.target.value }));

  return (
    <>
      <PageHeader
        title="Activity log"
        description="Every shared action and every denied attempt, append-only."
        actions={<ChainStatus />}
      />
      <div className="stack">
        <Card title="Filter">
          <AsyncForm
            label="Filter the activity log"
            className="form form-filters"
            onSubmit={async () => setFilters({ ...draft })}
          >
            {() => (
              <>
                <Field label="Actor">
                  {(id) =>
                    access.workflows.viewTeam ? (
                      <Picker
                        id={id}
                        value={draft.actor}
                        selectedLabel={actorName}
                        empty={{ value: "", label: "Anyone" }}
                        placeholder="Anyone"
                        search={memberSearch(workspace.id)}
                        onChange={(userId, option) => {
                          setDraft((previous) => ({ ...previous, actor: userId }));
                          setActorName(userId === "" ? "" : (option?.label ?? userId));
                        }}
                      />
                    ) : (
                      <input
                        id={id}
                        className="input"
                        placeholder="User id"
                        value={draft.actor}
                        onChange={set("actor")}
                      />
                    )
                  }
                </Field>
                <Field label="Action">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      placeholder="e.g. member.*"
                      value={draft.action}
                      onChange={set("action")}
                    />
                  )}
                </Field>
                <Field label="Resource">
                  {(id) => (
                    <Picker
                      id={id}
                      value={draft.resource}
                      selectedLabel={resourceLabel(model, draft.resource)}
                      empty={{ value: "", label: "Anywhere" }}
                      placeholder="Anywhere"
                      search={anyResourceSearch(workspace.id, model)}
                      onChange={(resource) => setDraft((previous) => ({ ...previous, resource }))}
                    />
                  )}
                </Field>
                <Field label="Result">
                  {(id) => (
                    <select
                      id={id}
                      className="select"
                      value={draft.result}
                      onChange={set("result")}
                    >
                      <option value="">Any</option>
                      <option value="success">Success</option>
                      <option value="denied">Denied</option>
                    </select>
                  )}
                </Field>
                <Field label="From">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      type="datetime-local"
                      value={draft.from}
                      onChange={set("from")}
                    />
                  )}
                </Field>
                <Field label="To">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      type="datetime-local"
                      value={draft.to}
                      onChange={set("to")}
                    />
                  )}
                </Field>
                <div className="form-submit">
                  <Button type="submit" variant="primary">
                    Apply filters
                  </Button>
                  <Button
                    variant="ghost"
                    onClick={() => {
                      setDraft(NO_FILTERS);
                      setFilters(NO_FILTERS);
                      setActorName("");
                    }}
                  >
                    Clear
                  </Button>
                </div>
              </>
            )}
          </AsyncForm>
        </Card>
        <Card
          title="Entries"
          actions={canWrite ? <ExportLinks base={base} query={exportQuery} /> : undefined}
        >
          <AuditEntries pages={pages} members={members.data?.members} />
        </Card>
      </div>
    </>
  );
}
