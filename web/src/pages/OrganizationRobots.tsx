import { useState } from 'preact/hooks';
import { api, errorText, repositoryPath } from '../api.js';
import { CopyField } from '../components/CopyField.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { RoleSelect } from '../components/GrantForm.js';
import { useLoad } from '../components/useLoad.js';
import type { RepositoryList, RepositoryRole } from '../types.js';

interface RobotView {
  name: string;
  description: string;
  token?: string;
}

interface RobotPermission {
  repository: { name: string; is_public: boolean };
  role: RepositoryRole;
}

function orgPath(org: string): string {
  return `/organization/${encodeURIComponent(org)}`;
}

function shortOf(robot: string): string {
  return robot.slice(robot.indexOf('+') + 1);
}

/**
 * The repositories a robot may read, write or administer (its direct grants, from
 * /robots/<short>/permissions), each role changed or removed through the repository's permission API, and a
 * form to give it one more repository of the organization.
 */
function RobotPermissions({ org, robot }: { org: string; robot: string }) {
  const permissions = useLoad(() => api<{ permissions: RobotPermission[] }>('GET', `${orgPath(org)}/robots/${encodeURIComponent(shortOf(robot))}/permissions`), [org, robot]);
  const repositories = useLoad(() => api<RepositoryList>('GET', `/repository?namespace=${encodeURIComponent(org)}`), [org]);
  const [repository, setRepository] = useState('');
  const [role, setRole] = useState<RepositoryRole>('read');
  const [error, setError] = useState<{ where: string; text: string } | null>(null);
  const grantPath = (name: string) => `${repositoryPath(org, name)}/permissions/user/${encodeURIComponent(robot)}`;
  const run = async (where: string, action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await permissions.reload();
      return true;
    } catch (failure) {
      setError({ where, text: errorText(failure) });
      return false;
    }
  };
  const list = permissions.value?.permissions ?? [];
  const listId = `repositories-of-${robot}`;
  const inputId = `robot-repo-${robot}`;
  return (
    <div class="robot-permissions">
      <ErrorNote error={permissions.error} />
      {permissions.value !== undefined && list.length === 0 ? <p>{robot} has no permission on any repository yet.</p> : null}
      {list.length > 0 ? (
        <div class="scroll">
          <table class="list">
            <caption class="visually-hidden">Repositories {robot} may use</caption>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col">Role</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.repository.name}>
                  <th scope="row">
                    {org}/{p.repository.name}
                  </th>
                  <td>
                    <RoleSelect
                      label={`Role of ${robot} on ${p.repository.name}`}
                      value={p.role}
                      onChange={(next) => void run(p.repository.name, () => api('PUT', grantPath(p.repository.name), { role: next }))}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      onClick={() => run(p.repository.name, () => api('DELETE', grantPath(p.repository.name)))}
                      aria-label={`Remove ${robot} from ${p.repository.name}`}
                    >
                      Remove
                    </button>
                    {error?.where === p.repository.name ? <ErrorNote error={error.text} /> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <form
        class="row"
        onSubmit={async (event) => {
          event.preventDefault();
          const name = repository.trim();
          if (name === '') {
            setError({ where: 'add', text: 'Type the name of a repository of this organization.' });
            return;
          }
          if (await run('add', () => api('PUT', grantPath(name), { role }))) {
            // Back to the least role, so that the next grant is never stronger than chosen.
            setRepository('');
            setRole('read');
          }
        }}
      >
        <label for={inputId}>Give {robot} a repository of {org}</label>
        <input id={inputId} list={listId} required value={repository} onInput={(e) => setRepository(e.currentTarget.value)} />
        <datalist id={listId}>
          {(repositories.value?.repositories ?? []).map((r) => (
            <option key={r.name} value={r.name} />
          ))}
        </datalist>
        <RoleSelect label={`Role of ${robot} on the new repository`} value={role} onChange={setRole} />
        <button type="submit" aria-label={`Give ${robot} the repository`}>
          Give access
        </button>
      </form>
      {error?.where === 'add' ? <ErrorNote error={error.text} /> : null}
    </div>
  );
}

/** Robot accounts: create one (its token shown once), regenerate a token, its permissions, delete. */
export function Robots({ org }: { org: string }) {
  const robots = useLoad(() => api<{ robots: RobotView[] }>('GET', `${orgPath(org)}/robots`), [org]);
  const [short, setShort] = useState('');
  const [fresh, setFresh] = useState<RobotView | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  // `where` is 'create' or the robot whose button was pressed: the error is shown there.
  const [error, setError] = useState<{ where: string; text: string } | null>(null);
  const act = async (where: string, run: () => Promise<RobotView | undefined>) => {
    setError(null);
    try {
      const answer = await run();
      setFresh(answer?.token !== undefined ? answer : null);
      await robots.reload();
    } catch (failure) {
      setError({ where, text: errorText(failure) });
    }
  };
  return (
    <section aria-labelledby="robots-heading">
      <h2 id="robots-heading">Robot accounts</h2>
      <form
        class="row"
        onSubmit={(event) => {
          event.preventDefault();
          void act('create', async () => {
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
      <ErrorNote error={error?.where === 'create' ? error.text : robots.error} />
      {fresh?.token !== undefined ? (
        <div class="notice" role="status">
          <p>
            Token of <strong>{fresh.name}</strong>. Copy it now: it is not shown again.
          </p>
          <CopyField label={`token of ${fresh.name}`} value={fresh.token} />
        </div>
      ) : null}
      {robots.value !== undefined && robots.value.robots.length === 0 ? <p>No robot accounts.</p> : null}
      <ul class="plain">
        {(robots.value?.robots ?? []).map((robot) => (
          <li key={robot.name} class="robot">
            <code>{robot.name}</code>{' '}
            <button
              type="button"
              aria-expanded={open === robot.name}
              aria-controls={`permissions-of-${robot.name}`}
              onClick={() => setOpen(open === robot.name ? null : robot.name)}
              aria-label={`Permissions of ${robot.name}`}
            >
              Permissions
            </button>{' '}
            <button
              type="button"
              onClick={() => act(robot.name, () => api<RobotView>('POST', `${orgPath(org)}/robots/${encodeURIComponent(shortOf(robot.name))}/regenerate`, {}))}
              aria-label={`Regenerate token of ${robot.name}`}
            >
              Regenerate token
            </button>{' '}
            <button
              type="button"
              class="danger"
              onClick={() =>
                act(robot.name, async () => {
                  await api('DELETE', `${orgPath(org)}/robots/${encodeURIComponent(shortOf(robot.name))}`);
                  return undefined;
                })
              }
              aria-label={`Delete ${robot.name}`}
            >
              Delete
            </button>
            {error?.where === robot.name ? <ErrorNote error={error.text} /> : null}
            <div id={`permissions-of-${robot.name}`}>{open === robot.name ? <RobotPermissions org={org} robot={robot.name} /> : null}</div>
          </li>
        ))}
      </ul>
    </section>
  );
}
