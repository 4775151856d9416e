import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import { ErrorNote } from './components/ErrorNote.js';
import { Account } from './pages/Account.js';
import { NewRepository } from './pages/NewRepository.js';
import { Organization } from './pages/Organization.js';
import { Organizations } from './pages/Organizations.js';
import { Repositories } from './pages/Repositories.js';
import { Repository } from './pages/Repository.js';
import { SignIn } from './pages/SignIn.js';
import { SignUp } from './pages/SignUp.js';
import { isSuperuserPath, Superuser } from './pages/superuser/Superuser.js';
import { navigate, usePlace, type Place } from './router.js';
import { loadUser, SessionContext, type Session } from './session.js';
import type { User } from './types.js';

/** /repository/<namespace>/<name...> -> its parts, decoded; undefined for anything else. */
function repositoryOf(path: string): { namespace: string; name: string } | undefined {
  const match = /^\/repository\/([^/]+)\/(.+)$/.exec(path);
  if (match === null) return undefined;
  try {
    return { namespace: decodeURIComponent(match[1]!), name: match[2]!.split('/').map(decodeURIComponent).join('/') };
  } catch {
    return undefined;
  }
}

const PUBLIC_PAGES = new Set(['/signin', '/signup']);

function Page({ place, user }: { place: Place; user: User | null }) {
  if (place.path === '/signin') return <SignIn />;
  if (place.path === '/signup') return <SignUp />;
  if (user === null) return null;
  if (place.path === '/') return <Repositories />;
  if (place.path === '/new') return <NewRepository />;
  if (place.path === '/account') return <Account />;
  if (place.path === '/organizations') return <Organizations />;
  if (isSuperuserPath(place.path)) return <Superuser path={place.path} />;
  const organization = /^\/organization\/([^/]+)$/.exec(place.path);
  if (organization !== null) return <Organization name={decodeURIComponent(organization[1]!)} />;
  const repository = repositoryOf(place.path);
  if (repository !== undefined) return <Repository {...repository} tab={place.query.get('tab')} />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{place.path}</code>. <a href="/">Back to the repositories</a>.
      </p>
    </section>
  );
}

function Header({ user, onSignOut, error }: { user: User | null; onSignOut: () => void; error: string | null }) {
  return (
    <header class="top">
      <a class="brand" href="/">
        Quayside
      </a>
      {user !== null ? (
        <nav aria-label="Main">
          <a href="/">Repositories</a>
          <a href="/organizations">Organizations</a>
          {user.super_user ? <a href="/superuser/users">Superuser</a> : null}
          <a href="/account">{user.username}</a>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </nav>
      ) : null}
      <ErrorNote error={error} />
    </header>
  );
}

/** The shell: who is signed in, the header, and the page of the current address. */
export function App() {
  const place = usePlace();
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);

  const refresh = async () => {
    try {
      setUser(await loadUser());
      setError(null);
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  useEffect(() => {
    void refresh();
  }, []);
  // Signed out: every page but sign in / create account goes to sign in, and comes back after.
  useEffect(() => {
    if (user === null && !PUBLIC_PAGES.has(place.path)) {
      navigate(`/signin?next=${encodeURIComponent(place.path + window.location.search)}`, true);
    }
  }, [user, place.path]);

  const signOut = async () => {
    try {
      await api('POST', '/signout', {});
      setUser(null);
      navigate('/signin', true);
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const session: Session = { user: user ?? null, refresh };
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header user={user ?? null} onSignOut={signOut} error={error} />
      <main id="main" tabIndex={-1}>
        {user === undefined && error === null ? <p aria-live="polite">Loading…</p> : null}
        {user !== undefined ? <Page place={place} user={user} /> : null}
      </main>
    </SessionContext.Provider>
  );
}
