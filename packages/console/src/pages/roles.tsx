import { Fragment, useState } from "react";
import { api, type Explanation, type RoleMatrix, ws } from "../api.ts";
import { explanationWords } from "../explanation-words.ts";
import { roleLabel, scopeLabel, typeLabel } from "../model.ts";
import { anyResourceSearch, memberSearch, Picker, resourceLabel } from "../picker.tsx";
import { useWorkspace } from "../session.tsx";
import { AsyncForm, Badge, Button, Card, ErrorNote, Field, Loading, PageHeader } from "../ui.tsx";
import { useApi } from "../use-api.ts";
import { grantEnd } from "./grant-editor.tsx";
import { WorkspaceRolesCard } from "./workspace-roles.tsx";

const OUTCOMES: Readonly<Record<string, string>> = {
  allows: "allows it",
  not_on_path: "is elsewhere in the tree",
  lacks_permission: "does not include it",
  expired: "has expired",
  not_applicable: "does not apply to this type",
};

/** "Why can / can't they?": the engine's explanation of one decision for one member. */
function ExplainCard(): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const permissions = Object.keys(model.permissions);
  const [subject, setSubject] = useState("");
  const [subjectName, setSubjectName] = useState("");
  const [permission, setPermission] = useState(permissions[0] ?? "");
  const [resource, setResource] = useState(`workspace:${workspace.id}`);
  const [answer, setAnswer] = useState<Explanation | undefined>();
  return (
    <Card
      title="Why can — or can't — they?"
      description="Ask the engine about any member, permission and resource."
    >
      <AsyncForm
        label="Explain a decision"
        className="form form-inline"
        onSubmit={async () => {
          setAnswer(
            await api<Explanation>("POST", `${ws(workspace.id)}/explain`, {
              subject: `user:${subject}`,
              permission,
              resource,
            }),
          );
        }}
      >
        {(busy) => (
          <>
            <Field label="Member">
              {(id) => (
                <Picker
                  id={id}
                  value={subject}
                  selectedLabel={subjectName}
                  placeholder="Type a member's name or email…"
                  required
                  search={memberSearch(workspace.id)}
                  onChange={(userId, option) => {
                    setSubject(userId);
                    setSubjectName(option?.label ?? userId);
                  }}
                />
              )}
            </Field>
            <Field label="Permission">
              {(id) => (
                <select
                  id={id}
                  className="select"
                  value={permission}
                  onChange={(event) => setPermission(event.target.value)}
                >
                  {permissions.map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Resource">
              {(id) => (
                <Picker
                  id={id}
                  value={resource}
                  selectedLabel={resourceLabel(model, resource)}
                  placeholder="Type to find a resource…"
                  required
                  search={anyResourceSearch(workspace.id, model)}
                  onChange={setResource}
                />
              )}
            </Field>
            <div className="form-submit">
              <Button type="submit" variant="primary" busy={busy} disabled={subject === ""}>
                Explain
              </Button>
            </div>
          </>
        )}
      </AsyncForm>
      {answer === undefined ? null : (
        <div className="explanation" aria-live="polite">
          <p className="explanation-summary">
            <Badge tone={answer.decision.allowed ? "success" : "danger"}>
              {answer.decision.allowed ? "Allowed" : "Denied"}
            </Badge>{" "}
            {explanationWords(
              model,
              answer,
              answer.subject === `user:${subject}` && subjectName !== "" ? subjectName : "They",
            )}
          </p>
          {answer.considered.length === 0 ? null : (
            <ul className="plain-list">
              {answer.considered.map((item) => (
                <li key={`${item.grant.subject}-${item.grant.scope}`}>
                  {roleLabel(model, item.grant.role)} on {scopeLabel(model, item.grant.scope)}
                  {item.throughGroup === null ? "" : ` (through ${item.throughGroup})`}
                  {grantEnd(item.grant) === "" ? "" : `, ${grantEnd(item.grant)}`} —{" "}
                  {OUTCOMES[item.outcome] ?? item.outcome}
                </li>
              ))}
            </ul>
          )}
          {answer.suggestion === null ? null : (
            <p className="muted">
              Would be allowed by {roleLabel(model, answer.suggestion.role)} on{" "}
              {scopeLabel(model, answer.suggestion.scope)}.
            </p>
          )}
          {answer.ownerOnly ? (
            <p className="muted">Only the owner can ever hold this permission.</p>
          ) : null}
        </div>
      )}
    </Card>
  );
}

/** The preset's role × permission matrix as a grid, grouped by the type each permission acts on. */
export function RolesPage(): React.JSX.Element {
  const { workspace, model } = useWorkspace();
  const matrix = useApi<RoleMatrix>(`${ws(workspace.id)}/roles`);
  if (matrix.loading && matrix.data === undefined) return <Loading />;
  if (matrix.data === undefined) return <ErrorNote error={matrix.error} retry={matrix.reload} />;
  const { roles, permissions, types } = matrix.data;
  const byType = types
    .map((type) => ({
      type,
      permissions: permissions.filter((permission) => permission.on[0] === type.name),
    }))
    .filter((group) => group.permissions.length > 0);
  return (
    <>
      <PageHeader
        title="Roles"
        description={`The ${model.label ?? matrix.data.preset} roles and what each holds. A permission held on a resource holds on everything below it.`}
      />
      <div className="stack">
        <Card title="Role × permission matrix">
          <p className="matrix-hint muted small" id="matrix-hint">
            Scroll the matrix sideways to see every role.
          </p>
          <section
            className="table-wrap matrix-wrap"
            aria-label="Role × permission matrix, scrolls sideways"
            aria-describedby="matrix-hint"
            // biome-ignore lint/a11y/noNoninteractiveTabindex: a region wider than a phone takes focus, so that the keyboard scrolls it
            tabIndex={0}
          >
            <table className="table matrix" aria-label="Role × permission matrix">
              <thead>
                <tr>
                  <th scope="col">Permission</th>
                  {roles.map((role) => (
                    <th scope="col" key={role.name} className="matrix-role">
                      <div>{role.label}</div>
                      <div className="muted small">
                        {role.scopes.map((scope) => typeLabel(model, scope)).join(", ")}
                      </div>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {byType.map((group) => (
                  <Fragment key={group.type.name}>
                    <tr className="matrix-group">
                      <th scope="colgroup" colSpan={roles.length + 1}>
                        On a {group.type.label.toLowerCase()}
                      </th>
                    </tr>
                    {group.permissions.map((permission) => (
                      <tr key={permission.name}>
                        <th scope="row" className="matrix-permission">
                          <code>{permission.name}</code>
                          {permission.ownerOnly ? (
                            <Badge tone="warning" title="Only the owner ever holds this">
                              owner only
                            </Badge>
                          ) : null}
                          <div className="muted small">{permission.description}</div>
                        </th>
                        {roles.map((role) => {
                          const held = role.permissions.includes(permission.name);
                          return (
                            <td
                              key={role.name}
                              className={held ? "matrix-cell matrix-yes" : "matrix-cell"}
                            >
                              <span aria-hidden="true" className={held ? undefined : "muted"}>
                                {held ? "✓" : "—"}
                              </span>
                              <span className="sr-only">{held ? "yes" : "no"}</span>
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </section>
        </Card>
        <WorkspaceRolesCard matrix={matrix.data} reload={matrix.reload} />
        <ExplainCard />
      </div>
    </>
  );
}
