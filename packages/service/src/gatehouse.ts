import type { Model } from "@gatehouse/engine";
import { Assistant, type AssistantOptions } from "./assistant/assistant.ts";
import { ActivityLog } from "./audit/activity-log.ts";
import type { Storage } from "./database/storage.ts";
import { Access } from "./decisions/access.ts";
import { Changes } from "./decisions/changes.ts";
import { Decisions } from "./decisions/decisions.ts";
import { HostCredentials } from "./host/host-credentials.ts";
import { HostUsers } from "./host/host-users.ts";
import { ModelChanges } from "./models/model-change.ts";
import { type ChangeEvent, type GatehouseOptions, ServiceCore } from "./service-core.ts";
import { EmailChanges } from "./sign-in/email-changes.ts";
import { MagicLinks } from "./sign-in/magic-links.ts";
import { OidcSignIn } from "./sign-in/oidc.ts";
import { Sessions, type SignInOptions, sessionPolicyOf } from "./sign-in/sessions.ts";
import { SignInHandoff } from "./sign-in/sign-in-handoff.ts";
import { MailQueue } from "./sign-in/sign-in-mail.ts";
import { SignUps } from "./sign-in/sign-ups.ts";
import { type SigningKeyOptions, SigningKeys } from "./sign-in/signing-keys.ts";
import { TwoFactor } from "./sign-in/two-factor.ts";
import { Users } from "./sign-in/users.ts";
import type { EngineCacheStats } from "./sync/engine-cache.ts";
import { AccessRequests } from "./team/access-requests.ts";
import { ApiKeys } from "./team/api-keys.ts";
import { Elevations } from "./team/elevations.ts";
import { Expiries } from "./team/expiries.ts";
import { Credentials, secretBoxOf } from "./team/integration-credentials.ts";
import { Invitations } from "./team/invitations.ts";
import { JoinRequests } from "./team/join-requests.ts";
import { Members } from "./team/members.ts";
import { Portability } from "./team/portability.ts";
import { Resources } from "./team/resources.ts";
import { WorkspaceRoles } from "./team/workspace-roles.ts";
import { Workspaces } from "./team/workspaces.ts";

/** The follower's state, for health checks and metrics. */
export interface SyncStatus {
  /** True while the PostgreSQL notification listener is connected. */
  readonly listening: boolean;
  readonly notifications: boolean;
  readonly pollIntervalMs: number;
  readonly maxStalenessMs: number;
  /** Workspaces held in memory. */
  readonly cachedWorkspaces: number;
  /** The engine cache's memory estimate, budget, loads and evictions. */
  readonly engineCache: EngineCacheStats;
}

/** The service layer: every workflow, stored durably, with decisions from engines kept in step. */
export interface Gatehouse {
  readonly users: Users;
  readonly workspaces: Workspaces;
  readonly members: Members;
  readonly invitations: Invitations;
  readonly joinRequests: JoinRequests;
  /** Just-in-time elevation: eligibilities, activated by the member for a bounded time. */
  readonly elevations: Elevations;
  /** Access requests: a member asks for a role at a resource for a while; approvers decide. */
  readonly accessRequests: AccessRequests;
  /** Tidies what ended by the clock: expired grants (to their fallback) and support memberships. */
  readonly expiries: Expiries;
  readonly resources: Resources;
  readonly apiKeys: ApiKeys;
  readonly decisions: Decisions;
  readonly changes: Changes;
  readonly activityLog: ActivityLog;
  readonly sessions: Sessions;
  readonly twoFactor: TwoFactor;
  readonly magicLinks: MagicLinks;
  readonly signUps: SignUps;
  /** Changing a user's email by a link mailed to the new address. */
  readonly emailChanges: EmailChanges;
  readonly credentials: Credentials;
  /** Workspace export and import (instance operator). */
  readonly portability: Portability;
  /** The assistant gate: tool registry, per-member declarations, the runtime gate. */
  readonly assistant: Assistant;
  /** Sign-in handoff into a resource's own admin app. */
  readonly signIn: SignInHandoff;
  /** The keys signing assertions, published as a JWKS. */
  readonly signingKeys: SigningKeys;
  /** The caller's own access, the role matrix and "view as" (for the console). */
  readonly access: Access;
  /** Roles a workspace defines for itself, where its model allows (docs/workspace-roles.md). */
  readonly workspaceRoles: WorkspaceRoles;
  /** The host application's credentials, managed by the instance operator. */
  readonly hostCredentials: HostCredentials;
  /** The panel's own users by its own ids, and host-issued sign-in links. */
  readonly hostUsers: HostUsers;
  /** OpenID Connect sign-in of the host's users, after the server has verified the ID token. */
  readonly oidc: OidcSignIn;
  readonly storage: Storage;
  /** The models workspaces may use, by name: the presets and the panel's own. */
  readonly models: Readonly<Record<string, Model>>;
  /** Model changes between starts, checked against the stored data (run before serving). */
  readonly modelChanges: ModelChanges;
  /**
   * Calls `listener` after every committed change this instance learns of, in revision order per
   * workspace: its own commits, and other instances' commits to workspaces it holds.
   */
  onChange(listener: (event: ChangeEvent) => void): () => void;
  /** How this instance follows other instances: listening to notifications, and its bounds. */
  readonly sync: SyncStatus;
  /**
   * Resolves once this instance listens to other instances' notifications (PostgreSQL), or at once
   * where there are none; changes are followed by polling meanwhile.
   */
  ready(): Promise<void>;
  /** Resolves once the sign-in mail queued so far has been handed to the `signInMail` port. */
  mailSettled(): Promise<void>;
  /** Hands queued sign-in mail to the port, stops following and closes the database connection. */
  close(): Promise<void>;
}

