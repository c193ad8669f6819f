/** Sign-in (POST /api/sessions; the server sets the HttpOnly `oauth_token` cookie). */
import { useState, type FormEvent } from 'react';
import { useNavigate, useSearch } from '@tanstack/react-router';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api';
import { signIn } from '../session';
import { safeRedirect } from '../router';

export function SignInPage() {
  const search = useSearch({ from: '/sign-in' });
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(queryClient, login.trim(), password);
      await navigate({ href: safeRedirect(search.redirect) });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Email/username or password is wrong.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="center-page">
      <form className="card narrow signin" onSubmit={submit} aria-label="Sign in">
        <div className="brand big">
          <img src="/favicon.svg" alt="" width={32} height={32} />
          <span>Blockflow</span>
        </div>
        <h1>Sign in</h1>
        <label>
          Email or username
          <input name="email" autoComplete="username" value={login} onChange={(e) => setLogin(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && (
          <div className="error-note" role="alert">
            {error}
          </div>
        )}
        <button className="button primary wide" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">The owner's password is printed once, when the server first starts.</p>
      </form>
    </div>
  );
}
