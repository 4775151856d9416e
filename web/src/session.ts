import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { api, ApiError } from './api.js';
import type { User } from './types.js';

/**
 * Who is signed in, as GET /api/v1/user/ says (the HttpOnly session cookie is invisible to the UI, which is
 * the point). `refresh` runs after sign in and sign out.
 */
export interface Session {
  user: User | null;
  refresh: () => Promise<void>;
}

export const SessionContext = createContext<Session>({ user: null, refresh: async () => {} });

/** The current session. */
export function useSession(): Session {
  return useContext(SessionContext);
}

/** The signed-in user, or null when the server says nobody is (401). */
export async function loadUser(): Promise<User | null> {
  try {
    return await api<User>('GET', '/user/');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}
