import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { CopyField } from '../components/CopyField.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { useLoad } from '../components/useLoad.js';
import { formatQuayDate } from '../format.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';
import type { AppToken } from '../types.js';

/**
 * Account settings: the password, and app-specific tokens (what docker login and scripts use instead of the
 * password). A new token's secret is shown once, in the page's memory only, never stored by the UI.
 */
export function Account() {
  const { user, refresh } = useSession();
  const tokens = useLoad(() => api<{ tokens: AppToken[] }>('GET', '/user/apptoken'), []);
  const [title, setTitle] = useState('');
  const [fresh, setFresh] = useState<AppToken | null>(null);
  const [error, setError] = useState<string | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const answer = await api<{ token: AppToken }>('POST', '/user/apptoken', { title });
      setFresh(answer.token);
      setTitle('');
      await tokens.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const revoke = async (token: AppToken) => {
    setError(null);
    try {
      await api('DELETE', `/user/apptoken/${encodeURIComponent(token.uuid)}`);
      if (fresh?.uuid === token.uuid) setFresh(null);
      await tokens.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [passwordError, setPasswordError] = useState<string | null>(null);
  const changePassword = async (event: Event) => {
    event.preventDefault();
    setPasswordError(null);
    if (next !== again) {
      setPasswordError('The two new passwords differ.');
      return;
    }
    try {
      await api('PUT', '/user/', { current_password: current, password: next });
      // The change ends every session of the account, this one too: sign in again with the new password. (To the
      // sign-in page first: with the session gone, any other page would send there without the notice.)
      navigate('/signin?changed=password', true);
      await refresh();
    } catch (failure) {
      setPasswordError(errorText(failure));
    }
  };

  return (
    <section>
      <h1>Account settings</h1>
      <p>
        Signed in as <strong>{user?.username}</strong>
        {user?.email ? ` (${user.email})` : ''}
        {user?.super_user ? ', superuser' : ''}.
      </p>
      <h2 id="password-heading">Password</h2>
      <form class="narrow" onSubmit={changePassword} aria-labelledby="password-heading">
        <label for="current-password">Current password</label>
        <input id="current-password" type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        <label for="new-password">New password</label>
        <input id="new-password" type="password" autoComplete="new-password" required minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        <label for="new-password-again">New password again</label>
        <input id="new-password-again" type="password" autoComplete="new-password" required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Change password
        </button>
        <ErrorNote error={passwordError} />
      </form>
      <h2>App-specific tokens</h2>
      <p class="muted">Use a token as the password of docker login, podman login or skopeo --creds; the username is your own.</p>
      <form class="row" onSubmit={create}>
        <label for="token-title">Token title</label>
        <input id="token-title" required value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Create token
        </button>
      </form>
      <ErrorNote error={error ?? tokens.error} />
      {fresh?.token_code !== undefined ? (
        <div class="notice" role="status">
          <p>
            Token <strong>{fresh.title}</strong> created. Copy it now: it is not shown again.
          </p>
          <CopyField label={`token ${fresh.title}`} value={fresh.token_code} />
        </div>
      ) : null}
      {tokens.value !== undefined && tokens.value.tokens.length === 0 ? <p>No tokens.</p> : null}
      {tokens.value !== undefined && tokens.value.tokens.length > 0 ? (
        <table class="list">
          <caption class="visually-hidden">App-specific tokens</caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {tokens.value.tokens.map((token) => (
              <tr key={token.uuid}>
                <th scope="row">{token.title}</th>
                <td>{formatQuayDate(token.created)}</td>
                <td>{token.last_accessed === null ? 'never' : formatQuayDate(token.last_accessed)}</td>
                <td>
                  <button type="button" class="danger" onClick={() => revoke(token)} aria-label={`Revoke token ${token.title}`}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
