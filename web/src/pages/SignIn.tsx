import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

/** Where to go after signing in: the page that sent the user here, if it is one of ours. */
function nextPlace(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  return next !== null && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

/** POST /api/v1/signin: the server sets the HttpOnly session cookie. */
export function SignIn() {
  const session = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/signin', { username, password });
      await session.refresh();
      navigate(nextPlace(), true);
    } catch (failure) {
      setError(errorText(failure));
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Sign in to Quayside</h1>
      {new URLSearchParams(window.location.search).get('changed') === 'password' ? (
        <p class="notice" role="status">
          Your password was changed. Sign in with the new one.
        </p>
      ) : null}
      <form onSubmit={submit}>
        <label for="signin-username">Username</label>
        <input id="signin-username" name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="signin-password">Password</label>
        <input
          id="signin-password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        No account? <a href="/signup">Create account</a>
      </p>
    </section>
  );
}
