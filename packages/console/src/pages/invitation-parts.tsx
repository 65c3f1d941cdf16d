import type { Invitation, ModelDefinition } from "../api.ts";
import { roleLabel, scopeLabel } from "../model.ts";

/** A team to pick: its id and name. */
export interface TeamChoice {
  readonly id: string;
  readonly name: string;
}

/**
 * What an invitation (or an approval) gives, in words: the role at its scopes and the teams, e.g.
 * "Web Admin on Hosting acme-web; team C1 web".
 */
export function offerWords(
  model: ModelDefinition,
  offer: {
    readonly role: string | null;
    readonly scopes: readonly string[];
    readonly groups: readonly TeamChoice[];
  },
): string {
  const role =
    offer.role === null
      ? []
      : [
          `${roleLabel(model, offer.role)} on ${offer.scopes.map((scope) => scopeLabel(model, scope)).join(", ")}`,
        ];
  return [...role, ...offer.groups.map((group) => `team ${group.name}`)].join("; ");
}

/** The teams an invitation puts its invitee in, as words; empty for none. */
export function teamsOf(invitation: Invitation): string {
  return invitation.groups.map((group) => group.name).join(", ");
}

/**
 * A team picker: "No team" or one of `teams`. Joining a team gives its grants; the server checks
 * the caller may manage it (give every grant it holds).
 */
export function TeamSelect(props: {
  readonly id: string;
  readonly teams: readonly TeamChoice[];
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly label?: string;
  readonly small?: boolean;
}): React.JSX.Element {
  return (
    <select
      id={props.id}
      className={props.small ? "select select-small" : "select"}
      aria-label={props.label}
      value={props.value}
      onChange={(event) => props.onChange(event.target.value)}
    >
      <option value="">No team</option>
      {props.teams.map((team) => (
        <option key={team.id} value={team.id}>
          {team.name}
        </option>
      ))}
    </select>
  );
}
