import { useState } from 'preact/hooks';
import { api, ApiError, errorText } from '../api.js';
import { CopyField } from '../components/CopyField.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { useLoad } from '../components/useLoad.js';

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

interface RobotView {
  name: string;
  description: string;
  token?: string;
}

const ROLES = ['member', 'creator', 'admin'] as const;

function orgPath(org: string): string {
  return `/organization/${encodeURIComponent(org)}`;
}

/** One team: its members, adding and removing one (admins only). */
function Team({ org, team, canAdmin, onChange }: { org: string; team: TeamView; canAdmin: boolean; onChange: () => Promise<void> }) {
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
      await members.reload();
      await onChange();
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
            {canAdmin ? (
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

/** Robot accounts: create one (its token shown once), regenerate a token, delete. */
function Robots({ org }: { org: string }) {
  const robots = useLoad(() => api<{ robots: RobotView[] }>('GET', `${orgPath(org)}/robots`), [org]);
  const [short, setShort] = useState('');
  const [fresh, setFresh] = useState<RobotView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const act = async (run: () => Promise<RobotView | undefined>) => {
    setError(null);
    try {
      const answer = await run();
      setFresh(answer?.token !== undefined ? answer : null);
      await robots.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const shortOf = (name: string) => name.slice(name.indexOf('+') + 1);
  return (
    <section aria-labelledby="robots-heading">
      <h2 id="robots-heading">Robot accounts</h2>
      <form
        class="row"
        onSubmit={(event) => {
          event.preventDefault();
          void act(async () => {
            const robot = await api<RobotView>('PUT', `${orgPath(org)}/robots/${encodeURIComponent(short)}`, {});
            setShort('');
            return robot;
          });
        }}
      >
        <label for="robot-name">Robot name</label>
        <input id="robot-name" required value={short} onInput={(e) => setShort(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Create robot
        </button>
      </form>
      <ErrorNote error={error ?? robots.error} />
      {fresh?.token !== undefined ? (
        <div class="notice" role="status">
          <p>
            Token of <strong>{fresh.name}</strong>. Copy it now: it is not shown again.
          </p>
          <CopyField label={`token of ${fresh.name}`} value={fresh.token} />
        </div>
      ) : null}
      {robots.value !== undefined && robots.value.robots.length === 0 ? <p>No robot accounts.</p> : null}
      <ul>
        {(robots.value?.robots ?? []).map((robot) => (
          <li key={robot.name}>
            <code>{robot.name}</code>{' '}
            <button
              type="button"
              onClick={() => act(() => api<RobotView>('POST', `${orgPath(org)}/robots/${encodeURIComponent(shortOf(robot.name))}/regenerate`, {}))}
              aria-label={`Regenerate token of ${robot.name}`}
            >
              Regenerate token
            </button>{' '}
            <button
              type="button"
              class="danger"
              onClick={() =>
                act(async () => {
                  await api('DELETE', `${orgPath(org)}/robots/${encodeURIComponent(shortOf(robot.name))}`);
                  return undefined;
                })
              }
              aria-label={`Delete ${robot.name}`}
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** An organization: its teams and members; for its admins, creating teams and robot accounts. */
export function Organization({ name }: { name: string }) {
  const org = useLoad(() => api<OrganizationView>('GET', orgPath(name)), [name]);
  const [teamName, setTeamName] = useState('');
  const [role, setRole] = useState<string>('member');
  const [error, setError] = useState<string | null>(null);
  const view = org.value;
  const createTeam = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await api('PUT', `${orgPath(name)}/team/${encodeURIComponent(teamName)}`, { role });
      setTeamName('');
      await org.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <section>
      <h1>{name}</h1>
      <ErrorNote error={org.error} />
      {view !== undefined && !view.is_member ? <p>You are not a member of this organization.</p> : null}
      {view?.is_member ? (
        <section aria-labelledby="teams-heading">
          <h2 id="teams-heading">Teams</h2>
          <ul class="plain">
            {(view.ordered_teams ?? []).map((team) => (
              <Team key={team} org={name} team={view.teams![team]!} canAdmin={view.is_admin} onChange={org.reload} />
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
      {view?.is_admin ? <Robots org={name} /> : null}
    </section>
  );
}