/**
 * Creates the service over an opened storage.
 * @example
 * const gatehouse = createGatehouse({ storage: await openSqlite({ file: "./data/gatehouse.db" }) });
 * const { user } = await gatehouse.users.signUp({ email: "ada@example.com", password: "a long passphrase" });
 */
export function createGatehouse(
  options: GatehouseOptions & SignInOptions & AssistantOptions & SigningKeyOptions,
): Gatehouse {
  const core = new ServiceCore(options);
  const box = secretBoxOf(options.secretKey);
  const sessionPolicy = sessionPolicyOf(options);
  const twoFactor = new TwoFactor(core, { box, issuer: options.totpIssuer ?? "Gatehouse" });
  const signingKeys = new SigningKeys(core, box, options);
  const members = new Members(core);
  const sessions = new Sessions(core, twoFactor, sessionPolicy);
  const invitations = new Invitations(core, (input) => sessions.login(input));
  const activityLog = new ActivityLog(core);
  const resources = new Resources(core);
  const apiKeys = new ApiKeys(core);
  const elevations = new Elevations(core, twoFactor);
  const accessRequests = new AccessRequests(core);
  const mailQueue = new MailQueue(
    options.onMailError ?? ((message) => console.error(`gatehouse: ${message}`)),
  );
  const started = core.follower.start();
  return {
    users: new Users(core),
    workspaces: new Workspaces(core),
    members,
    invitations,
    joinRequests: new JoinRequests(core),
    elevations,
    accessRequests,
    expiries: new Expiries(core),
    resources,
    apiKeys,
    decisions: new Decisions(core),
    changes: new Changes(core),
    activityLog,
    sessions,
    twoFactor,
    magicLinks: new MagicLinks(core, twoFactor, {
      policy: sessionPolicy,
      mail: options.signInMail,
      queue: mailQueue,
      signUpLimits: options.signUpLimits,
    }),
    signUps: new SignUps(core, {
      mail: options.signInMail,
      queue: mailQueue,
      limits: options.signUpLimits,
    }),
    emailChanges: new EmailChanges(core, { mail: options.signInMail, queue: mailQueue }),
    credentials: new Credentials(core, box),
    portability: new Portability(core),
    assistant: new Assistant(
      core,
      {
        keys: signingKeys,
        workflows: { members, invitations, activityLog, elevations, accessRequests },
      },
      options,
    ),
    signIn: new SignInHandoff(core, signingKeys),
    signingKeys,
    access: new Access(core),
    workspaceRoles: new WorkspaceRoles(core),
    hostCredentials: new HostCredentials(core),
    hostUsers: new HostUsers(core, members),
    oidc: new OidcSignIn(core),
    storage: core.storage,
    models: core.models,
    modelChanges: new ModelChanges(core, { resources, members, apiKeys }),
    onChange(listener) {
      core.events.on("change", listener);
      return () => core.events.off("change", listener);
    },
    sync: {
      get listening() {
        return core.follower.listening;
      },
      get cachedWorkspaces() {
        return core.engines.size;
      },
      get engineCache() {
        return core.engines.stats;
      },
      ...core.follower.options,
    },
    ready: () => started,
    mailSettled: () => mailQueue.settled(),
    async close() {
      await mailQueue.settled();
      await core.follower.stop();
      await core.snapshots.close();
      await core.storage.close();
    },
  };
}
