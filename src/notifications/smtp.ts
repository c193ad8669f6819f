/**
 * Sends one plain-text mail through an SMTP server with node:net and node:tls (RFC 5321): implicit TLS
 * (`smtp_ssl`) or STARTTLS (`smtp_starttls`, required when set), AUTH PLAIN or LOGIN when a user and password
 * are configured, one RCPT per recipient. The body goes base64-encoded as UTF-8 text, so no line needs
 * dot-stuffing and any character survives.
 *
 * Like the webhooks it never throws, has a deadline for the whole exchange, and retries once when the
 * failure came before the server accepted the message (connection errors and 4xx, SMTP's "try again");
 * after the final `.` is accepted nothing is retried, so a mail is never sent twice.
 */
import { randomBytes } from 'node:crypto';
import { isIP, Socket, connect as netConnect } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { EmailConfig } from './config.js';
import type { DeliveryResult } from './http.js';

export interface MailOptions {
  /** Milliseconds the whole exchange may take. Default 10000. */
  timeoutMs?: number;
  /** Milliseconds before the retry. Default 1000. */
  retryDelayMs?: number;
  /** Extra TLS options (e.g. `ca` for a private certificate authority). */
  tls?: ConnectionOptions;
  /** Name sent in EHLO. Default the machine's host name. */
  heloName?: string;
}

export interface Mail {
  subject: string;
  text: string;
}

interface Reply {
  code: number;
  lines: string[];
}

class SmtpError extends Error {
  constructor(
    message: string,
    /** Whether a second attempt may succeed. */
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/** A reply-at-a-time reader over a socket that can be swapped for its TLS upgrade. */
class SmtpConnection {
  private buffer = '';
  private replies: Reply[] = [];
  private partial: string[] = [];
  private waiter?: { resolve: (r: Reply) => void; reject: (e: Error) => void };
  private failure?: Error;
  private readonly onData = (chunk: Buffer) => this.receive(chunk.toString('utf8'));
  private readonly onError = (err: Error) => this.fail(new SmtpError(`connection error (${(err as NodeJS.ErrnoException).code ?? err.message})`, true));
  private readonly onClose = () => this.fail(new SmtpError('the server closed the connection', true));

  constructor(private socket: Socket | TLSSocket) {
    this.attach();
  }

  private attach(): void {
    this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
  }

  private receive(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) {
        this.fail(new SmtpError(`unexpected server line ${JSON.stringify(line.slice(0, 80))}`, false));
        return;
      }
      this.partial.push(m[3]);
      if (m[2] !== '-') {
        const reply = { code: Number(m[1]), lines: this.partial };
        this.partial = [];
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w.resolve(reply);
        } else {
          this.replies.push(reply);
        }
      }
    }
  }

  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  read(): Promise<Reply> {
    const next = this.replies.shift();
    if (next) return Promise.resolve(next);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Sends `line` (CRLF added) and reads the reply, which must have one of the `expect` codes. */
  async command(line: string, expect: number[], shown = line): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.expect(expect, shown);
  }

  async expect(codes: number[], what: string): Promise<Reply> {
    const reply = await this.read();
    if (!codes.includes(reply.code)) {
      throw new SmtpError(`${what} was refused: ${reply.code} ${reply.lines.join(' ').slice(0, 200)}`, reply.code >= 400 && reply.code < 500);
    }
    return reply;
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** STARTTLS: the same TCP connection continues as TLS. */
  async upgrade(options: ConnectionOptions): Promise<void> {
    this.detach();
    const plain = this.socket;
    const secure = tlsConnect({ ...options, socket: plain as Socket });
    // From here the TLS socket is the one to close; its late errors must not go unhandled.
    this.socket = secure;
    secure.on('error', () => undefined);
    plain.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', (err) => reject(new SmtpError(`TLS negotiation failed (${err.message})`, false)));
    });
    this.buffer = '';
    this.attach();
  }

  close(): void {
    this.detach();
    this.socket.on('error', () => undefined);
    this.socket.destroy();
  }
}

/** The address inside `Name <addr>`, or the text itself. */
function envelopeAddress(address: string): string {
  const m = /<([^>]*)>/.exec(address);
  return (m ? m[1] : address).trim();
}

/** RFC 2047 encoding for a header value that is not plain ASCII; line breaks are removed. */
function headerText(value: string): string {
  const flat = value.replace(/[\r\n]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(flat)) return flat;
  return `=?UTF-8?B?${Buffer.from(flat, 'utf8').toString('base64')}?=`;
}

