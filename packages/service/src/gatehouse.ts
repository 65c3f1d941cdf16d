import type { Model } from "@gatehouse/engine";
import type { Storage } from "./database/storage.ts";
import { type ChangeEvent, type GatehouseOptions, ServiceCore } from "./service-core.ts";
import { Access } from "./workflows/access.ts";
import { ActivityLog } from "./workflows/activity-log.ts";
import { ApiKeys } from "./workflows/api-keys.ts";
import { Credentials, secretBoxOf } from "./workflows/credentials.ts";
import { Decisions } from "./workflows/decisions.ts";
import { Invitations } from "./workflows/invitations.ts";
import { JoinRequests } from "./workflows/join-requests.ts";
import { MagicLinks } from "./workflows/magic-links.ts";
import { Members } from "./workflows/members.ts";
import { Resources } from "./workflows/resources.ts";
import { Sessions, type SignInOptions, sessionPolicyOf } from "./workflows/sessions.ts";
import { TwoFactor } from "./workflows/two-factor.ts";
import { Users } from "./workflows/users.ts";
import { Workspaces } from "./workflows/workspaces.ts";

/** The service layer: every workflow, stored durably, with decisions from engines kept in step. */
export interface Gatehouse {
  readonly users: Users;
  readonly workspaces: Workspaces;
  readonly members: Members;
  readonly invitations: Invitations;
  readonly joinRequests: JoinRequests;
  readonly resources: Resources;
  readonly apiKeys: ApiKeys;
  readonly decisions: Decisions;
  readonly activityLog: ActivityLog;
  readonly sessions: Sessions;
  readonly twoFactor: TwoFactor;
  readonly magicLinks: MagicLinks;
  readonly credentials: Credentials;
  /** The caller's own access, the role matrix and "view as" (for the console). */
  readonly access: Access;
  readonly storage: Storage;
  /** The models workspaces may use, by preset name. */
  readonly models: Readonly<Record<string, Model>>;
  /** Calls `listener` after every committed change (for caches and other instances). */
  onChange(listener: (event: ChangeEvent) => void): () => void;
  /** Closes the database connection. */
  close(): Promise<void>;
}

/**
 * Creates the service over an opened storage.
 * @example
 * const gatehouse = createGatehouse({ storage: await openSqlite({ file: "./data/gatehouse.db" }) });
 * const { user } = await gatehouse.users.signUp({ email: "ada@example.com", password: "a long passphrase" });
 */
export function createGatehouse(options: GatehouseOptions & SignInOptions): Gatehouse {
  const core = new ServiceCore(options);
  const box = secretBoxOf(options.secretKey);
  const sessionPolicy = sessionPolicyOf(options);
  const twoFactor = new TwoFactor(core, { box, issuer: options.totpIssuer ?? "Gatehouse" });
  return {
    users: new Users(core),
    workspaces: new Workspaces(core),
    members: new Members(core),
    invitations: new Invitations(core),
    joinRequests: new JoinRequests(core),
    resources: new Resources(core),
    apiKeys: new ApiKeys(core),
    decisions: new Decisions(core),
    activityLog: new ActivityLog(core),
    sessions: new Sessions(core, twoFactor, sessionPolicy),
    twoFactor,
    magicLinks: new MagicLinks(core, twoFactor, sessionPolicy),
    credentials: new Credentials(core, box),
    access: new Access(core),
    storage: core.storage,
    models: core.models,
    onChange(listener) {
      core.events.on("change", listener);
      return () => core.events.off("change", listener);
    },
    close: () => core.storage.close(),
  };
}
