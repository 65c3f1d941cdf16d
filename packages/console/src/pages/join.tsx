import { useState } from "react";
import { api, type Workspace } from "../api.ts";
import { navigate } from "../router.tsx";
import { useSession } from "../session.tsx";
import { AsyncForm, Button, Card, Field, Notice, PageHeader } from "../ui.tsx";
import { useApi } from "../use-api.ts";

/** Ask to join a workspace whose join key (e.g. its tax number) you know. */
export function JoinPage(): React.JSX.Element {
  const [joinKey, setJoinKey] = useState("");
  const [note, setNote] = useState("");
  const [sent, setSent] = useState(false);
  return (
    <div className="narrow">
      <PageHeader
        title="Ask to join a workspace"
        description="Give the workspace's join key — for a company, often its tax number. Its managers approve or reject your request."
      />
      <Card>
        {sent ? (
          <Notice tone="success">
            Your request is sent. You will find the workspace in your console once a manager
            approves it.
          </Notice>
        ) : (
          <AsyncForm
            label="Join request"
            onSubmit={async () => {
              await api("POST", "/v1/join-requests", {
                joinKey: joinKey.trim(),
                ...(note.trim() === "" ? {} : { note: note.trim() }),
              });
              setSent(true);
            }}
          >
            {(busy) => (
              <>
                <Field label="Join key">
                  {(id) => (
                    <input
                      id={id}
                      className="input"
                      required
                      value={joinKey}
                      onChange={(event) => setJoinKey(event.target.value)}
                    />
                  )}
                </Field>
                <Field label="Note for the managers" hint="Who you are and why you need access.">
                  {(id, hint) => (
                    <textarea
                      id={id}
                      aria-describedby={hint}
                      className="input"
                      rows={3}
                      maxLength={1000}
                      value={note}
                      onChange={(event) => setNote(event.target.value)}
                    />
                  )}
                </Field>
                <Button type="submit" variant="primary" busy={busy}>
                  Send request
                </Button>
              </>
            )}
          </AsyncForm>
        )}
      </Card>
    </div>
  );
}

/** Start a workspace with one of the shipped presets; the caller becomes its owner. */
export function NewWorkspacePage(): React.JSX.Element {
  const { reload } = useSession();
  const presets = useApi<{ presets: { name: string; label?: string }[] }>("/v1/presets");
  const [name, setName] = useState("");
  const [preset, setPreset] = useState("mzpanel");
  return (
    <div className="narrow">
      <PageHeader title="Create a workspace" description="You become its owner." />
      <Card>
        <AsyncForm
          label="New workspace"
          onSubmit={async () => {
            const workspace = await api<Workspace>("POST", "/v1/workspaces", { name, preset });
            await reload();
            navigate(`/w/${encodeURIComponent(workspace.id)}`);
          }}
        >
          {(busy) => (
            <>
              <Field label="Name">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    required
                    value={name}
                    onChange={(event) => setName(event.target.value)}
                  />
                )}
              </Field>
              <Field label="Kind of panel">
                {(id) => (
                  <select
                    id={id}
                    className="select"
                    value={preset}
                    onChange={(event) => setPreset(event.target.value)}
                  >
                    {(presets.data?.presets ?? [{ name: "mzpanel", label: "MZPanel" }]).map(
                      (item) => (
                        <option key={item.name} value={item.name}>
                          {item.label ?? item.name}
                        </option>
                      ),
                    )}
                  </select>
                )}
              </Field>
              <Button type="submit" variant="primary" busy={busy}>
                Create workspace
              </Button>
            </>
          )}
        </AsyncForm>
      </Card>
    </div>
  );
}
