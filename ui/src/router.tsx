/** The routes (TanStack Router, code-based); the editor is a lazy chunk (Monaco, React Flow, ELK). */
import { createRootRouteWithContext, createRoute, createRouter, lazyRouteComponent, Outlet, redirect } from '@tanstack/react-router';
import type { QueryClient } from '@tanstack/react-query';
import { sessionQuery, statusQuery } from './session';
import { AppShell } from './pages/AppShell';
import { SignInPage } from './pages/SignIn';
import { PipelinesPage } from './pages/Pipelines';
import { NotFound } from './pages/NotFound';
import { GlobalRunsPage, PipelineRunsPage, validateRunsSearch } from './pages/Runs';
import { GlobalTriggersPage, PipelineTriggersPage } from './pages/Triggers';

interface RouterContext {
  queryClient: QueryClient;
}

const rootRoute = createRootRouteWithContext<RouterContext>()({
  component: () => <Outlet />,
  notFoundComponent: NotFound,
});

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/sign-in',
  validateSearch: (search: Record<string, unknown>): { redirect?: string } => (typeof search.redirect === 'string' ? { redirect: search.redirect } : {}),
  beforeLoad: async ({ context, search }) => {
    const session = await context.queryClient.ensureQueryData(sessionQuery);
    if (session) throw redirect({ href: safeRedirect(search.redirect) });
  },
  component: SignInPage,
});

/** Every page but sign-in: a session when the server wants one. */
const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: 'app',
  beforeLoad: async ({ context, location }) => {
    await context.queryClient.ensureQueryData(statusQuery);
    const session = await context.queryClient.ensureQueryData(sessionQuery);
    if (!session) throw redirect({ to: '/sign-in', search: { redirect: location.href } });
    return { session };
  },
  component: AppShell,
});

const indexRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/',
  beforeLoad: () => {
    throw redirect({ to: '/pipelines' });
  },
});

export interface PipelinesSearch {
  q?: string;
  tag?: string;
}

const pipelinesRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/pipelines',
  validateSearch: (search: Record<string, unknown>): PipelinesSearch => ({
    ...(typeof search.q === 'string' && search.q ? { q: search.q } : {}),
    ...(typeof search.tag === 'string' && search.tag ? { tag: search.tag } : {}),
  }),
  component: PipelinesPage,
});

const pipelineRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/pipelines/$uuid',
  beforeLoad: ({ params }) => {
    throw redirect({ to: '/pipelines/$uuid/edit', params });
  },
});

export const editRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/pipelines/$uuid/edit',
  component: lazyRouteComponent(() => import('./editor/EditorPage'), 'EditorPage'),
});

const runsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/runs',
  validateSearch: validateRunsSearch,
  component: GlobalRunsPage,
});

const pipelineRunsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/pipelines/$uuid/runs',
  validateSearch: validateRunsSearch,
  component: PipelineRunsPage,
});

/** A run's detail draws the DAG (React Flow, ELK): a lazy chunk like the editor. */
const runDetailRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/pipelines/$uuid/runs/$id',
  component: lazyRouteComponent(() => import('./pages/RunsDetail'), 'RunDetailPage'),
});

const triggersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/triggers',
  component: GlobalTriggersPage,
});

const pipelineTriggersRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/pipelines/$uuid/triggers',
  component: PipelineTriggersPage,
});

const routeTree = rootRoute.addChildren([
  signInRoute,
  appRoute.addChildren([indexRoute, pipelinesRoute, pipelineRoute, editRoute, runsRoute, pipelineRunsRoute, runDetailRoute, triggersRoute, pipelineTriggersRoute]),
]);

/** Only same-origin paths are followed after signing in. */
export function safeRedirect(target: string | undefined): string {
  return target && target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/sign-in') ? target : '/pipelines';
}

export function createAppRouter(queryClient: QueryClient) {
  return createRouter({ routeTree, context: { queryClient }, defaultPreload: false, scrollRestoration: false });
}

declare module '@tanstack/react-router' {
  interface Register {
    router: ReturnType<typeof createAppRouter>;
  }
}
