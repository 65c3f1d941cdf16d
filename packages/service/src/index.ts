export type { ChangeOp } from "@gatehouse/engine";
export type { Actor, Origin, RequestContext } from "./actor.ts";
export { asAssistant, asUser, systemActor } from "./actor.ts";
export type { ChainVerification } from "./audit/chain.ts";
export { migrateToLatest } from "./database/migrate.ts";
export type { StorageOptions } from "./database/open-storage.ts";
export { openStorage } from "./database/open-storage.ts";
export type { PostgresOptions } from "./database/postgres/open.ts";
export { openPostgres } from "./database/postgres/open.ts";
export type { Database } from "./database/schema.ts";
export type { SqliteOptions } from "./database/sqlite/open.ts";
export { openSqlite } from "./database/sqlite/open.ts";
export type { ChangeFeed, ChangeNotice, Storage } from "./database/storage.ts";
export type { Gatehouse, SyncStatus } from "./gatehouse.ts";
export { createGatehouse } from "./gatehouse.ts";
export type { ChangeEvent, GatehouseOptions, ReadOptions } from "./service-core.ts";
export type { ScryptCost } from "./support/passwords.ts";
export type { FollowOptions } from "./sync/change-follower.ts";
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
export type {
  AssistantOptions,
  CallOptions,
  ToolCall,
  ToolCallOutcome,
} from "./workflows/assistant.ts";
export type {
  AssistantTool,
  RegisteredTool,
  ToolDeclaration,
  ToolFormat,
  ToolRegistration,
  ToolRuntime,
} from "./workflows/assistant-tools.ts";
export { toolDeclaration } from "./workflows/assistant-tools.ts";
export type { Change, ChangePage, WorkspaceSnapshot } from "./workflows/changes.ts";
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
  ExportedGrant,
  ExportedGroup,
  ExportedMember,
  ImportCounts,
  ImportOptions,
  ImportProgress,
  ImportResult,
  WorkspaceExport,
} from "./workflows/portability.ts";
export { EXPORT_FORMAT, EXPORT_VERSION } from "./workflows/portability.ts";
export type {
  NewSession,
  SessionCredentials,
  SessionInfo,
  SignInOptions,
} from "./workflows/sessions.ts";
export type {
  SignInAssertion,
  SignInLink,
  SignInTarget,
} from "./workflows/sign-in-handoff.ts";
export { SIGN_IN_LINK_TTL_MS, SIGN_IN_TYPE } from "./workflows/sign-in-handoff.ts";
export type { PublishedKey, SigningKeyOptions } from "./workflows/signing-keys.ts";
export { ASSERTION_ALG } from "./workflows/signing-keys.ts";
export type { CallHooks } from "./workflows/team-tools.ts";
export { ASSERTION_HEADER, TOOL_CALL_TYPE } from "./workflows/tool-forwarding.ts";
export type { TotpEnrollment, TwoFactorStatus } from "./workflows/two-factor.ts";
export type { User } from "./workflows/users.ts";
export type { PlanSeats, Workspace, WorkspaceSettings } from "./workflows/workspaces.ts";
