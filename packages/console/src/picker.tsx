import { useEffect, useId, useRef, useState } from "react";
import { api, type Group, type Member, ws } from "./api.ts";
import {
  rootTypeOf,
  scopeLabel,
  splitResource,
  typeLabel,
  typesInOrder,
  viewPermissionOf,
} from "./model.ts";
import type { useWorkspace } from "./session.tsx";

export interface PickerOption {
  readonly value: string;
  readonly label: string;
  /** A second, quieter line: the email, the resource's type. */
  readonly hint?: string;
}

/** One page of a picker's server-side search; `next` goes back as `after`. */
export interface PickerPage {
  readonly options: readonly PickerOption[];
  readonly next: string | null;
}

export type PickerSearch = (text: string, after: string | null) => Promise<PickerPage>;

/** Keystrokes within this many milliseconds make one search. */
const DEBOUNCE_MS = 200;
/** Options per page of a picker. */
export const PICKER_PAGE = 20;

/**
 * A type-ahead picker (an ARIA combobox with a listbox): the server searches as the person types,
 * ↑/↓ move, Enter chooses, Escape closes; "Show more" loads the next page. Nothing is loaded
 * beyond what is shown, so it works on 100,000 resources.
 * @example
 * <Picker id={id} value={scope} selectedLabel={label} search={searchScopes} onChange={setScope} />
 */
export function Picker(props: {
  readonly id?: string;
  /** The accessible name when no `<label>` points at `id`. */
  readonly label?: string;
  readonly value: string;
  /** What the input shows for `value` when the list is closed. */
  readonly selectedLabel: string;
  readonly onChange: (value: string, option: PickerOption | undefined) => void;
  readonly search: PickerSearch;
  readonly placeholder?: string;
  readonly required?: boolean;
  readonly disabled?: boolean;
  readonly small?: boolean;
  /** An option offered first, before any search (e.g. "Anyone"); choosing it clears the text. */
  readonly empty?: PickerOption;
}): React.JSX.Element {
  const listId = useId();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState(props.selectedLabel);
  const [options, setOptions] = useState<readonly PickerOption[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [active, setActive] = useState(-1);
  const [loading, setLoading] = useState(false);
  const [failed, setFailed] = useState(false);
  const generation = useRef(0);
  const searchRef = useRef(props.search);
  searchRef.current = props.search;

  // The input shows the chosen option's label whenever the list is closed.
  useEffect(() => {
    if (!open) setText(props.selectedLabel);
  }, [props.selectedLabel, open]);

  const load = (query: string, after: string | null) => {
    const current = ++generation.current;
    setLoading(true);
    searchRef.current(query, after).then(
      (page) => {
        if (current !== generation.current) return;
        setOptions((previous) => (after === null ? page.options : [...previous, ...page.options]));
        setNext(page.next);
        setFailed(false);
        setLoading(false);
        if (after === null) setActive(page.options.length > 0 ? 0 : -1);
      },
      () => {
        if (current !== generation.current) return;
        setFailed(true);
        setLoading(false);
      },
    );
  };

  // Debounced search while open: one request per pause in typing.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `load` is recreated each render; the text and open state decide
  useEffect(() => {
    if (!open) return;
    const query = text === props.selectedLabel ? "" : text;
    const timer = setTimeout(() => load(query.trim(), null), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, open]);

  const shown: readonly PickerOption[] =
    props.empty !== undefined && (text === "" || text === props.selectedLabel)
      ? [props.empty, ...options]
      : options;
  const moreIndex = next === null ? -1 : shown.length;
  const count = shown.length + (next === null ? 0 : 1);

  const choose = (option: PickerOption) => {
    props.onChange(option.value, option);
    setOpen(false);
    setText(option === props.empty ? "" : option.label);
  };
  const more = () => {
    if (next !== null) load(text === props.selectedLabel ? "" : text.trim(), next);
  };
  const close = () => {
    generation.current++;
    setOpen(false);
    setLoading(false);
    setText(props.selectedLabel);
  };

  const onKeyDown = (event: React.KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) {
        setOpen(true);
        return;
      }
      if (count === 0) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive((index) => (index + step + count) % count);
    } else if (event.key === "Enter") {
      if (!open) return;
      event.preventDefault();
      if (active === moreIndex) more();
      else if (shown[active] !== undefined) choose(shown[active]);
    } else if (event.key === "Escape") {
      if (open) {
        event.preventDefault();
        close();
      }
    }
  };

  const optionId = (index: number) => `${listId}-${index}`;
  return (
    <div className={`picker${props.small ? " picker-small" : ""}`}>
      <input
        id={props.id}
        className={`input${props.small ? " input-small" : ""}`}
        role="combobox"
        aria-label={props.label}
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && active >= 0 ? optionId(active) : undefined}
        autoComplete="off"
        spellCheck={false}
        placeholder={props.placeholder ?? "Type to search…"}
        required={props.required}
        disabled={props.disabled}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
        }}
        onFocus={(event) => event.target.select()}
        onClick={() => setOpen(true)}
        onBlur={close}
        onKeyDown={onKeyDown}
      />
      <div className="picker-popup" hidden={!open}>
        <div
          id={listId}
          role="listbox"
          className="picker-list"
          aria-label={props.label === undefined ? "Matches" : `${props.label} matches`}
        >
          {shown.map((option, index) => (
            // biome-ignore lint/a11y/useKeyWithClickEvents: keys act on the combobox (aria-activedescendant), as the ARIA combobox pattern has it
            <div
              key={option.value}
              id={optionId(index)}
              role="option"
              tabIndex={-1}
              aria-selected={index === active}
              className={`picker-option${index === active ? " is-active" : ""}`}
              onMouseDown={(event) => event.preventDefault()}
              onClick={() => choose(option)}
            >
              <span className="picker-label">{option.label}</span>
              {option.hint === undefined ? null : (
                <span className="picker-hint">{option.hint}</span>
              )}
            </div>
          ))}
          {next === null ? null : (
            // biome-ignore lint/a11y/useKeyWithClickEvents: keys act on the combobox (aria-activedescendant), as the ARIA combobox pattern has it
            <div
              id={optionId(moreIndex)}
              role="option"
              tabIndex={-1}
              aria-selected={active === moreIndex}
              className={`picker-option picker-more${active === moreIndex ? " is-active" : ""}`}
              onMouseDown={(event) => event.preventDefault()}
              onClick={more}
            >
              Show more matches
            </div>
          )}
        </div>
        <p className="picker-note" aria-live="polite">
          {loading
            ? "Searching…"
            : failed
              ? "The search failed; type again to retry."
              : shown.length === 0
                ? `Nothing matches “${text}”`
                : ""}
        </p>
      </div>
    </div>
  );
}

