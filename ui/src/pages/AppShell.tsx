/** The frame around every signed-in page: the top bar with the project, navigation and sign-out. */
import { Link, Outlet, useNavigate, useRouteContext } from '@tanstack/react-router';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { signOut, statusQuery } from '../session';
import { ToastProvider } from '../components';

export function AppShell() {
  const { session } = useRouteContext({ from: '/app' });
  const status = useQuery(statusQuery);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const user = session === 'open' ? null : session;
  return (
    <ToastProvider>
      <div className="shell">
        <header className="topbar">
          <Link to="/pipelines" className="brand" aria-label="Blockflow home">
            <img src="/favicon.svg" alt="" width={22} height={22} />
            <span>Blockflow</span>
          </Link>
          <span className="project" title={status.data?.project_uuid}>
            {status.data?.repo_path_relative ?? ''}
          </span>
          <nav className="topnav">
            <Link to="/pipelines" activeProps={{ className: 'active' }} activeOptions={{ exact: false }}>
              Pipelines
            </Link>
            <Link to="/runs" search={{}} activeProps={{ className: 'active' }}>
              Runs
            </Link>
            <Link to="/triggers" activeProps={{ className: 'active' }}>
              Triggers
            </Link>
          </nav>
          <span className="spacer" />
          {user ? (
            <>
              <span className="user" data-testid="signed-in-user">
                {user.username ?? user.email}
              </span>
              <button
                className="button ghost"
                onClick={async () => {
                  await signOut(queryClient);
                  await navigate({ to: '/sign-in', search: {} });
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            <span className="muted small" title="REQUIRE_USER_AUTHENTICATION=0">
              authentication off
            </span>
          )}
        </header>
        <main className="content">
          <Outlet />
        </main>
      </div>
    </ToastProvider>
  );
}
