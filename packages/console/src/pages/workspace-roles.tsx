import { useState } from "react";
import { api, type RoleMatrix, ws } from "../api.ts";
import { typeLabel } from "../model.ts";
import { useWorkspace } from "../session.tsx";
import { AsyncForm, Button, Card, ConfirmDialog, Empty, Field, Notice } from "../ui.tsx";

type Role = RoleMatrix["roles"][number];

interface Draft {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly scopes: readonly string[];
  readonly permissions: readonly string[];
}

const EMPTY: Draft = { name: "", label: "", description: "", scopes: [], permissions: [] };

function toggled(list: readonly string[], item: string, on: boolean): string[] {
  return on ? [...list, item] : list.filter((other) => other !== item);
}

/**
 * The workspace's own roles (docs/workspace-roles.md), where the model allows them: listed for
 * every member; defined, changed and deleted by the owner or whoever may change the settings.
 */
export function WorkspaceRolesCard(props: {
  readonly matrix: RoleMatrix;
  readonly reload: () => void;
}): React.JSX.Element | null {
  const { workspace, model, canWrite, reload: reloadWorkspace } = useWorkspace();
  const { matrix } = props;
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [editing, setEditing] = useState<string | undefined>();
  const [deleting, setDeleting] = useState<Role | undefined>();
  const [done, setDone] = useState<string | undefined>();
  if (!matrix.workspaceRoles.allowed) return null;
  const mayDefine = matrix.workspaceRoles.mayDefine && canWrite;
  const own = matrix.roles.filter((role) => role.workspace);
  // Owner-only permissions never go into a role.
  const offered = matrix.permissions.filter((permission) => !permission.ownerOnly);
  const changed = () => {
    props.reload();
    reloadWorkspace(); // every role picker of the console learns the change
  };
  const base = `${ws(workspace.id)}/roles`;
  return (
    <Card
      title="This workspace's own roles"
      description="Roles made here from the model's permissions, given like any other role. A role never holds more than the one who defines it."
    >
      {own.length === 0 ? (
        <Empty title="No roles of its own yet">
          <p>Every role above comes with the workspace's model.</p>
        </Empty>
      ) : (
        <ul className="plain-list" aria-label="Workspace roles">
          {own.map((role) => (
            <li key={role.name}>
              <strong>{role.label}</strong> <code className="muted small">{role.name}</code> — at{" "}
              {role.scopes.map((scope) => typeLabel(model, scope).toLowerCase()).join(", ")}:{" "}
              {role.permissions.join(", ") || "no permissions"}
              {role.description === "" ? null : (
                <div className="muted small">{role.description}</div>
              )}
              {mayDefine ? (
                <span className="cell-actions">
                  <Button
                    size="small"
                    onClick={() => {
                      setEditing(role.name);
                      setDraft({ ...role });
                    }}
                  >
                    Edit {role.label}
                  </Button>{" "}
                  <Button size="small" variant="danger" onClick={() => setDeleting(role)}>
                    Delete {role.label}
                  </Button>
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {mayDefine ? (
        <AsyncForm
          label={editing === undefined ? "Define a role" : `Edit role ${editing}`}
          onError={() => setDone(undefined)}
          onSubmit={async () => {
            const body = {
              label: draft.label.trim() || draft.name.trim(),
              description: draft.description.trim(),
              scopes: draft.scopes,
              permissions: draft.permissions,
            };
            if (editing === undefined)
              await api("POST", base, { name: draft.name.trim(), ...body });
            else await api("PATCH", `${base}/${encodeURIComponent(editing)}`, body);
            setDone(
              editing === undefined
                ? `Role ${body.label} defined: give it from the team page.`
                : `Role ${body.label} saved.`,
            );
            setDraft(EMPTY);
            setEditing(undefined);
            changed();
          }}
        >
          {(busy) => (
            <>
              <h3>{editing === undefined ? "Define a role" : `Edit ${editing}`}</h3>
              {editing === undefined ? (
                <Field label="Name" hint="Lowercase letters, digits, - and _; grants refer to it.">
                  {(id, hint) => (
                    <input
                      id={id}
                      aria-describedby={hint}
                      className="input"
                      required
                      pattern="[a-z][a-z0-9_\-]*"
                      placeholder="e.g. deployer"
                      value={draft.name}
                      onChange={(event) => setDraft({ ...draft, name: event.target.value })}
                    />
                  )}
                </Field>
              ) : null}
              <Field label="Label">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    placeholder="e.g. Deployer"
                    value={draft.label}
                    onChange={(event) => setDraft({ ...draft, label: event.target.value })}
                  />
                )}
              </Field>
              <Field label="Description (optional)">
                {(id) => (
                  <input
                    id={id}
                    className="input"
                    value={draft.description}
                    onChange={(event) => setDraft({ ...draft, description: event.target.value })}
                  />
                )}
              </Field>
              <fieldset className="extras">
                <legend>Given at</legend>
                {matrix.types.map((type) => (
                  <label key={type.name} className="toggle">
                    <input
                      type="checkbox"
                      checked={draft.scopes.includes(type.name)}
                      onChange={(event) =>
                        setDraft({
                          ...draft,
                          scopes: toggled(draft.scopes, type.name, event.target.checked),
                        })
                      }
                    />
                    <span>{type.label}</span>
                  </label>
                ))}
              </fieldset>
              <fieldset className="extras">
                <legend>Permissions</legend>
                {offered.map((permission) => (
                  <label key={permission.name} className="toggle">
                    <input
                      type="checkbox"
                      checked={draft.permissions.includes(permission.name)}
                      onChange={(event) =>
                        setDraft({
                          ...draft,
                          permissions: toggled(
                            draft.permissions,
                            permission.name,
                            event.target.checked,
                          ),
                        })
                      }
                    />
                    <span>
                      <code>{permission.name}</code>{" "}
                      <span className="muted small">{permission.description}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              <div className="form-submit">
                <Button
                  type="submit"
                  variant="primary"
                  busy={busy}
                  disabled={draft.scopes.length === 0}
                >
                  {editing === undefined ? "Define role" : "Save role"}
                </Button>
                {editing === undefined ? null : (
                  <Button
                    onClick={() => {
                      setEditing(undefined);
                      setDraft(EMPTY);
                    }}
                  >
                    Cancel
                  </Button>
                )}
              </div>
            </>
          )}
        </AsyncForm>
      ) : null}
      {done === undefined ? null : <Notice tone="success">{done}</Notice>}
      <ConfirmDialog
        open={deleting !== undefined}
        title={`Delete the role ${deleting?.label}?`}
        confirmLabel="Delete role"
        tone="danger"
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          if (deleting === undefined) return;
          await api("DELETE", `${base}/${encodeURIComponent(deleting.name)}`);
          setDone(`Role ${deleting.label} deleted.`);
          changed();
        }}
      >
        <p>Only a role nobody holds, and no pending invitation gives, can be deleted.</p>
      </ConfirmDialog>
    </Card>
  );
}
