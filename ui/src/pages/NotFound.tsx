import { Link } from '@tanstack/react-router';

export function NotFound() {
  return (
    <div className="center-page">
      <div className="card narrow">
        <h1>Page not found</h1>
        <p className="muted">There is no page at {window.location.pathname}.</p>
        <Link to="/pipelines" className="button primary">
          Go to pipelines
        </Link>
      </div>
    </div>
  );
}
