import type { Migration } from "kysely";
import * as initial from "./0001-initial.ts";
import * as signIn from "./0002-sign-in.ts";
import * as assistant from "./0003-assistant.ts";
import * as invitationLinks from "./0004-console.ts";
import * as host from "./0005-host.ts";
import * as models from "./0006-models.ts";
import * as signUpLinks from "./0007-sign-up-links.ts";
import * as twoFactorRecovery from "./0008-two-factor-recovery.ts";
import * as engineSnapshots from "./0011-engine-snapshots.ts";
import * as auditByTarget from "./0012-audit-by-target.ts";
import * as emailChanges from "./0013-email-changes.ts";
import * as invitationTeams from "./0014-invitation-teams.ts";
import * as accessRequests from "./0015-access-requests.ts";
import * as eligibilities from "./0016-eligibilities.ts";
import * as workspaceRoles from "./0017-workspace-roles.ts";
import * as supportAccess from "./0018-support-access.ts";
import * as grantFallbacks from "./0019-grant-fallbacks.ts";
import * as snapshotStorage from "./0020-snapshot-storage.ts";

/** Every migration, in order. Add new ones at the end; never edit one that has shipped. */
export const migrations: Readonly<Record<string, Migration>> = {
  "0001-initial": initial,
  "0002-sign-in": signIn,
  "0003-assistant": assistant,
  "0004-console": invitationLinks,
  "0005-host": host,
  "0006-models": models,
  "0007-sign-up-links": signUpLinks,
  "0008-two-factor-recovery": twoFactorRecovery,
  "0011-engine-snapshots": engineSnapshots,
  "0012-audit-by-target": auditByTarget,
  "0013-email-changes": emailChanges,
  "0014-invitation-teams": invitationTeams,
  "0015-access-requests": accessRequests,
  "0016-eligibilities": eligibilities,
  "0017-workspace-roles": workspaceRoles,
  "0018-support-access": supportAccess,
  "0019-grant-fallbacks": grantFallbacks,
  "0020-snapshot-storage": snapshotStorage,
};
