import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

/**
 * POST /api/v1/user/ then sign in. When FEATURE_USER_CREATION is off the server refuses and says so; the
 * form shows its words.
 */
export function SignUp() {
  const session = useSession();
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (password !== confirm) {
      setError('The two passwords differ.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/user/', { username, password, ...(email.trim() === '' ? {} : { email: email.trim() }) });
      await api('POST', '/signin', { username, password });
      await session.refresh();
      navigate('/', true);
    } catch (failure) {
      setError(errorText(failure));
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Create account</h1>
      <form onSubmit={submit}>
        <label for="signup-username">Username</label>
        <input id="signup-username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="signup-email">E-mail (optional)</label>
        <input id="signup-email" type="email" autoComplete="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <label for="signup-password">Password</label>
        <input id="signup-password" type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <label for="signup-confirm">Password again</label>
        <input id="signup-confirm" type="password" autoComplete="new-password" required value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Have an account? <a href="/signin">Sign in</a>
      </p>
    </section>
  );
}