/**
 * Searches the resources of `types` the caller may see, one type after the other; the cursor is
 * the type's position and the API's `next` within it.
 * @example
 * const search = resourceSearch(workspace.id, model, ["server", "site"]);
 */
export function resourceSearch(
  workspaceId: string,
  model: ReturnType<typeof useWorkspace>["model"],
  types: readonly string[],
): PickerSearch {
  return async (text, after) => {
    const [start, within] =
      after === null
        ? [0, null]
        : [Number(after.slice(0, after.indexOf("|"))), after.slice(after.indexOf("|") + 1) || null];
    const options: PickerOption[] = [];
    for (let index = start; index < types.length; index++) {
      const type = types[index]!;
      const permission = viewPermissionOf(model, type);
      if (permission === undefined) continue;
      const query = new URLSearchParams({
        type,
        permission,
        limit: String(PICKER_PAGE - options.length),
      });
      if (text !== "") query.set("q", text);
      const cursor = index === start ? within : null;
      if (cursor !== null) query.set("after", cursor);
      const page = await api<{ items: string[]; next: string | null }>(
        "GET",
        `${ws(workspaceId)}/resources?${query}`,
      );
      for (const resource of page.items)
        options.push({
          value: resource,
          label: splitResource(resource).id,
          hint: typeLabel(model, type),
        });
      if (page.next !== null) return { options, next: `${index}|${page.next}` };
      if (options.length >= PICKER_PAGE)
        return { options, next: index + 1 < types.length ? `${index + 1}|` : null };
    }
    return { options, next: null };
  };
}

/**
 * Searches every resource the caller may see, in the tree's order of types, with "Whole workspace"
 * first when it matches the text.
 * @example
 * <Picker search={anyResourceSearch(workspace.id, model)} … />
 */
