import { useState } from "react";
import { api, type PermissionsPage, ws } from "../api.ts";
import { useWorkspace } from "../session.tsx";
import { Button, ConfirmDialog, Field } from "../ui.tsx";

type Entry = PermissionsPage["items"][number];

/**
 * Removing someone from the workspace from a Permissions card: the people listed whose access here
 * comes from this resource or below (directly or through a team), none inherited from above. The
 * server removes only those whose every grant and team the caller manages — a sub-tree admin
 * removes someone whose access lies only in their part — and refuses the others (403).
 */
export function RemoveFromHere(props: {
  readonly entries: readonly Entry[];
  readonly onRemoved: () => void;
}): React.JSX.Element | null {
  const { workspace } = useWorkspace();
  const people = props.entries.filter(
    (entry) => entry.user !== null && entry.via.every((path) => path.place !== "above"),
  );
  const [chosen, setChosen] = useState("");
  const [confirming, setConfirming] = useState<Entry | undefined>(undefined);
  if (people.length === 0) return null;
  const subject = people.some((entry) => entry.subject === chosen)
    ? chosen
    : (people[0]?.subject ?? "");
  return (
    <fieldset className="fieldset-plain form form-inline">
      <legend className="sr-only">Remove from the workspace</legend>
      <Field label="Member to remove">
        {(id) => (
          <select
            id={id}
            className="select"
            value={subject}
            onChange={(event) => setChosen(event.target.value)}
          >
            {people.map((entry) => (
              <option key={entry.subject} value={entry.subject}>
                {entry.user?.email ?? entry.subject}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div className="form-submit">
        <Button
          variant="danger"
          onClick={() => setConfirming(people.find((entry) => entry.subject === subject))}
        >
          Remove…
        </Button>
      </div>
      <ConfirmDialog
        open={confirming !== undefined}
        title={`Remove ${confirming?.user?.email ?? ""} from the workspace?`}
        confirmLabel="Remove member"
        tone="danger"
        onClose={() => setConfirming(undefined)}
        onConfirm={async () => {
          if (confirming === undefined) return;
          await api(
            "DELETE",
            `${ws(workspace.id)}/members/${encodeURIComponent(confirming.subject.slice(5))}`,
          );
          props.onRemoved();
        }}
      >
        <p>
          Their access ends at once: they leave every team and lose every role here, and their API
          keys stop working. To give them access again, send a new invitation.
        </p>
      </ConfirmDialog>
    </fieldset>
  );
}
