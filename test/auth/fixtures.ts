import type { AuditLog } from '../../src/audit/audit-log.js';
import type { Identity, RobotIdentity, UserIdentity } from '../../src/auth/identity.js';
import { hashSecret } from '../../src/auth/secrets.js';
import type { AccountMetadata, AccountRecord, AuditRecord, RepositoryRole, TeamRole } from '../../src/db/account-metadata.js';
import type { Metadata, RepositoryRecord } from '../../src/db/metadata.js';

/** A logger that keeps what it is told, for assertions. */
export class MemoryLog {
  readonly lines: Array<{ level: string; details: Record<string, unknown>; message: string }> = [];
  info(details: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'info', details, message });
  }
  warn(details: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'warn', details, message });
  }
  error(details: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'error', details, message });
  }
}

export function userIdentity(account: AccountRecord, superuser = false): UserIdentity {
  return { kind: 'user', id: account.id, name: account.name, superuser };
}

export function robotIdentity(robot: AccountRecord, owner: AccountRecord): RobotIdentity {
  if (robot.ownerId === null) throw new Error(`${robot.name} is not a robot`);
  return { kind: 'robot', id: robot.id, name: robot.name, ownerId: robot.ownerId, ownerName: owner.name };
}

export async function createUser(accounts: AccountMetadata, name: string, passwordHash: string | null = null): Promise<AccountRecord> {
  return accounts.accounts.createUser({ name, email: `${name}@example.test`, passwordHash });
}

export async function createRobot(accounts: AccountMetadata, owner: AccountRecord, short: string, token: string): Promise<AccountRecord> {
  return accounts.accounts.createRobot({ ownerId: owner.id, name: `${owner.name}+${short}`, description: null, tokenHash: hashSecret(token) });
}

/** A team of the organization with these members. */
export async function createTeam(accounts: AccountMetadata, org: AccountRecord, name: string, role: TeamRole, members: AccountRecord[]) {
  const team = await accounts.teams.upsertTeam(org.id, name, role, null);
  for (const member of members) await accounts.teams.addMember(team.id, member.id);
  return team;
}

export async function createRepository(metadata: Metadata, name: string, visibility: 'public' | 'private'): Promise<RepositoryRecord> {
  return (await metadata.repositories.createRepository(name, visibility)).repository;
}

export async function grant(accounts: AccountMetadata, repository: RepositoryRecord, delegate: { kind: 'account' | 'team'; id: number }, role: RepositoryRole) {
  await accounts.permissions.setPermission(repository.id, delegate, role);
}

/** The audit rows of these kinds written so far (flushing the log first), oldest first. */
export async function auditRows(audit: AuditLog, kinds: string[]): Promise<AuditRecord[]> {
  await audit.flush();
  return (await audit.query({ kinds }, { limit: 1000 })).reverse();
}

export type { Identity };
