/**
 * A real HTTP server on 127.0.0.1 standing in for Slack, Teams, Discord, Google Chat, Telegram and Opsgenie
 * webhooks: it records every request (path, headers, parsed JSON body) and answers with a status chosen per
 * path (a queue of statuses, or `hang` to never answer).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  path: string;
  method: string;
  headers: IncomingMessage['headers'];
  body: any;
}

export type Answer = number | 'hang';

export interface WebhookRecorder {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: RecordedRequest[];
  /** Answers for the next requests to `path`, in order; after them, 200. */
  answer(path: string, ...answers: Answer[]): void;
  /** Resolves with the `n`th request (1-based) to `path`, waiting for it if needed. */
  next(path: string, n?: number): Promise<RecordedRequest>;
  /** Requests received for `path` so far. */
  to(path: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startWebhookRecorder(): Promise<WebhookRecorder> {
  const requests: RecordedRequest[] = [];
  const answers = new Map<string, Answer[]>();
  const waiters: Array<{ path: string; n: number; resolve: (r: RecordedRequest) => void }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Recorded as text.
      }
      const path = req.url ?? '/';
      const recorded: RecordedRequest = { path, method: req.method ?? '', headers: req.headers, body };
      requests.push(recorded);
      const count = requests.filter((r) => r.path === path).length;
      for (const w of waiters.filter((w) => w.path === path && w.n === count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(recorded);
      }
      const answer = answers.get(path)?.shift() ?? 200;
      if (answer === 'hang') return;
      res.writeHead(answer, { 'content-type': 'text/plain' });
      res.end(answer >= 400 ? `error ${answer}` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(path, ...list) {
      answers.set(path, [...(answers.get(path) ?? []), ...list]);
    },
    next(path, n = 1) {
      const seen = requests.filter((r) => r.path === path);
      if (seen.length >= n) return Promise.resolve(seen[n - 1]);
      return new Promise((resolve) => waiters.push({ path, n, resolve }));
    },
    to(path) {
      return requests.filter((r) => r.path === path);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
