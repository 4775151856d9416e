import { useState } from 'preact/hooks';
import { api, ApiError, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { UsageLog } from '../components/UsageLog.js';
import { useLoad } from '../components/useLoad.js';
import { usePlace } from '../router.js';
import { DefaultPermissions } from './DefaultPermissions.js';
import { Robots } from './OrganizationRobots.js';

interface TeamView {
  name: string;
  role: string;
  member_count?: number;
}

interface OrganizationView {
  name: string;
  is_admin: boolean;
  is_member: boolean;
  teams?: Record<string, TeamView>;
  ordered_teams?: string[];
}

const ROLES = ['member', 'creator', 'admin'] as const;

function orgPath(org: string): string {
  return `/organization/${encodeURIComponent(org)}`;
}

/**
 * One team: its members, adding and removing one (admins only). `lastAdmin` names the one user left in
 * any admin team, when this team holds them: the server refuses to remove them (the organization would have
 * no admin), so no Remove button is offered.
 */
function Team({
  org,
  team,
  canAdmin,
  adminsKnown,
  lastAdmin,
  onChange,
}: {
  org: string;
  team: TeamView;
  canAdmin: boolean;
  /** False while the organization's admins are loading: an admin team then offers no Remove yet. */
  adminsKnown: boolean;
  lastAdmin: string | null;
  onChange: () => Promise<void>;
}) {
  const mayRemove = (name: string) => canAdmin && (team.role !== 'admin' || adminsKnown) && name !== lastAdmin;
  const path = `${orgPath(org)}/team/${encodeURIComponent(team.name)}/members`;
  // Only the team's members and the organization's admins may list a team: for anyone else a 403 means
  // "not yours to see", said plainly rather than as an error.
  const members = useLoad(
    () =>
      api<{ members: { name: string }[] }>('GET', path).catch((failure: unknown) => {
        if (failure instanceof ApiError && failure.status === 403) return null;
        throw failure;
      }),
    [path],
  );
  const [member, setMember] = useState('');
  const [error, setError] = useState<string | null>(null);
  const change = async (method: 'PUT' | 'DELETE', name: string) => {
    setError(null);
    try {
      await api(method, `${path}/${encodeURIComponent(name)}`, method === 'PUT' ? {} : undefined);
      setMember('');
      // The organization's count of admins first: until it is known again no Remove is wrongly offered.
      await onChange();
      await members.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const inputId = `member-${team.name}`;
  return (
    <li>
      <h3>
        {team.name} <span class="muted">({team.role})</span>
      </h3>
      <ErrorNote error={error ?? members.error} />
      {members.value === null ? <p class="muted">Its members are shown to them and to the organization's admins.</p> : null}
      <ul aria-label={`Members of ${team.name}`}>
        {(members.value?.members ?? []).map((m) => (
          <li key={m.name}>
            {m.name}{' '}
            {canAdmin && m.name === lastAdmin ? <span class="muted">(the last admin: add another before removing)</span> : null}
            {mayRemove(m.name) ? (
              <button type="button" class="danger" onClick={() => change('DELETE', m.name)} aria-label={`Remove ${m.name} from ${team.name}`}>
                Remove
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {canAdmin ? (
        <form
          class="row"
          onSubmit={(event) => {
            event.preventDefault();
            void change('PUT', member);
          }}
        >
          <label for={inputId}>Add a user or robot to {team.name}</label>
          <input id={inputId} required value={member} onInput={(e) => setMember(e.currentTarget.value)} />
          <button type="submit" aria-label={`Add member to ${team.name}`}>
            Add member
          </button>
        </form>
      ) : null}
    </li>
  );
}

const TABS = [
  { id: 'teams', label: 'Teams and robots' },
  { id: 'defaults', label: 'Default permissions' },
  { id: 'logs', label: 'Usage log' },
] as const;

interface MemberView {
  name: string;
  is_robot: boolean;
  teams: { name: string }[];
}

/**
 * The one (team, user) pair that keeps the organization administered, when only one is left: the users of
 * its admin teams, counted per team, as the server counts them (robots do not count).
 */
function lastAdminOf(view: OrganizationView | undefined, members: MemberView[] | undefined): { team: string; user: string } | null {
  if (view?.teams === undefined || members === undefined) return null;
  const adminTeams = new Set(Object.values(view.teams).filter((t) => t.role === 'admin').map((t) => t.name));
  const pairs = members.filter((m) => !m.is_robot).flatMap((m) => m.teams.filter((t) => adminTeams.has(t.name)).map((t) => ({ team: t.name, user: m.name })));
  return pairs.length === 1 ? pairs[0]! : null;
}

/**
 * An organization (/organization/<name>?tab=...): its teams and members; for its admins, creating teams and
 * robot accounts with their permissions, the default permissions and the usage log.
 */
export function Organization({ name }: { name: string }) {
  const place = usePlace();
  const org = useLoad(() => api<OrganizationView>('GET', orgPath(name)), [name]);
  const view = org.value;
  const isAdmin = view?.is_admin === true;
  const members = useLoad(async () => (isAdmin ? (await api<{ members: MemberView[] }>('GET', `${orgPath(name)}/members`)).members : undefined), [name, isAdmin]);
  const [teamName, setTeamName] = useState('');
  const [role, setRole] = useState<string>('member');
  const [error, setError] = useState<string | null>(null);
  const reload = async () => {
    await org.reload();
    await members.reload();
  };
  const createTeam = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await api('PUT', `${orgPath(name)}/team/${encodeURIComponent(teamName)}`, { role });
      setTeamName('');
      await reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const tabs = isAdmin ? TABS : TABS.filter((t) => t.id === 'teams');
  const requested = place.query.get('tab');
  const active = tabs.some((t) => t.id === requested) ? requested : 'teams';
  const lastAdmin = lastAdminOf(view, members.value);
  return (
    <section>
      <p class="crumbs">
        <a href="/organizations">Organizations</a>
      </p>
      <h1>{name}</h1>
      <ErrorNote error={org.error ?? members.error} />
      {view !== undefined && !view.is_member ? <p>You are not a member of this organization.</p> : null}
      {isAdmin ? (
        <nav class="tabs" aria-label="Organization sections">
          {tabs.map((t) => (
            <a key={t.id} href={`${orgPath(name)}?tab=${t.id}`} aria-current={t.id === active ? 'page' : undefined}>
              {t.label}
            </a>
          ))}
        </nav>
      ) : null}
      {view?.is_member && active === 'teams' ? (
        <section aria-labelledby="teams-heading">
          <h2 id="teams-heading">Teams</h2>
          <ul class="plain">
            {(view.ordered_teams ?? []).map((team) => (
              <Team
                key={team}
                org={name}
                team={view.teams![team]!}
                canAdmin={view.is_admin}
                adminsKnown={members.value !== undefined}
                lastAdmin={lastAdmin?.team === team ? lastAdmin.user : null}
                onChange={reload}
              />
            ))}
          </ul>
          {view.is_admin ? (
            <form class="row" onSubmit={createTeam}>
              <label for="team-name">New team name</label>
              <input id="team-name" required value={teamName} onInput={(e) => setTeamName(e.currentTarget.value)} />
              <select id="team-role" aria-label="Role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
              <button type="submit" class="primary">
                Create team
              </button>
            </form>
          ) : null}
          <ErrorNote error={error} />
        </section>
      ) : null}
      {isAdmin && active === 'teams' ? <Robots org={name} /> : null}
      {isAdmin && active === 'defaults' ? <DefaultPermissions org={name} /> : null}
      {isAdmin && active === 'logs' ? <UsageLog path={`${orgPath(name)}/logs`} label={`Usage log of ${name}`} /> : null}
    </section>
  );
}