/** The message as it goes after DATA: headers, blank line, base64 body in 76-character lines. */
export function formatMail(config: EmailConfig, mail: Mail, now = new Date()): string {
  const domain = envelopeAddress(config.smtp_mail_from).split('@')[1] || 'blockflow.local';
  const body = Buffer.from(mail.text.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: ${headerText(config.smtp_mail_from)}`,
    `To: ${config.to_emails.map(headerText).join(', ')}`,
    `Subject: ${headerText(mail.subject)}`,
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Transfer-Encoding: base64',
    '',
    body.replace(/\r\n$/, ''),
  ].join('\r\n');
}

function ehloExtensions(reply: Reply): Map<string, string> {
  const ext = new Map<string, string>();
  for (const line of reply.lines.slice(1)) {
    const [name, ...rest] = line.trim().split(/\s+/);
    if (name) ext.set(name.toUpperCase(), rest.join(' ').toUpperCase());
  }
  return ext;
}

interface AttemptState {
  /** The server answered 250 to the message: never send it again. */
  accepted: boolean;
  socket?: Socket | TLSSocket;
  conn?: SmtpConnection;
}

function open(config: EmailConfig, options: MailOptions, state: AttemptState): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new SmtpError(`cannot connect (${err.code ?? err.message})`, true));
    if (config.smtp_ssl) {
      const socket = tlsConnect({
        host: config.smtp_host,
        port: config.smtp_port,
        ...(isIP(config.smtp_host) ? {} : { servername: config.smtp_host }),
        ...(options.tls ?? {}),
      });
      state.socket = socket;
      socket.once('secureConnect', () => (socket.off('error', onError), resolve(socket)));
      socket.once('error', onError);
    } else {
      const socket = netConnect({ host: config.smtp_host, port: config.smtp_port });
      state.socket = socket;
      socket.once('connect', () => (socket.off('error', onError), resolve(socket)));
      socket.once('error', onError);
    }
  });
}

async function exchange(config: EmailConfig, mail: Mail, options: MailOptions, state: AttemptState): Promise<void> {
  const conn = new SmtpConnection(await open(config, options, state));
  state.conn = conn;
  const helo = options.heloName ?? hostname();
  await conn.expect([220], 'the greeting');
  let ext = ehloExtensions(await conn.command(`EHLO ${helo}`, [250]));
  if (!config.smtp_ssl && config.smtp_starttls) {
    if (!ext.has('STARTTLS')) throw new SmtpError('the server does not offer STARTTLS (set smtp_starttls: false to send without TLS)', false);
    await conn.command('STARTTLS', [220]);
    await conn.upgrade({ host: config.smtp_host, ...(isIP(config.smtp_host) ? {} : { servername: config.smtp_host }), ...(options.tls ?? {}) });
    ext = ehloExtensions(await conn.command(`EHLO ${helo}`, [250]));
  }
  if (config.smtp_user && config.smtp_password) {
    const mechanisms = (ext.get('AUTH') ?? '').split(/\s+/);
    if (mechanisms.includes('PLAIN')) {
      const token = Buffer.from(`\0${config.smtp_user}\0${config.smtp_password}`, 'utf8').toString('base64');
      await conn.command(`AUTH PLAIN ${token}`, [235], 'AUTH PLAIN');
    } else if (mechanisms.includes('LOGIN')) {
      await conn.command('AUTH LOGIN', [334]);
      await conn.command(Buffer.from(config.smtp_user, 'utf8').toString('base64'), [334], 'the user name');
      await conn.command(Buffer.from(config.smtp_password, 'utf8').toString('base64'), [235], 'the password');
    } else {
      throw new SmtpError('the server offers neither AUTH PLAIN nor AUTH LOGIN', false);
    }
  }
  await conn.command(`MAIL FROM:<${envelopeAddress(config.smtp_mail_from)}>`, [250]);
  for (const to of config.to_emails) await conn.command(`RCPT TO:<${envelopeAddress(to)}>`, [250, 251]);
  await conn.command('DATA', [354]);
  conn.write(`${formatMail(config, mail)}\r\n.\r\n`);
  const reply = await conn.read();
  if (reply.code !== 250) throw new SmtpError(`the message was refused: ${reply.code} ${reply.lines.join(' ').slice(0, 200)}`, reply.code >= 400 && reply.code < 500);
  state.accepted = true;
  await conn.command('QUIT', [221]).catch(() => undefined);
}

async function attempt(config: EmailConfig, mail: Mail, options: MailOptions): Promise<{ ok: boolean; retry: boolean; error?: string }> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const state: AttemptState = { accepted: false };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SmtpError(`no answer within ${timeoutMs} ms`, false)), timeoutMs);
  });
  const work = exchange(config, mail, options, state);
  work.catch(() => undefined);
  try {
    await Promise.race([work, deadline]);
    return { ok: true, retry: false };
  } catch (err) {
    if (state.accepted) return { ok: true, retry: false };
    return { ok: false, retry: err instanceof SmtpError && err.transient, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
    if (state.conn) state.conn.close();
    else if (state.socket) state.socket.on('error', () => undefined).destroy();
  }
}

/** Sends `mail` to every address of `config.to_emails`. Never throws. */
export async function sendMail(config: EmailConfig, mail: Mail, options: MailOptions = {}): Promise<DeliveryResult> {
  let result = await attempt(config, mail, options);
  let attempts = 1;
  if (!result.ok && result.retry) {
    await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 1000));
    result = await attempt(config, mail, options);
    attempts = 2;
  }
  if (result.ok) return { ok: true, attempts };
  return { ok: false, attempts, error: `smtp://${config.smtp_host}:${config.smtp_port}: ${result.error}` };
}
