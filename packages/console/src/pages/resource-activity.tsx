import { ws } from "../api.ts";
import { useWorkspace } from "../session.tsx";
import { Card } from "../ui.tsx";
import { AuditEntries, ExportLinks, useAuditPages } from "./activity.tsx";

/**
 * A resource's scoped activity — the log's entries about it and everything below it — on its page,
 * for members who may read it: the whole log's readers, or whoever holds the model's activity
 * permission for the resource's type there (an MZPanel site's customer, a server's operator).
 * Others see nothing of it.
 */
export function ResourceActivity(props: {
  readonly resource: string;
  /** The caller's permissions on the resource (from `capabilities`). */
  readonly held: readonly string[];
}): React.JSX.Element | null {
  const { workspace, model, access } = useWorkspace();
  const type = props.resource.slice(0, props.resource.indexOf(":"));
  const activity = model.gates?.activity?.[type];
  const auditView = model.gates?.auditView ?? model.delegation;
  const mayRead =
    access.workflows.viewActivity ||
    props.held.includes(auditView) ||
    (activity !== undefined && props.held.includes(activity));
  if (!mayRead) return null;
  return <ScopedActivity resource={props.resource} base={ws(workspace.id)} />;
}

function ScopedActivity(props: { readonly resource: string; readonly base: string }) {
  const { canWrite } = useWorkspace();
  const query = new URLSearchParams({ resource: props.resource });
  const pages = useAuditPages(props.base, query.toString());
  return (
    <Card
      title="Activity"
      description="Who did what here and below, when, and with what result."
      actions={canWrite ? <ExportLinks base={props.base} query={query} /> : undefined}
    >
      <AuditEntries pages={pages} label={`Activity of ${props.resource}`} />
    </Card>
  );
}
