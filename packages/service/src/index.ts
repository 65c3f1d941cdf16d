export type { Actor, Origin, RequestContext } from "./actor.ts";
export { asUser, systemActor } from "./actor.ts";
export type { ChainVerification } from "./audit/chain.ts";
export { migrateToLatest } from "./database/migrate.ts";
export { openStorage } from "./database/open-storage.ts";
export type { PostgresOptions } from "./database/postgres/open.ts";
export { openPostgres } from "./database/postgres/open.ts";
export type { Database } from "./database/schema.ts";
export type { SqliteOptions } from "./database/sqlite/open.ts";
export { openSqlite } from "./database/sqlite/open.ts";
export type { Storage } from "./database/storage.ts";
export type { ChangeOp } from "./engine-sync.ts";
export type { Gatehouse } from "./gatehouse.ts";
export { createGatehouse } from "./gatehouse.ts";
export type { ChangeEvent, GatehouseOptions } from "./service-core.ts";
export type { ScryptCost } from "./support/passwords.ts";
export type { AccessSummary, RoleMatrix, RoleRow, Workflows } from "./workflows/access.ts";
export type {
  AuditEntry,
  AuditFilter,
  AuditPage,
  AuditQuery,
  ExportFormat,
} from "./workflows/activity-log.ts";
export type {
  ApiKeyCredentials,
  ApiKeyInfo,
  ApiKeyStatus,
  NewApiKey,
} from "./workflows/api-keys.ts";
export type { CredentialInfo } from "./workflows/credentials.ts";
export type { Capabilities, DecisionQuery } from "./workflows/decisions.ts";
export type {
  AcceptInput,
  InvitationInfo,
  InvitationPreview,
  InvitationStatus,
} from "./workflows/invitations.ts";
export type { JoinRequestInfo, JoinRequestStatus } from "./workflows/join-requests.ts";
export type { MagicLink } from "./workflows/magic-links.ts";
export type { GrantSpec, Group, Member } from "./workflows/members.ts";
export type {
  NewSession,
  SessionCredentials,
  SessionInfo,
  SignInOptions,
} from "./workflows/sessions.ts";
export type { TotpEnrollment, TwoFactorStatus } from "./workflows/two-factor.ts";
export type { User } from "./workflows/users.ts";
export type { PlanSeats, Workspace, WorkspaceSettings } from "./workflows/workspaces.ts";
