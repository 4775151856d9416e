import { useSession } from '../../session.js';
import { SuperuserLogs } from './Logs.js';
import { SuperuserOrganizations } from './Organizations.js';
import { SuperuserStatus } from './Status.js';
import { SuperuserUsers } from './Users.js';

/** The superuser panel's sections, in the order of its tabs: path, tab label, page. */
const SECTIONS = [
  { path: '/superuser/users', label: 'Users', Page: SuperuserUsers },
  { path: '/superuser/organizations', label: 'Organizations', Page: SuperuserOrganizations },
  { path: '/superuser/logs', label: 'Usage log', Page: SuperuserLogs },
  { path: '/superuser/status', label: 'Status', Page: SuperuserStatus },
] as const;

/** True for the addresses of the superuser panel (/superuser and its sections). */
export function isSuperuserPath(path: string): boolean {
  return path === '/superuser' || path.startsWith('/superuser/');
}

/**
 * The superuser panel: users, organizations, the whole usage log and this instance's status. Shown to
 * superusers only; the server refuses everyone else on every /api/v1/superuser/ call anyway.
 */
export function Superuser({ path }: { path: string }) {
  const { user } = useSession();
  if (!user?.super_user) {
    return (
      <section>
        <h1>Superuser panel</h1>
        <p>This page is for superusers only.</p>
      </section>
    );
  }
  const section = path === '/superuser' ? SECTIONS[0] : SECTIONS.find((candidate) => candidate.path === path);
  if (section === undefined) {
    return (
      <section>
        <h1>Superuser panel</h1>
        <p>
          No such section. <a href="/superuser/users">Go to the users</a>.
        </p>
      </section>
    );
  }
  return (
    <section>
      <h1>Superuser panel</h1>
      <nav class="tabs" aria-label="Superuser panel">
        {SECTIONS.map((candidate) => (
          <a key={candidate.path} href={candidate.path} aria-current={candidate === section ? 'page' : undefined}>
            {candidate.label}
          </a>
        ))}
      </nav>
      <section.Page />
    </section>
  );
}
