import { useState } from "react";
import { type ApiKey, api, type Member, ws } from "../api.ts";
import { typesInOrder } from "../model.ts";
import { Picker, resourceLabel, resourceSearch } from "../picker.tsx";
import { useWorkspace } from "../session.tsx";
import {
  AsyncForm,
  Badge,
  Button,
  Card,
  ConfirmDialog,
  Empty,
  ErrorNote,
  Field,
  formatDate,
  Loading,
  PageHeader,
  SecretBox,
} from "../ui.tsx";
import { useApi } from "../use-api.ts";

/** API keys: a key acts with its owner's current role ∩ its permission patterns ∩ its resource. */
export function ApiKeysPage(): React.JSX.Element {
  const { workspace, model, access, canWrite } = useWorkspace();
  const keys = useApi<{ keys: ApiKey[] }>(`${ws(workspace.id)}/api-keys`);
  const members = useApi<{ members: Member[] }>(
    access.workflows.viewTeam ? `${ws(workspace.id)}/members` : null,
  );
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState("*");
  const [resource, setResource] = useState("");
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<string | undefined>();
  const [revoking, setRevoking] = useState<ApiKey | undefined>();
  const ownerName = (id: string) => {
    if (id === access.userId) return "You";
    const member = members.data?.members.find((candidate) => candidate.userId === id);
    return member?.name || member?.email || id;
  };
  const mayRevoke = (key: ApiKey) =>
    canWrite &&
    key.status === "active" &&
    (key.ownerUserId === access.userId || access.workflows.managePeople);
  return (
    <>
      <PageHeader
        title="API keys"
        description="A key never exceeds its owner: it acts with your current role, narrowed to its permission patterns and resource."
      />
      <div className="stack">
        {canWrite ? (
          <Card title="Create a key">
            <AsyncForm
              label="Create an API key"
              className="form form-inline"
              onSubmit={async () => {
                const answer = await api<{ secret: string }>(
                  "POST",
                  `${ws(workspace.id)}/api-keys`,
                  {
                    name: name.trim(),
                    scopes: scopes.split(/[\s,]+/).filter(Boolean),
                    ...(resource === "" ? {} : { resources: [resource] }),
                    ...(expires === ""
                      ? {}
                      : { expiresAt: new Date(`${expires}T23:59:59`).getTime() }),
                  },
                );
                setSecret(answer.secret);
                setName("");
                keys.reload();
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
                        placeholder="e.g. Deploy bot"
                        value={name}
                        onChange={(event) => setName(event.target.value)}
                      />
                    )}
                  </Field>
                  <Field label="Scopes" hint="Permissions, area.* patterns, or * for all you hold.">
                    {(id, hint) => (
                      <input
                        id={id}
                        aria-describedby={hint}
                        className="input"
                        required
                        value={scopes}
                        onChange={(event) => setScopes(event.target.value)}
                      />
                    )}
                  </Field>
                  <Field label="Limit to resource">
                    {(id) => (
                      <Picker
                        id={id}
                        value={resource}
                        selectedLabel={resourceLabel(model, resource)}
                        empty={{ value: "", label: "Everywhere you have access" }}
                        placeholder="Everywhere you have access"
                        search={resourceSearch(workspace.id, model, typesInOrder(model))}
                        onChange={(value) => setResource(value)}
                      />
                    )}
                  </Field>
                  <Field label="Expires">
                    {(id) => (
                      <input
                        id={id}
                        className="input"
                        type="date"
                        value={expires}
                        onChange={(event) => setExpires(event.target.value)}
                      />
                    )}
                  </Field>
                  <div className="form-submit">
                    <Button type="submit" variant="primary" busy={busy}>
                      Create key
                    </Button>
                  </div>
                </>
              )}
            </AsyncForm>
            {secret === undefined ? null : (
              <SecretBox label="Your new key — shown once" value={secret}>
                Copy it now: Gatehouse keeps only its hash. Send it as{" "}
                <code>Authorization: Bearer …</code>.
              </SecretBox>
            )}
          </Card>
        ) : null}
        <Card title={access.workflows.viewTeam ? "Keys in this workspace" : "Your keys"}>
          {keys.loading && keys.data === undefined ? <Loading /> : null}
          <ErrorNote error={keys.error} retry={keys.reload} />
          {keys.data?.keys.length === 0 ? (
            <Empty title="No API keys yet">
              <p>Keys let scripts and integrations act for you, never with more than you hold.</p>
            </Empty>
          ) : null}
          {keys.data === undefined || keys.data.keys.length === 0 ? null : (
            <div className="table-wrap">
              <table className="table" aria-label="API keys">
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Owner</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Resource</th>
                    <th scope="col">Status</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {keys.data.keys.map((key) => (
                    <tr key={key.id}>
                      <td>
                        <div className="person-name">{key.name}</div>
                        <code className="muted small">{key.prefix}…</code>
                      </td>
                      <td>{ownerName(key.ownerUserId)}</td>
                      <td>
                        <div className="chips">
                          {key.scopes.map((scope) => (
                            <code key={scope} className="chip">
                              {scope}
                            </code>
                          ))}
                        </div>
                      </td>
                      <td>
                        {key.resources.length === 0 ? (
                          <span className="muted">All</span>
                        ) : (
                          key.resources.join(", ")
                        )}
                      </td>
                      <td>
                        <Badge tone={key.status === "active" ? "success" : "neutral"}>
                          {key.status}
                        </Badge>
                        <div className="muted small">
                          {key.expiresAt === null
                            ? `Created ${formatDate(key.createdAt)}`
                            : `Expires ${formatDate(key.expiresAt)}`}
                        </div>
                      </td>
                      <td className="cell-actions">
                        {mayRevoke(key) ? (
                          <Button size="small" variant="danger" onClick={() => setRevoking(key)}>
                            Revoke
                          </Button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
      <ConfirmDialog
        open={revoking !== undefined}
        title={`Revoke ${revoking?.name}?`}
        confirmLabel="Revoke key"
        tone="danger"
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          if (revoking === undefined) return;
          await api("DELETE", `${ws(workspace.id)}/api-keys/${encodeURIComponent(revoking.id)}`);
          keys.reload();
        }}
      >
        <p>Requests with this key fail from now on. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
