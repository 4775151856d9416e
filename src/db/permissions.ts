import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  REPOSITORY_ROLES,
  TEAM_ROLES,
  type AccessFacts,
  type AccountPermissionRecord,
  type Delegate,
  type PermissionRecord,
  type PermissionStore,
  type PrototypeRecord,
  type RepositoryListFilter,
  type RepositoryRole,
  type TeamRole,
  type Viewer,
} from './account-metadata.js';
import type { Database } from './database.js';
import { retryOnDeadlock, toDate } from './query-helpers.js';
import { visibleRepositoriesQuery } from './visible-repositories.js';

/** The row columns of a delegate: exactly one of them is set. */
function delegateColumns(delegate: Delegate): { account_id: number | null; team_id: number | null } {
  return delegate.kind === 'account'
    ? { account_id: delegate.id, team_id: null }
    : { account_id: null, team_id: delegate.id };
}

function toDelegate(accountId: number | null, teamId: number | null): Delegate {
  if (accountId !== null) return { kind: 'account', id: accountId };
  if (teamId !== null) return { kind: 'team', id: teamId };
  throw new Error('a permission row has neither an account nor a team');
}

/** Accounts first, then teams, each by name (the order Quay's API lists them in). */
function byDelegate(a: { delegate: Delegate; delegateName: string }, b: { delegate: Delegate; delegateName: string }): number {
  if (a.delegate.kind !== b.delegate.kind) return a.delegate.kind === 'account' ? -1 : 1;
  return a.delegateName < b.delegateName ? -1 : a.delegateName > b.delegateName ? 1 : 0;
}

function isRepositoryRole(role: string): role is RepositoryRole {
  return (REPOSITORY_ROLES as readonly string[]).includes(role);
}

function isTeamRole(role: string): role is TeamRole {
  return (TEAM_ROLES as readonly string[]).includes(role);
}

