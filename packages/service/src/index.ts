export type { ChangeOp } from "@gatehouse/engine";
export type { Actor, HostCredentialRef, Origin, RequestContext } from "./actor.ts";
export { asAssistant, asUser, systemActor } from "./actor.ts";
export type {
  AssistantOptions,
  CallOptions,
  ToolCall,
  ToolCallOutcome,
} from "./assistant/assistant.ts";
export type {
  AssistantTool,
  RegisteredTool,
  ToolDeclaration,
  ToolFormat,
  ToolRegistration,
  ToolRuntime,
} from "./assistant/assistant-tools.ts";
export { toolDeclaration } from "./assistant/assistant-tools.ts";
export type { CallHooks } from "./assistant/team-tools.ts";
export { ASSERTION_HEADER, TOOL_CALL_TYPE } from "./assistant/tool-forwarding.ts";
export type {
  AuditEntry,
  AuditFilter,
  AuditPage,
  AuditQuery,
  ExportFormat,
} from "./audit/activity-log.ts";
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
export type { AccessSummary, RoleMatrix, RoleRow, Workflows } from "./decisions/access.ts";
export type { AccessDiffEntry } from "./decisions/access-diff.ts";
export type { Change, ChangePage, WorkspaceSnapshot } from "./decisions/changes.ts";
export type {
  Capabilities,
  DecisionQuery,
  ExplainedGrant,
  ServiceExplanation,
} from "./decisions/decisions.ts";
export type { ModelAccessDiff } from "./decisions/model-access-diff.ts";
export type {
  GrantPlace,
  PermissionsEntry,
  PermissionsPage,
  PermissionsQuery,
  SubjectWithAccess,
  WhoCanPage,
  WhoCanQuery,
} from "./decisions/who-can.ts";
export type { Gatehouse, SyncStatus } from "./gatehouse.ts";
export { createGatehouse } from "./gatehouse.ts";
export type {
  HostCredentialInfo,
  HostCredentialStatus,
  NewHostCredential,
} from "./host/host-credentials.ts";
export { isHostSecret } from "./host/host-credentials.ts";
export type { HostSignInLink, HostUser } from "./host/host-users.ts";
export { HOST_SIGN_IN_LINK_TTL_MS } from "./host/host-users.ts";
export type {
  LostAccess,
  ModelChangeReport,
  ModelChanges,
  ModelConflict,
} from "./models/model-change.ts";
export { servedModel } from "./models/model-change.ts";
export { loadModelFiles } from "./models/model-files.ts";
export type {
  ChangeEvent,
  GatehouseOptions,
  ReadOptions,
  WriteOptions,
  WriteResult,
} from "./service-core.ts";
export type { EmailChangeLink } from "./sign-in/email-changes.ts";
export type { ConsumeOptions, MagicLink } from "./sign-in/magic-links.ts";
export type {
  NewSession,
  SessionCredentials,
  SessionInfo,
  SignInOptions,
} from "./sign-in/sessions.ts";
export type {
  SignInAssertion,
  SignInLink,
  SignInTarget,
} from "./sign-in/sign-in-handoff.ts";
export { SIGN_IN_LINK_TTL_MS, SIGN_IN_TYPE } from "./sign-in/sign-in-handoff.ts";
export type { SignInMail } from "./sign-in/sign-in-mail.ts";
export type { PublishedKey, SigningKeyOptions } from "./sign-in/signing-keys.ts";
export { ASSERTION_ALG } from "./sign-in/signing-keys.ts";
export type { TotpEnrollment, TwoFactorStatus } from "./sign-in/two-factor.ts";
export type { User } from "./sign-in/users.ts";
export { ErrorCode } from "./support/error-codes.ts";
export type { PageQuery } from "./support/paging.ts";
export { MAX_PAGE_LIMIT } from "./support/paging.ts";
export {
  type HashPriority,
  PasswordHasher,
  type PasswordHashingOptions,
  preparePasswordChecks,
  type ScryptCost,
} from "./support/passwords.ts";
export { NAME_MAX_LENGTH, RESOURCE_NAME_MAX_LENGTH } from "./support/validation.ts";
export type { FollowOptions } from "./sync/change-follower.ts";
export type { EngineCacheStats } from "./sync/engine-cache.ts";
export type {
  AccessRequestInfo,
  AccessRequestProvenance,
  AccessRequestStatus,
} from "./team/access-requests.ts";
export type {
  ApiKeyCredentials,
  ApiKeyInfo,
  ApiKeyStatus,
  NewApiKey,
} from "./team/api-keys.ts";
export type { SweepResult } from "./team/expiries.ts";
export type { CredentialInfo } from "./team/integration-credentials.ts";
export type {
  AcceptAndSignInInput,
  AcceptedAndSignedIn,
  AcceptInput,
  InvitationInfo,
  InvitationPreview,
  InvitationStatus,
} from "./team/invitations.ts";
export type { JoinRequestInfo, JoinRequestStatus } from "./team/join-requests.ts";
export type { GrantSpec, Group, Member } from "./team/members.ts";
export type {
  ExportedGrant,
  ExportedGroup,
  ExportedMember,
  ImportCounts,
  ImportOptions,
  ImportProgress,
  ImportResult,
  WorkspaceExport,
} from "./team/portability.ts";
export { EXPORT_FORMAT, EXPORT_VERSION } from "./team/portability.ts";
export type { SyncInput, SyncResult } from "./team/resource-sync.ts";
export { MAX_SYNC_RESOURCES } from "./team/resource-sync.ts";
export type { ResourcePage } from "./team/resources.ts";
export type {
  WorkspaceRole,
  WorkspaceRoleChanges,
  WorkspaceRoleInput,
} from "./team/workspace-roles.ts";
export type {
  PlanSeats,
  SettingsChanges,
  Workspace,
  WorkspaceChanges,
  WorkspaceSettings,
} from "./team/workspaces.ts";
