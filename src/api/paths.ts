/**
 * Parsing /api/v1/repository/<path>. Repository names may contain slashes ("acme/tools/app"), so a path
 * is read from the right: a known suffix (tag/<tag>/restore, permissions/user/<name>, tag/, logs, ...)
 * is split off when what is left still looks like "namespace/name"; otherwise the whole path is the
 * repository. Quay has the same ambiguity: a repository whose last component is "logs" or
 * "changevisibility", or that ends in ".../tag/<x>", is addressed as that sub-resource of its parent.
 */

export type DelegateKind = 'user' | 'team';

export type RepositoryResource =
  | { kind: 'repository' }
  | { kind: 'changevisibility' }
  | { kind: 'logs' }
  | { kind: 'tags' }
  | { kind: 'tag'; tag: string }
  | { kind: 'restore'; tag: string }
  | { kind: 'manifest'; digest: string }
  | { kind: 'tag_pull_statistics'; tag: string }
  | { kind: 'manifest_pull_statistics'; digest: string }
  | { kind: 'permissions'; delegate: DelegateKind }
  | { kind: 'permission'; delegate: DelegateKind; name: string };

export interface RepositoryPath {
  /** "namespace/name[/more]". */
  repository: string;
  resource: RepositoryResource;
}

function isDelegateKind(value: string | undefined): value is DelegateKind {
  return value === 'user' || value === 'team';
}

/** Splits a path (without /repository/) into the repository and the resource addressed under it. */
export function parseRepositoryPath(path: string): RepositoryPath {
  const segments = path.split('/');
  const n = segments.length;
  const at = (fromEnd: number): string | undefined => segments[n - fromEnd];
  // The first `count` segments, when they can be a repository (two components at least, none empty).
  const prefix = (count: number): string | undefined => {
    if (count < 2) return undefined;
    const parts = segments.slice(0, count);
    return parts.some((part) => part === '') ? undefined : parts.join('/');
  };
  const candidates: Array<() => RepositoryPath | undefined> = [
    () => {
      const repository = prefix(n - 3);
      const reference = at(2);
      if (!repository || at(1) !== 'pull_statistics' || !reference) return undefined;
      if (at(3) === 'tag') return { repository, resource: { kind: 'tag_pull_statistics', tag: reference } };
      if (at(3) === 'manifest') return { repository, resource: { kind: 'manifest_pull_statistics', digest: reference } };
      return undefined;
    },
    () => {
      const repository = prefix(n - 3);
      const tag = at(2);
      return repository && at(3) === 'tag' && tag && at(1) === 'restore' ? { repository, resource: { kind: 'restore', tag } } : undefined;
    },
    () => {
      const repository = prefix(n - 3);
      const delegate = at(2);
      const name = at(1)!;
      if (!repository || at(3) !== 'permissions' || !isDelegateKind(delegate)) return undefined;
      return { repository, resource: name === '' ? { kind: 'permissions', delegate } : { kind: 'permission', delegate, name } };
    },
    () => {
      const repository = prefix(n - 2);
      const delegate = at(1);
      return repository && at(2) === 'permissions' && isDelegateKind(delegate) ? { repository, resource: { kind: 'permissions', delegate } } : undefined;
    },
    () => {
      const repository = prefix(n - 2);
      const digest = at(1);
      return repository && at(2) === 'manifest' && digest ? { repository, resource: { kind: 'manifest', digest } } : undefined;
    },
    () => {
      const repository = prefix(n - 2);
      const tag = at(1)!;
      if (!repository || at(2) !== 'tag') return undefined;
      return { repository, resource: tag === '' ? { kind: 'tags' } : { kind: 'tag', tag } };
    },
    () => {
      const repository = prefix(n - 1);
      const last = at(1);
      if (!repository) return undefined;
      if (last === 'tag') return { repository, resource: { kind: 'tags' } };
      if (last === 'changevisibility') return { repository, resource: { kind: 'changevisibility' } };
      if (last === 'logs') return { repository, resource: { kind: 'logs' } };
      // A trailing slash after the repository itself.
      if (last === '') return { repository, resource: { kind: 'repository' } };
      return undefined;
    },
  ];
  for (const candidate of candidates) {
    const match = candidate();
    if (match !== undefined) return match;
  }
  return { repository: path, resource: { kind: 'repository' } };
}

/** "acme/tools/app" -> namespace "acme", name "tools/app" (Quay's split). */
export function splitRepositoryName(full: string): { namespace: string; name: string } {
  const slash = full.indexOf('/');
  return { namespace: full.slice(0, slash), name: full.slice(slash + 1) };
}