export function anyResourceSearch(
  workspaceId: string,
  model: ReturnType<typeof useWorkspace>["model"],
): PickerSearch {
  const resources = resourceSearch(workspaceId, model, typesInOrder(model));
  const rootScope = `${rootTypeOf(model)}:${workspaceId}`;
  return async (text, after) => {
    const page = await resources(text, after);
    const label = scopeLabel(model, rootScope);
    if (after !== null || !label.toLowerCase().includes(text.toLowerCase())) return page;
    return { ...page, options: [{ value: rootScope, label }, ...page.options] };
  };
}

/**
 * Searches the workspace's members by email or name; `found` (when given) keeps each member shown,
 * by user id, for the form that needs more than the option (their grants, their groups).
 * @example
 * const search = memberSearch(workspace.id);
 */
export function memberSearch(
  workspaceId: string,
  keep: (member: Member) => boolean = () => true,
  found?: Map<string, Member>,
): PickerSearch {
  return async (text, after) => {
    const page = await searchPage<{ members: Member[] }>(
      `${ws(workspaceId)}/members`,
      text,
      after,
      PICKER_PAGE,
    );
    const members = page.members.filter(keep);
    for (const member of members) found?.set(member.userId, member);
    return {
      options: members.map((member) => ({
        value: member.userId,
        label: member.name || member.email,
        hint: member.email,
      })),
      next: page.next,
    };
  };
}

/** One page of a `q`/`limit`/`after` list of the API. */
function searchPage<T>(
  path: string,
  text: string,
  after: string | null,
  limit: number,
): Promise<T & { next: string | null }> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (text !== "") query.set("q", text);
  if (after !== null) query.set("after", after);
  return api<T & { next: string | null }>("GET", `${path}?${query}`);
}

/** Someone a grant can go to: a member, or a team (group) whose role is every member's. */
export type Grantee =
  | { readonly kind: "user"; readonly member: Member }
  | { readonly kind: "group"; readonly group: Group };

/**
 * Searches the members (by email or name), then the teams (by name), as grant subjects
 * (`user:<id>`, `group:<id>`); `found` keeps each one shown by that value. The cursor is the list
 * ("m" or "g") and the API's `next` within it.
 * @example
 * const found = new Map<string, Grantee>();
 * <Picker search={granteeSearch(workspace.id, found)} … />
 */
export function granteeSearch(
  workspaceId: string,
  found: Map<string, Grantee>,
  keep: (grantee: Grantee) => boolean = () => true,
): PickerSearch {
  return async (text, after) => {
    const [list, within] =
      after === null ? ["m", null] : [after.slice(0, 1), after.slice(2) || null];
    const options: PickerOption[] = [];
    const add = (value: string, grantee: Grantee, option: Omit<PickerOption, "value">) => {
      if (!keep(grantee)) return;
      found.set(value, grantee);
      options.push({ value, ...option });
    };
    if (list === "m") {
      const page = await searchPage<{ members: Member[] }>(
        `${ws(workspaceId)}/members`,
        text,
        within,
        PICKER_PAGE,
      );
      for (const member of page.members)
        add(
          `user:${member.userId}`,
          { kind: "user", member },
          { label: member.name || member.email, hint: member.email },
        );
      if (page.next !== null) return { options, next: `m|${page.next}` };
      if (options.length >= PICKER_PAGE) return { options, next: "g|" };
    }
    const page = await searchPage<{ groups: Group[] }>(
      `${ws(workspaceId)}/groups`,
      text,
      list === "g" ? within : null,
      PICKER_PAGE - (list === "m" ? options.length : 0),
    );
    for (const group of page.groups)
      add(
        `group:${group.id}`,
        { kind: "group", group },
        {
          label: group.name,
          hint: `Group · ${group.members.length} ${group.members.length === 1 ? "person" : "people"}`,
        },
      );
    return { options, next: page.next === null ? null : `g|${page.next}` };
  };
}

/** The label a picker shows for a chosen resource scope: "Whole workspace", or the resource's id. */
export function resourceLabel(
  model: ReturnType<typeof useWorkspace>["model"],
  resource: string,
): string {
  if (resource === "") return "";
  return splitResource(resource).type === rootTypeOf(model)
    ? scopeLabel(model, resource)
    : splitResource(resource).id;
}
