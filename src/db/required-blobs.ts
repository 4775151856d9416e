import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Schema } from './schema.js';

/**
 * Which blobs a storage location must hold (docs/geo-replication.md): every blob (a location of
 * DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS), or the blobs of the namespaces that list it (Quay's UserRegion): those
 * referenced by a manifest of a repository in such a namespace, as a push of that manifest queues them.
 */
export type RequiredBlobs = 'every-blob' | 'listing-namespaces';

/** The condition on a `blob` row that `location` has no placement of it and, when asked, that it must hold it. */
export function missingFrom(location: string, required: RequiredBlobs) {
  return (eb: ExpressionBuilder<Schema, 'blob'>): Expression<SqlBool> => {
    const notPlaced = eb.not(
      eb.exists(eb.selectFrom('blob_placement as p').select('p.digest').whereRef('p.digest', '=', 'blob.digest').where('p.location', '=', location)),
    );
    return required === 'every-blob' ? notPlaced : eb.and([notPlaced, listedFor(location)(eb)]);
  };
}

/** The condition on a `blob` row that a manifest of a namespace listing `location` references it. */
export function listedFor(location: string) {
  return (eb: ExpressionBuilder<Schema, 'blob'>): Expression<SqlBool> =>
    eb.exists(
      eb
        .selectFrom('manifest_reference as mr')
        .innerJoin('manifest as m', 'm.id', 'mr.manifest_id')
        .innerJoin('repository as r', 'r.id', 'm.repository_id')
        .innerJoin('account as a', 'a.name', 'r.namespace')
        .innerJoin('user_region as ur', 'ur.account_id', 'a.id')
        .select('mr.digest')
        .whereRef('mr.digest', '=', 'blob.digest')
        .where('mr.kind', '=', 'blob')
        .where('ur.location', '=', location),
    );
}