/** PermissionStore on repository_permission and permission_prototype, with the access queries the policy needs. */
export class KyselyPermissionStore implements PermissionStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async setPermission(repositoryId: number, delegate: Delegate, role: RepositoryRole): Promise<void> {
    const insert = this.database.db
      .insertInto('repository_permission')
      .values({ repository_id: repositoryId, ...delegateColumns(delegate), role });
    const key = delegate.kind === 'account' ? 'account_id' : 'team_id';
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ role })
        : insert.onConflict((oc) => oc.columns(['repository_id', key]).doUpdateSet({ role }))
      ).execute(),
    );
  }

  async deletePermission(repositoryId: number, delegate: Delegate): Promise<boolean> {
    const query = this.database.db.deleteFrom('repository_permission').where('repository_id', '=', repositoryId);
    const result = await (delegate.kind === 'account'
      ? query.where('account_id', '=', delegate.id)
      : query.where('team_id', '=', delegate.id)
    ).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listPermissions(repositoryId: number): Promise<PermissionRecord[]> {
    const rows = await this.database.db
      .selectFrom('repository_permission as p')
      .leftJoin('account as a', 'a.id', 'p.account_id')
      .leftJoin('team as t', 't.id', 'p.team_id')
      .select(['p.account_id', 'p.team_id', 'p.role', 'a.name as account_name', 'a.kind as account_kind', 't.name as team_name'])
      .where('p.repository_id', '=', repositoryId)
      .execute();
    return rows
      .map((row) => ({
        repositoryId,
        delegate: toDelegate(row.account_id, row.team_id),
        delegateName: row.account_name ?? row.team_name ?? '',
        accountKind: row.account_kind,
        role: row.role,
      }))
      .sort(byDelegate);
  }

  async listAccountPermissions(accountId: number): Promise<AccountPermissionRecord[]> {
    const rows = await this.database.db
      .selectFrom('repository_permission as p')
      .innerJoin('repository as r', 'r.id', 'p.repository_id')
      .select(['r.id', 'r.name', 'r.visibility', 'p.role'])
      .where('p.account_id', '=', accountId)
      .orderBy('r.name')
      .execute();
    return rows.map((row) => ({ repositoryId: row.id, repositoryName: row.name, isPublic: row.visibility === 'public', role: row.role }));
  }

  async accessFacts(accountId: number, namespace: string, repositoryId: number | undefined): Promise<AccessFacts> {
    const db = this.database.db;
    // One round trip: the repository grants (direct or through a team) and the team roles in the namespace
    // organization, told apart by a constant column.
    const teamRoles = db
      .selectFrom('team')
      .innerJoin('team_member', 'team_member.team_id', 'team.id')
      .innerJoin('account', 'account.id', 'team.organization_id')
      .select((eb) => [sql.lit('team').as('source'), eb.ref('team.role').$castTo<string>().as('role')])
      .where('team_member.account_id', '=', accountId)
      .where('account.name', '=', namespace)
      .where('account.kind', '=', 'organization');
    const query =
      repositoryId === undefined
        ? teamRoles
        : db
            .selectFrom('repository_permission')
            .select((eb) => [sql.lit('repository').as('source'), eb.ref('repository_permission.role').$castTo<string>().as('role')])
            .where('repository_permission.repository_id', '=', repositoryId)
            .where((eb) =>
              eb.or([
                eb('repository_permission.account_id', '=', accountId),
                eb(
                  'repository_permission.team_id',
                  'in',
                  eb.selectFrom('team_member').select('team_member.team_id').where('team_member.account_id', '=', accountId),
                ),
              ]),
            )
            .unionAll(teamRoles);
    const facts: AccessFacts = { repositoryRoles: [], teamRoles: [] };
    for (const row of await query.execute()) {
      const role = String(row.role);
      if (row.source === 'repository' && isRepositoryRole(role) && !facts.repositoryRoles.includes(role)) {
        facts.repositoryRoles.push(role);
      } else if (row.source === 'team' && isTeamRole(role) && !facts.teamRoles.includes(role)) {
        facts.teamRoles.push(role);
      }
    }
    return facts;
  }

  async listVisibleRepositories(viewer: Viewer, filter: RepositoryListFilter): Promise<string[]> {
    const query = visibleRepositoriesQuery(this.database.db, viewer, filter);
    return query ? (await query.execute()).map((r) => r.name) : [];
  }

  async addPrototype(organizationId: number, delegate: Delegate, role: RepositoryRole): Promise<PrototypeRecord> {
    const id = randomUUID();
    await this.database.db
      .insertInto('permission_prototype')
      .values({ id, organization_id: organizationId, ...delegateColumns(delegate), role, created_at: this.now() })
      .execute();
    const [created] = await this.prototypes(organizationId, id);
    if (!created) throw new Error(`prototype ${id} vanished right after it was created`);
    return created;
  }

  async listPrototypes(organizationId: number): Promise<PrototypeRecord[]> {
    return this.prototypes(organizationId);
  }

  async deletePrototype(organizationId: number, id: string): Promise<boolean> {
    const result = await this.database.db
      .deleteFrom('permission_prototype')
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async setPrototypeRole(organizationId: number, id: string, role: RepositoryRole): Promise<PrototypeRecord | undefined> {
    await this.database.db.updateTable('permission_prototype').set({ role }).where('organization_id', '=', organizationId).where('id', '=', id).execute();
    // Read back rather than trust the affected-row count: MySQL counts an unchanged row as not affected.
    const [updated] = await this.prototypes(organizationId, id);
    return updated;
  }

  /** The organization's prototypes (or the one with `id`), oldest first, with their delegates' names. */
  private async prototypes(organizationId: number, id?: string): Promise<PrototypeRecord[]> {
    let query = this.database.db
      .selectFrom('permission_prototype as p')
      .leftJoin('account as a', 'a.id', 'p.account_id')
      .leftJoin('team as t', 't.id', 'p.team_id')
      .select(['p.id', 'p.organization_id', 'p.account_id', 'p.team_id', 'p.role', 'p.created_at', 'a.name as account_name', 't.name as team_name'])
      .where('p.organization_id', '=', organizationId)
      .orderBy('p.created_at')
      .orderBy('p.id');
    if (id !== undefined) query = query.where('p.id', '=', id);
    const rows = await query.execute();
    return rows.map((row) => ({
      id: row.id,
      organizationId: row.organization_id,
      delegate: toDelegate(row.account_id, row.team_id),
      delegateName: row.account_name ?? row.team_name ?? '',
      role: row.role,
      createdAt: toDate(row.created_at),
    }));
  }
}
