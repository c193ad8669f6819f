import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { ApiError, setUnauthorizedHandler } from './api';
import { createAppRouter } from './router';
import { sessionQuery } from './session';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      refetchOnWindowFocus: false,
      retry: (count, err) => !(err instanceof ApiError && err.status > 0 && err.status < 500) && count < 2,
    },
  },
});
const router = createAppRouter(queryClient);

// A 401 anywhere means the session is gone: back to the sign-in page, returning here afterwards.
setUnauthorizedHandler(() => {
  queryClient.setQueryData(sessionQuery.queryKey, null);
  const here = router.state.location.href;
  if (!router.state.location.pathname.startsWith('/sign-in')) void router.navigate({ to: '/sign-in', search: { redirect: here } });
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
