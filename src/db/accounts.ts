import type { Kysely } from 'kysely';
import {
  NameTakenError,
  StillInUseError,
  type AccountKind,
  type AccountPage,
  type AccountRecord,
  type AccountSecrets,
  type AccountStore,
  type NewOrganization,
  type NewRobot,
  type NewUser,
} from './account-metadata.js';
import { ACCOUNT_COLUMNS, toAccountRecord } from './account-rows.js';
import type { Database } from './database.js';
import { retryOnDeadlock, toNumber } from './query-helpers.js';
import type { Schema } from './schema.js';
import { inWriteTransaction, isUniqueViolation } from './write-transaction.js';

/** The team every organization is created with; its members administer the organization. */
const OWNERS_TEAM = 'owners';

interface NewAccountRow {
  name: string;
  kind: AccountKind;
  email: string | null;
  password_hash: string | null;
  token_hash: string | null;
  owner_id: number | null;
  description: string | null;
}

/**
 * AccountStore on the account table. Names are unique across users, organizations and robots (one unique
 * index); a creator that loses the race for a name gets NameTakenError, never a driver error.
 */
export class KyselyAccountStore implements AccountStore {
  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async getAccount(name: string): Promise<AccountRecord | undefined> {
    const row = await selectAccounts(this.database.db).where('name', '=', name).executeTakeFirst();
    return row && toAccountRecord(row);
  }

  async getAccountById(id: number): Promise<AccountRecord | undefined> {
    const row = await selectAccounts(this.database.db).where('id', '=', id).executeTakeFirst();
    return row && toAccountRecord(row);
  }

  async getSecrets(id: number): Promise<AccountSecrets | undefined> {
    const row = await this.database.db
      .selectFrom('account')
      .select(['password_hash', 'token_hash'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row && { passwordHash: row.password_hash, tokenHash: row.token_hash };
  }

  async createUser(user: NewUser): Promise<AccountRecord> {
    return this.create('user', {
      name: user.name,
      kind: 'user',
      email: user.email,
      password_hash: user.passwordHash,
      token_hash: null,
      owner_id: null,
      description: null,
    });
  }

  async createOrganization(org: NewOrganization): Promise<AccountRecord> {
    return inWriteTransaction(this.database, async (trx) => {
      const created = await this.insertAccount(trx, 'organization', {
        name: org.name,
        kind: 'organization',
        email: org.email,
        password_hash: null,
        token_hash: null,
        owner_id: null,
        description: null,
      });
      await trx
        .insertInto('team')
        .values({ organization_id: created.id, name: OWNERS_TEAM, role: 'admin', description: null, created_at: this.now() })
        .execute();
      const team = await trx
        .selectFrom('team')
        .select('id')
        .where('organization_id', '=', created.id)
        .where('name', '=', OWNERS_TEAM)
        .executeTakeFirstOrThrow();
      await trx.insertInto('team_member').values({ team_id: team.id, account_id: org.ownerId }).execute();
      return created;
    });
  }

  async createRobot(robot: NewRobot): Promise<AccountRecord> {
    return this.create('robot', {
      name: robot.name,
      kind: 'robot',
      email: null,
      password_hash: null,
      token_hash: robot.tokenHash,
      owner_id: robot.ownerId,
      description: robot.description,
    });
  }

  async listRobots(ownerId: number): Promise<AccountRecord[]> {
    const rows = await selectAccounts(this.database.db)
      .where('owner_id', '=', ownerId)
      .where('kind', '=', 'robot')
      .orderBy('name')
      .execute();
    return rows.map(toAccountRecord);
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    await this.database.db
      .updateTable('account')
      .set({ password_hash: passwordHash })
      .where('id', '=', userId)
      .where('kind', '=', 'user')
      .execute();
  }

  async setRobotTokenHash(robotId: number, tokenHash: string): Promise<void> {
    await this.database.db
      .updateTable('account')
      .set({ token_hash: tokenHash })
      .where('id', '=', robotId)
      .where('kind', '=', 'robot')
      .execute();
  }

  async setEmail(id: number, email: string | null): Promise<void> {
    await this.database.db.updateTable('account').set({ email }).where('id', '=', id).execute();
  }

  async setEnabled(id: number, enabled: boolean): Promise<void> {
    await this.database.db.updateTable('account').set({ enabled: enabled ? 1 : 0 }).where('id', '=', id).execute();
  }

  async setSuperuser(userId: number, superuser: boolean): Promise<void> {
    await this.database.db.updateTable('account').set({ superuser: superuser ? 1 : 0 }).where('id', '=', userId).where('kind', '=', 'user').execute();
  }

  async getTagExpiration(id: number): Promise<number | null> {
    const row = await this.database.db
      .selectFrom('account')
      .select('removed_tag_expiration_s')
      .where('id', '=', id)
      .where('kind', 'in', ['user', 'organization'])
      .executeTakeFirst();
    return row === undefined || row.removed_tag_expiration_s === null ? null : toNumber(row.removed_tag_expiration_s);
  }

  async setTagExpiration(id: number, seconds: number | null): Promise<void> {
    await this.database.db
      .updateTable('account')
      .set({ removed_tag_expiration_s: seconds })
      .where('id', '=', id)
      .where('kind', 'in', ['user', 'organization'])
      .execute();
  }

  async deleteAccount(id: number): Promise<boolean> {
    const account = await this.getAccountById(id);
    if (!account) return false;
    if (account.kind !== 'robot') {
      // A repository pushed between this count and the delete would outlive its namespace's account; that
      // is harmless (the namespace can be re-created or the repository deleted), so no lock is taken.
      const row = await this.database.db
        .selectFrom('repository')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('namespace', '=', account.name)
        .executeTakeFirstOrThrow();
      const n = Number(row.n);
      if (n > 0) {
        const what = n === 1 ? 'repository' : 'repositories';
        throw new StillInUseError(`namespace "${account.name}" still has ${n} ${what}; delete them first`);
      }
    }
    // Robots, teams, memberships, permissions, prototypes, app tokens and sessions go by ON DELETE CASCADE.
    const result = await retryOnDeadlock(() =>
      this.database.db.deleteFrom('account').where('id', '=', id).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  async listAccounts(page: AccountPage, kind?: 'user' | 'organization'): Promise<AccountRecord[]> {
    let query = selectAccounts(this.database.db)
      .where('kind', 'in', kind === undefined ? ['user', 'organization'] : [kind])
      .orderBy('name')
      .limit(page.limit);
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    return (await query.execute()).map(toAccountRecord);
  }

  private async create(what: AccountKind, values: NewAccountRow): Promise<AccountRecord> {
    return retryOnDeadlock(() => this.insertAccount(this.database.db, what, values));
  }

  /** Inserts the account and reads it back; the unique index on name decides races. */
  private async insertAccount(db: Kysely<Schema>, what: AccountKind, values: NewAccountRow): Promise<AccountRecord> {
    try {
      await db
        .insertInto('account')
        .values({ ...values, enabled: 1, created_at: this.now() })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new NameTakenError(what, values.name);
      throw error;
    }
    const row = await selectAccounts(db).where('name', '=', values.name).executeTakeFirst();
    if (!row) throw new Error(`account ${values.name} vanished right after it was created`);
    return toAccountRecord(row);
  }
}

function selectAccounts(db: Kysely<Schema>) {
  return db.selectFrom('account').select(ACCOUNT_COLUMNS);
}
