import type { Expression, Kysely, SqlBool } from 'kysely';
import type { RepositoryListFilter, Viewer } from './account-metadata.js';
import type { Schema } from './schema.js';

/**
 * The query behind PermissionStore.listVisibleRepositories: one page of repository names the viewer may
 * pull, or undefined when the viewer can see nothing at all (anonymous without public repositories).
 * Each way of seeing a repository is an indexed semi-join, so the page costs one query however many grants
 * the viewer has.
 */
export function visibleRepositoriesQuery(db: Kysely<Schema>, viewer: Viewer, filter: RepositoryListFilter) {
  const accountId = viewer.accountId;
  if (!viewer.superuser && !viewer.includePublic && accountId === undefined) return undefined;
  let query = db.selectFrom('repository').select('repository.name').orderBy('repository.name').limit(filter.limit);
  if (filter.namespace !== undefined) query = query.where('repository.namespace', '=', filter.namespace);
  if (filter.last !== undefined) query = query.where('repository.name', '>', filter.last);
  if (viewer.superuser) return query;
  return query.where((eb) => {
    const ways: Expression<SqlBool>[] = [];
    if (viewer.includePublic) ways.push(eb('repository.visibility', '=', 'public'));
    if (accountId !== undefined) {
      // A user's own namespace (robots own none).
      ways.push(
        eb(
          'repository.namespace',
          'in',
          eb.selectFrom('account').select('account.name').where('account.id', '=', accountId).where('account.kind', '=', 'user'),
        ),
      );
      // Organizations the viewer administers through an admin team.
      ways.push(
        eb(
          'repository.namespace',
          'in',
          eb
            .selectFrom('account as org')
            .innerJoin('team as admin_team', 'admin_team.organization_id', 'org.id')
            .innerJoin('team_member as admin_member', 'admin_member.team_id', 'admin_team.id')
            .select('org.name')
            .where('admin_member.account_id', '=', accountId)
            .where('admin_team.role', '=', 'admin'),
        ),
      );
      // Grants to the viewer or to one of its teams.
      ways.push(
        eb(
          'repository.id',
          'in',
          eb
            .selectFrom('repository_permission as perm')
            .select('perm.repository_id')
            .where((inner) =>
              inner.or([
                inner('perm.account_id', '=', accountId),
                inner(
                  'perm.team_id',
                  'in',
                  inner.selectFrom('team_member as grant_member').select('grant_member.team_id').where('grant_member.account_id', '=', accountId),
                ),
              ]),
            ),
        ),
      );
    }
    return eb.or(ways);
  });
}
