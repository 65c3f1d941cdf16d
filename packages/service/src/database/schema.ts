import type { ColumnType } from "kysely";

/**
 * The tables, as Kysely sees them. Times are epoch milliseconds (bigint), booleans 0/1 and lists
 * JSON text, so both backends store the same values.
 */
export interface Database {
  instance: InstanceTable;
  instance_log: InstanceLogTable;
  users: UsersTable;
  workspaces: WorkspacesTable;
  members: MembersTable;
  resources: ResourcesTable;
  grants: GrantsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  invitations: InvitationsTable;
  join_requests: JoinRequestsTable;
  access_requests: AccessRequestsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  changes: ChangesTable;
  engine_snapshots: EngineSnapshotsTable;
  sessions: SessionsTable;
  recovery_codes: RecoveryCodesTable;
  magic_links: MagicLinksTable;
  email_changes: EmailChangesTable;
  login_attempts: LoginAttemptsTable;
  integration_credentials: IntegrationCredentialsTable;
  assistant_tools: AssistantToolsTable;
  sign_in_targets: SignInTargetsTable;
  sign_in_links: SignInLinksTable;
  signing_keys: SigningKeysTable;
  models: ModelsTable;
  host_credentials: HostCredentialsTable;
  eligibilities: EligibilitiesTable;
  workspace_roles: WorkspaceRolesTable;
}

/** A workspace's own role (docs/workspace-roles.md); `scopes` and `permissions` are JSON arrays. */
export interface WorkspaceRolesTable {
  workspace_id: string;
  name: string;
  label: string;
  description: string;
  scopes: string;
  permissions: string;
  created_at: number;
  created_by: string;
}

/** One row (id 1): the head of the instance-level log. */
export interface InstanceTable {
  id: number;
  log_seq: number;
  log_head: string;
}

export interface InstanceLogTable {
  seq: number;
  at: number;
  action: string;
  workspace_id: string | null;
  actor: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  created_at: number;
  /** The TOTP secret, sealed when a secret key is configured; pending until `totp_enabled_at`. */
  totp_secret: string | null;
  totp_enabled_at: number | null;
  /** The last TOTP time step accepted: a code of this step or an earlier one is refused. */
  totp_last_step: number | null;
  /** The host credential's name that provisioned this user by the host's own id; null otherwise. */
  provisioned_by: string | null;
}

export interface WorkspacesTable {
  id: string;
  name: string;
  preset: string;
  plan: string | null;
  personal: number;
  join_key: string | null;
  require_2fa: number;
  /** `null`: the model's policy decides. */
  one_workspace_per_email: number | null;
  revision: number;
  audit_seq: number;
  audit_head: string;
  created_at: number;
  closed_at: number | null;
}

export interface MembersTable {
  workspace_id: string;
  user_id: string;
  joined_at: number;
  /** A support person's membership ends here (approved support access); null for members. */
  support_until: number | null;
}

export interface ResourcesTable {
  workspace_id: string;
  resource: string;
  parent: string;
  created_at: number;
}

