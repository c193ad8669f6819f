/**
 * One JSON POST to a webhook with Node's global fetch: a timeout per attempt, one retry when the request
 * could not be made (connection refused or reset) or the server answered 5xx, and a result instead of an
 * exception, so a notification can never break the run that caused it.
 *
 * A timed-out request is not retried: the receiver may have taken it and be slow, and a second copy of an
 * alert is worse than one late report of the failure.
 */
import { redactUrl } from './config.js';

export interface DeliveryOptions {
  /** Milliseconds one attempt may take, answer included. Default 10000. */
  timeoutMs?: number;
  /** Milliseconds before the retry. Default 1000. */
  retryDelayMs?: number;
  /** Extra request headers (e.g. Opsgenie's Authorization). */
  headers?: Record<string, string>;
}

export interface DeliveryResult {
  ok: boolean;
  /** The last HTTP status received, if any. */
  status?: number;
  /** 1, or 2 when retried. */
  attempts: number;
  /** Why it failed: names the host (never the full URL, which holds credentials) and the cause. */
  error?: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRY_DELAY_MS = 1_000;

type Attempt = { ok: true; status: number } | { ok: false; status?: number; retry: boolean; error: string };

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

async function attempt(url: string, body: string, options: DeliveryOptions): Promise<Attempt> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(options.headers ?? {}) },
      body,
      signal,
      redirect: 'follow',
    });
  } catch (err) {
    if (signal.aborted) return { ok: false, retry: false, error: `no answer within ${timeoutMs} ms` };
    return { ok: false, retry: true, error: `request failed (${causeOf(err)})` };
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (signal.aborted) return { ok: false, status: res.status, retry: false, error: `answer not complete within ${timeoutMs} ms` };
    // The status line arrived; a body cut short does not change what the receiver did.
  }
  if (res.ok) return { ok: true, status: res.status };
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return { ok: false, status: res.status, retry: res.status >= 500, error: `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}` };
}

/** POSTs `payload` as JSON to `url`. Never throws. */
export async function postJson(url: string, payload: unknown, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  let body: string;
  try {
    body = JSON.stringify(payload);
  } catch (err) {
    return { ok: false, attempts: 0, error: `payload is not JSON: ${(err as Error).message}` };
  }
  let result = await attempt(url, body, options);
  let attempts = 1;
  if (!result.ok && result.retry) {
    await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS));
    result = await attempt(url, body, options);
    attempts = 2;
  }
  if (result.ok) return { ok: true, status: result.status, attempts };
  return { ok: false, status: result.status, attempts, error: `${redactUrl(url)}: ${result.error}` };
}
