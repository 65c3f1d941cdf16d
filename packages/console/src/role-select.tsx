import { roleLabel } from "./model.ts";
import { useWorkspace } from "./session.tsx";

/**
 * A choice among `roles`, each in the model's words; `none` puts a first option for no role ("").
 * Inside a `Field`, pass its `id`; on its own (a table row), a `label` for screen readers.
 */
export function RoleSelect(props: {
  readonly id?: string;
  readonly label?: string;
  readonly roles: readonly string[];
  readonly value: string;
  readonly onChange: (role: string) => void;
  readonly none?: string | undefined;
  readonly required?: boolean;
  readonly small?: boolean;
}): React.JSX.Element {
  const { model } = useWorkspace();
  return (
    <select
      id={props.id}
      aria-label={props.label}
      className={props.small === true ? "select select-small" : "select"}
      required={props.required}
      value={props.value}
      onChange={(event) => props.onChange(event.target.value)}
    >
      {props.none === undefined ? null : <option value="">{props.none}</option>}
      {props.roles.map((name) => (
        <option key={name} value={name}>
          {roleLabel(model, name)}
        </option>
      ))}
    </select>
  );
}
