import { useState } from 'preact/hooks';
import { errorText } from '../api.js';
import { REPOSITORY_ROLES, type RepositoryRole } from '../types.js';
import { ErrorNote } from './ErrorNote.js';

export type DelegateKind = 'user' | 'team';

/** A role picker for one delegate; changing it calls onChange at once. */
export function RoleSelect({ label, value, onChange }: { label: string; value: RepositoryRole; onChange: (role: RepositoryRole) => void }) {
  return (
    <select aria-label={label} value={value} onChange={(event) => onChange(event.currentTarget.value as RepositoryRole)}>
      {REPOSITORY_ROLES.map((role) => (
        <option key={role} value={role}>
          {role}
        </option>
      ))}
    </select>
  );
}

/**
 * "Give <user, robot or team> <role>": the add form of repository and default permissions. The server's
 * refusal (an unknown user, a robot of another namespace) is shown under the form.
 */
export function GrantForm({
  id,
  allowTeams,
  submitLabel,
  onGrant,
}: {
  id: string;
  allowTeams: boolean;
  submitLabel: string;
  onGrant: (kind: DelegateKind, name: string, role: RepositoryRole) => Promise<void>;
}) {
  const [kind, setKind] = useState<DelegateKind>('user');
  const [name, setName] = useState('');
  const [role, setRole] = useState<RepositoryRole>('read');
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <form
        class="row grant"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(null);
          if (name.trim() === '') {
            setError(kind === 'team' ? 'Type the name of a team.' : 'Type the name of a user or robot.');
            return;
          }
          try {
            await onGrant(kind, name.trim(), role);
            // Back to the least role, so that the next grant is never stronger than chosen.
            setName('');
            setRole('read');
          } catch (failure) {
            setError(errorText(failure));
          }
        }}
      >
        <label for={`${id}-name`}>{kind === 'team' ? 'Team name' : 'User or robot name'}</label>
        {allowTeams ? (
          <select id={`${id}-kind`} aria-label="Kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as DelegateKind)}>
            <option value="user">User or robot</option>
            <option value="team">Team</option>
          </select>
        ) : null}
        <input id={`${id}-name`} required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <RoleSelect label="Role to give" value={role} onChange={setRole} />
        <button type="submit" class="primary">
          {submitLabel}
        </button>
      </form>
      <ErrorNote error={error} />
    </>
  );
}
