import { api, isApiError, type ModelDefinition, ws } from "../api.ts";
import { rootTypeOf, splitResource, typeLabel, typesInOrder } from "../model.ts";
import { useWorkspace } from "../session.tsx";
import { Button, Card, ErrorNote, Notice, useAction } from "../ui.tsx";

/**
 * The per-resource view in words: what the caller can do there (the model's descriptions, grouped
 * by what they act on, never permission codes) and the sign-in to the resource's own admin app.
 */

function actsOn(model: ModelDefinition, permission: string): readonly string[] {
  const on = model.permissions[permission]?.on;
  return on === undefined ? [] : typeof on === "string" ? [on] : on;
}

/** "On this site", "On every site of this server", "In the whole workspace". */
function headingOf(model: ModelDefinition, type: string, resourceType: string): string {
  const isRoot = resourceType === rootTypeOf(model);
  const label = typeLabel(model, type).toLowerCase();
  if (type === resourceType) return isRoot ? `In the whole ${label}` : `On this ${label}`;
  return isRoot
    ? `On every ${label}`
    : `On every ${label} of this ${typeLabel(model, resourceType).toLowerCase()}`;
}

/** What the caller can do on `resource`, as actions in words, grouped by the type they act on. */
export function ActionsCard(props: {
  readonly resource: string;
  readonly held: readonly string[];
}): React.JSX.Element {
  const { model } = useWorkspace();
  const { type } = splitResource(props.resource);
  const order = [type, ...typesInOrder(model).filter((other) => other !== type)];
  const groups = new Map<string, string[]>();
  for (const permission of props.held) {
    const types = actsOn(model, permission);
    const home = order.find((candidate) => types.includes(candidate)) ?? type;
    groups.set(home, [...(groups.get(home) ?? []), permission]);
  }
  const sorted = order.flatMap((home) => {
    const permissions = groups.get(home);
    return permissions === undefined ? [] : [[home, permissions] as const];
  });
  return (
    <Card
      title="What you can do here"
      description={`${props.held.length} ${props.held.length === 1 ? "action" : "actions"} your access gives you.`}
    >
      <div className="permission-groups">
        {sorted.map(([home, permissions]) => {
          const heading = headingOf(model, home, type);
          return (
            <div className="permission-group" key={home}>
              <h3>{heading}</h3>
              <ul className="permission-list" aria-label={heading}>
                {permissions.map((permission) => (
                  <li key={permission}>
                    <span className="check" aria-hidden="true">
                      ✓
                    </span>
                    <span className="permission-title">
                      {model.permissions[permission]?.description ?? permission}
                    </span>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
      </div>
    </Card>
  );
}

/**
 * The one-time sign-in to the resource's own admin app (wp-admin, say), for those the model's
 * sign-in gate lets in; absent for everyone else.
 */
export function AdminSignIn(props: {
  readonly resource: string;
  readonly held: readonly string[];
}): React.JSX.Element | null {
  const { workspace, model, canWrite } = useWorkspace();
  const action = useAction();
  const { type, id } = splitResource(props.resource);
  const gate = model.gates?.signIn?.[type];
  if (gate === undefined || !props.held.includes(gate)) return null;
  const label = typeLabel(model, type).toLowerCase();
  const missing = isApiError(action.error, "SIGN_IN_NOT_CONFIGURED");
  return (
    <Card
      title="Admin app"
      description={`Open the ${label}'s own admin, signed in as you, without a separate password.`}
    >
      <div className="button-row">
        <Button
          variant="primary"
          busy={action.busy}
          disabled={!canWrite}
          onClick={() =>
            action.run(async () => {
              const link = await api<{ url: string }>(
                "POST",
                `${ws(workspace.id)}/resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}/sign-in`,
              );
              window.location.assign(link.url);
            })
          }
        >
          Sign in to the admin of {id}
        </Button>
      </div>
      {canWrite ? null : (
        <p className="muted small">Signing in is for the member themselves, not in a preview.</p>
      )}
      {missing ? (
        <Notice tone="warning">
          This {label} has no admin app to sign in to yet: whoever runs it sets it up first.
        </Notice>
      ) : (
        <ErrorNote error={action.error} />
      )}
    </Card>
  );
}