export interface GrantsTable {
  workspace_id: string;
  subject: string;
  scope: string;
  role: string;
  extras: string;
  expires_at: number | null;
  created_at: number;
  created_by: string;
  /** The engine's opaque note: set on a just-in-time elevation's grant (#18), null otherwise. */
  note: ColumnType<string | null, string | null | undefined, string | null>;
  /** The role a temporary grant falls back to at `expires_at` (`Grant.fallback`); null for none. */
  fallback_role: ColumnType<string | null, string | null | undefined, string | null>;
  /** The fallback's extras as a JSON list; null when there is no fallback. */
  fallback_extras: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A member's eligibility for a role at a scope, activated for a bounded time (#18). */
export interface EligibilitiesTable {
  workspace_id: string;
  id: string;
  /** `user:<id>`. */
  subject: string;
  role: string;
  scope: string;
  max_duration_ms: number;
  require_2fa: number;
  created_at: number;
  created_by: string;
}

export interface GroupsTable {
  workspace_id: string;
  group_id: string;
  name: string;
  created_at: number;
}

export interface GroupMembersTable {
  workspace_id: string;
  group_id: string;
  user_id: string;
}

export interface InvitationsTable {
  id: string;
  workspace_id: string;
  email: string;
  role: string;
  scopes: string;
  extras: string;
  token_hash: string;
  /** The copyable link's token (a second way in, replaced on every copy); null until copied. */
  link_token_hash: string | null;
  /** The teams (groups) the invitee joins on accepting: a JSON list of group ids. */
  group_ids: string;
  invited_by: string;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  accepted_by: string | null;
  revoked_at: number | null;
}

export interface JoinRequestsTable {
  id: string;
  workspace_id: string;
  user_id: string;
  note: string;
  created_at: number;
  status: "pending" | "approved" | "rejected";
  decided_by: string | null;
  decided_at: number | null;
}

export interface AccessRequestsTable {
  id: string;
  workspace_id: string;
  user_id: string;
  role: string;
  scope: string;
  reason: string;
  duration_minutes: number;
  created_at: number;
  /** When a pending request lapses undecided. */
  expires_at: number;
  /** `revoked`: an approved grant ended early by an administrator. */
  status: "pending" | "approved" | "rejected" | "withdrawn" | "revoked";
  /** The host that asked for one of its support people (support access); null for a member's own. */
  requested_by: string | null;
  decided_by: string | null;
  decided_at: number | null;
  /** The rejection's reason. */
  decision_note: string | null;
  granted_role: string | null;
  granted_scope: string | null;
  granted_until: number | null;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  owner_user_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  scopes: string;
  resources: string;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
}

/** A host application's credential: the secret's hash, optionally limited to some workspaces. */
export interface HostCredentialsTable {
  id: string;
  name: string;
  /** `ghh_` and 8 characters of the id: the secret's public beginning. */
  prefix: string;
  secret_hash: string;
  /** JSON list of workspace ids; null for every workspace. */
  workspaces: string | null;
  created_at: number;
  revoked_at: number | null;
}

export interface AuditLogTable {
  workspace_id: string;
  seq: number;
  at: number;
  actor_type: string;
  actor_id: string;
  on_behalf_of: string | null;
  action: string;
  target: string | null;
  result: string;
  ip: string | null;
  agent: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** The engine operations of each committed revision, for caches and other instances to replay. */
export interface ChangesTable {
  workspace_id: string;
  revision: number;
  at: number;
  ops: string;
}

/** Per workspace, its engine's compact snapshot at `revision` (`Engine.snapshot`). */
export interface EngineSnapshotsTable {
  workspace_id: string;
  revision: number;
  /** The engine's snapshot format when written. */
  format: number;
  /** SHA-256 of `data`, hex. */
  checksum: string;
  data: Uint8Array;
  created_at: number;
}

/** Sign-in sessions; the token itself is never stored, only its SHA-256. */
export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: number;
  /** The absolute end of the session; the idle timeout may end it sooner. */
  expires_at: number;
  last_seen_at: number;
  ip: string | null;
  agent: string | null;
  revoked_at: number | null;
}

/** Two-factor recovery codes: only their SHA-256; each works once. */
export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface MagicLinksTable {
  token_hash: string;
  email: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  ip: string | null;
  /** A sign-up link: the new account's name; null for sign-in links. */
  signup_name: string | null;
}

/** A pending change of a user's email: the link mailed to the new address, stored hashed. */
export interface EmailChangesTable {
  token_hash: string;
  user_id: string;
  /** The new address, normalized. */
  email: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  ip: string | null;
}

/** One counted attempt in one throttling bucket (account or IP), shared by every instance. */
export interface LoginAttemptsTable {
  id: string;
  bucket: string;
  key: string;
  at: number;
}

/** Owner-only integration secrets, sealed with AES-256-GCM; write-only for people. */
export interface IntegrationCredentialsTable {
  workspace_id: string;
  name: string;
  sealed_value: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

/** The host app's assistant tools of a workspace (the assistant gate). */
export interface AssistantToolsTable {
  workspace_id: string;
  name: string;
  description: string;
  /** The input's JSON Schema, as JSON text. */
  input_schema: string;
  permission: string;
  /** `type:{field}`: the resource a call acts on; `null` for the workspace root. */
  resource: string | null;
  /** Where an allowed call is forwarded; `null` when the host app runs the tool itself. */
  endpoint: string | null;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

/** The admin app a resource's sign-in links lead to (the sign-in handoff); its URL is the assertions' audience. */
export interface SignInTargetsTable {
  workspace_id: string;
  resource: string;
  url: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

/** One-time sign-in links; only the token's SHA-256 is stored. */
export interface SignInLinksTable {
  token_hash: string;
  workspace_id: string;
  resource: string;
  user_id: string;
  /** The API key that asked for the link, re-checked when it is used. */
  key_id: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** Keys signing assertions (sign-in handoff, forwarded tool calls); private halves sealed. */
export interface SigningKeysTable {
  kid: string;
  /** 1, 2, 3, …: orders keys that activate at the same millisecond. */
  generation: number;
  alg: string;
  public_jwk: string;
  sealed_private_jwk: string;
  /** Published in the JWKS from then on. */
  created_at: number;
  /** Signs from then on, until a newer key activates. */
  activates_at: number;
  /** Dropped from the JWKS then; `null` while it is the newest key. */
  published_until: number | null;
}

/** A model as the instance last served it (JSON definition), to check the next one against. */
export interface ModelsTable {
  name: string;
  definition: string;
  /** SHA-256 of the definition's canonical JSON. */
  fingerprint: string;
  applied_at: number;
}
