import { api, repositoryPath } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { UsageLog } from '../components/UsageLog.js';
import { useLoad } from '../components/useLoad.js';
import { repositoryHref } from '../router.js';
import type { RepositoryDetail } from '../types.js';
import { RepositoryPermissions } from './RepositoryPermissions.js';
import { RepositorySettings } from './RepositorySettings.js';
import { TagHistory } from './TagHistory.js';
import { TagList } from './TagList.js';

const TABS = [
  { id: 'tags', label: 'Tags' },
  { id: 'history', label: 'Tag history' },
  { id: 'permissions', label: 'Permissions' },
  { id: 'logs', label: 'Usage log' },
  { id: 'settings', label: 'Settings' },
] as const;

/** Tabs only a repository's admins see (the server refuses the rest anyway). */
const ADMIN_TABS: ReadonlySet<string> = new Set(['permissions', 'logs', 'settings']);

type TabId = (typeof TABS)[number]['id'];

/** /repository/<namespace>/<name>?tab=...: the repository with its tags, their history and its settings. */
export function Repository({ namespace, name, tab }: { namespace: string; name: string; tab: string | null }) {
  const detail = useLoad(() => api<RepositoryDetail>('GET', repositoryPath(namespace, name)), [namespace, name]);
  const repo = detail.value;
  const tabs = TABS.filter((t) => !ADMIN_TABS.has(t.id) || repo?.can_admin === true);
  const active: TabId = tabs.some((t) => t.id === tab) ? (tab as TabId) : 'tags';
  return (
    <section>
      <p class="crumbs">
        <a href="/">Repositories</a> / {namespace}
      </p>
      <div class="page-head">
        <h1>
          {namespace}/{name}
        </h1>
        {repo !== undefined ? <span class={repo.is_public ? 'badge public' : 'badge'}>{repo.is_public ? 'public' : 'private'}</span> : null}
      </div>
      <ErrorNote error={detail.error} />
      {repo?.description ? <p class="description">{repo.description}</p> : null}
      {repo !== undefined ? (
        <>
          <nav class="tabs" aria-label="Repository sections">
            {tabs.map((t) => (
              <a key={t.id} href={repositoryHref(namespace, name, t.id)} aria-current={t.id === active ? 'page' : undefined}>
                {t.label}
              </a>
            ))}
          </nav>
          {active === 'tags' ? <TagList repo={repo} /> : null}
          {active === 'history' ? <TagHistory repo={repo} /> : null}
          {active === 'permissions' ? <RepositoryPermissions repo={repo} /> : null}
          {active === 'logs' ? <UsageLog path={`${repositoryPath(namespace, name)}/logs`} label={`Usage log of ${namespace}/${name}`} /> : null}
          {active === 'settings' ? <RepositorySettings repo={repo} onChange={detail.reload} /> : null}
        </>
      ) : null}
    </section>
  );
}
