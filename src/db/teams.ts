import { TEAM_ROLES, type AccountRecord, type TeamRecord, type TeamRole, type TeamStore } from './account-metadata.js';
import { ACCOUNT_COLUMNS, toAccountRecord } from './account-rows.js';
import type { Database } from './database.js';
import { ignoreDuplicate, retryOnDeadlock, toDate } from './query-helpers.js';

const TEAM_COLUMNS = ['team.id', 'team.organization_id', 'team.name', 'team.role', 'team.description', 'team.created_at'] as const;

type TeamRow = {
  id: number;
  organization_id: number;
  name: string;
  role: TeamRole;
  description: string | null;
  created_at: number | string;
};

function toTeamRecord(row: TeamRow): TeamRecord {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    role: row.role,
    description: row.description,
    createdAt: toDate(row.created_at),
  };
}

/** TeamStore on the team and team_member tables. */
export class KyselyTeamStore implements TeamStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async upsertTeam(organizationId: number, name: string, role: TeamRole, description: string | null): Promise<TeamRecord> {
    const insert = this.database.db
      .insertInto('team')
      .values({ organization_id: organizationId, name, role, description, created_at: this.now() });
    await retryOnDeadlock(() =>
      (this.database.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ role, description })
        : insert.onConflict((oc) => oc.columns(['organization_id', 'name']).doUpdateSet({ role, description }))
      ).execute(),
    );
    const team = await this.getTeam(organizationId, name);
    if (!team) throw new Error(`team ${name} vanished right after it was written`);
    return team;
  }

  async getTeam(organizationId: number, name: string): Promise<TeamRecord | undefined> {
    const row = await this.database.db
      .selectFrom('team')
      .select(TEAM_COLUMNS)
      .where('organization_id', '=', organizationId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toTeamRecord(row);
  }

  async listTeams(organizationId: number): Promise<TeamRecord[]> {
    const rows = await this.database.db
      .selectFrom('team')
      .select(TEAM_COLUMNS)
      .where('organization_id', '=', organizationId)
      .orderBy('name')
      .execute();
    return rows.map(toTeamRecord);
  }

  async deleteTeam(teamId: number): Promise<boolean> {
    // Memberships, repository permissions and prototypes of the team go by ON DELETE CASCADE.
    const result = await retryOnDeadlock(() =>
      this.database.db.deleteFrom('team').where('id', '=', teamId).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  async addMember(teamId: number, accountId: number): Promise<void> {
    await retryOnDeadlock(() =>
      ignoreDuplicate(
        this.database,
        this.database.db.insertInto('team_member').values({ team_id: teamId, account_id: accountId }),
        'team_id',
      ).execute(),
    );
  }

  async removeMember(teamId: number, accountId: number): Promise<boolean> {
    const result = await this.database.db
      .deleteFrom('team_member')
      .where('team_id', '=', teamId)
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listMembers(teamId: number): Promise<AccountRecord[]> {
    const rows = await this.database.db
      .selectFrom('team_member')
      .innerJoin('account', 'account.id', 'team_member.account_id')
      .select(ACCOUNT_COLUMNS)
      .where('team_member.team_id', '=', teamId)
      .orderBy('account.name')
      .execute();
    return rows.map(toAccountRecord);
  }

  async teamsOf(organizationId: number, accountId: number): Promise<TeamRecord[]> {
    const rows = await this.database.db
      .selectFrom('team')
      .innerJoin('team_member', 'team_member.team_id', 'team.id')
      .select(TEAM_COLUMNS)
      .where('team.organization_id', '=', organizationId)
      .where('team_member.account_id', '=', accountId)
      .orderBy('team.name')
      .execute();
    return rows.map(toTeamRecord);
  }

  async organizationMembers(organizationId: number): Promise<AccountRecord[]> {
    const rows = await this.database.db
      .selectFrom('account')
      .select(ACCOUNT_COLUMNS)
      .where('account.id', 'in', (eb) =>
        eb
          .selectFrom('team_member')
          .innerJoin('team', 'team.id', 'team_member.team_id')
          .select('team_member.account_id')
          .where('team.organization_id', '=', organizationId),
      )
      .orderBy('account.name')
      .execute();
    return rows.map(toAccountRecord);
  }

  async organizationsOf(accountId: number): Promise<Array<{ organization: AccountRecord; roles: TeamRole[] }>> {
    const rows = await this.database.db
      .selectFrom('team_member')
      .innerJoin('team', 'team.id', 'team_member.team_id')
      .innerJoin('account', 'account.id', 'team.organization_id')
      .select([...ACCOUNT_COLUMNS, 'team.role as team_role'])
      .where('team_member.account_id', '=', accountId)
      .where('account.kind', '=', 'organization')
      .orderBy('account.name')
      .execute();
    // One row per team the account is in; rows of one organization are adjacent (ordered by its unique name).
    const found: Array<{ organization: AccountRecord; roles: Set<TeamRole> }> = [];
    for (const row of rows) {
      const last = found[found.length - 1];
      if (last !== undefined && last.organization.id === row.id) last.roles.add(row.team_role);
      else found.push({ organization: toAccountRecord(row), roles: new Set([row.team_role]) });
    }
    return found.map(({ organization, roles }) => ({ organization, roles: TEAM_ROLES.filter((role) => roles.has(role)) }));
  }
}
