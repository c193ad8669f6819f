/**
 * The SMTP client against a real SMTP server on 127.0.0.1 (written here with node:net and node:tls): the
 * dialogue, STARTTLS with a throwaway certificate, AUTH PLAIN and LOGIN, refusals and retries.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import type { EmailConfig } from './config.js';
import { formatMail, sendMail } from './smtp.js';

interface ReceivedMail {
  commands: string[];
  data: string;
  secure: boolean;
}

interface SmtpServerOptions {
  /** Offer STARTTLS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** AUTH mechanisms offered (default PLAIN LOGIN). */
  auth?: string[];
  /** Replies replacing the normal one for a command verb, used once each. */
  replies?: Record<string, string[]>;
  /** The greeting (default 220). */
  greetings?: string[];
}

interface FakeSmtp {
  port: number;
  mails: ReceivedMail[];
  /** Every command line received, all sessions. */
  log: string[];
  sessions: number;
  close(): Promise<void>;
}

async function startSmtp(options: SmtpServerOptions = {}): Promise<FakeSmtp> {
  const mails: ReceivedMail[] = [];
  const log: string[] = [];
  const sockets = new Set<Socket>();
  const state = { sessions: 0 };
  const greetings = [...(options.greetings ?? [])];
  const replies = Object.fromEntries(Object.entries(options.replies ?? {}).map(([k, v]) => [k, [...v]]));
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    state.sessions += 1;
    let socket: Socket = raw;
    let secure = false;
    let buffer = '';
    let inData = false;
    let data = '';
    let loginStep = 0;
    const commands: string[] = [];
    const send = (line: string) => socket.write(`${line}\r\n`);
    const greeting = greetings.shift() ?? '220 fake.smtp ready';
    send(greeting);
    if (!greeting.startsWith('220')) return void socket.end();
    const onLine = (line: string) => {
      if (inData) {
        if (line === '.') {
          inData = false;
          mails.push({ commands: [...commands], data, secure });
          send(replies.DOT?.shift() ?? '250 queued');
        } else {
          data += `${line.startsWith('..') ? line.slice(1) : line}\r\n`;
        }
        return;
      }
      if (loginStep === 1) return (commands.push(`user:${Buffer.from(line, 'base64').toString()}`), (loginStep = 2), send('334 UGFzc3dvcmQ6'));
      if (loginStep === 2) return (commands.push(`pass:${Buffer.from(line, 'base64').toString()}`), (loginStep = 0), send('235 ok'));
      commands.push(line);
      log.push(line);
      const verb = line.split(' ')[0].toUpperCase();
      const override = replies[verb]?.shift();
      if (override) return send(override);
      if (verb === 'EHLO') {
        const ext = ['250-fake.smtp', `250-AUTH ${(options.auth ?? ['PLAIN', 'LOGIN']).join(' ')}`];
        if (options.tls && !secure) ext.push('250-STARTTLS');
        ext.push('250 SIZE 1000000');
        return send(ext.join('\r\n'));
      }
      if (verb === 'STARTTLS') {
        send('220 go ahead');
        socket.removeListener('data', onData);
        const upgraded = new TLSSocket(socket, { isServer: true, key: options.tls!.key, cert: options.tls!.cert });
        upgraded.on('error', () => undefined);
        upgraded.on('data', onData);
        socket = upgraded;
        secure = true;
        buffer = '';
        return;
      }
      if (verb === 'AUTH') {
        if (line.toUpperCase().startsWith('AUTH LOGIN')) return (loginStep = 1), send('334 VXNlcm5hbWU6');
        return send('235 ok');
      }
      if (verb === 'DATA') return (inData = true), (data = ''), send('354 end with .');
      if (verb === 'QUIT') return send('221 bye'), socket.end();
      send('250 ok');
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        onLine(line);
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    mails,
    log,
    get sessions() {
      return state.sessions;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function emailConfig(port: number, extra: Partial<EmailConfig> = {}): EmailConfig {
  return {
    smtp_host: '127.0.0.1',
    smtp_mail_from: 'Mage <mage@example.com>',
    smtp_user: 'mage',
    smtp_password: 'päss',
    smtp_starttls: false,
    smtp_ssl: false,
    smtp_port: port,
    to_emails: ['a@example.com', 'b@example.com'],
    ...extra,
  };
}

function bodyOf(data: string): string {
  const [, body] = data.split('\r\n\r\n');
  return Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8');
}

function header(data: string, name: string): string | undefined {
  return data
    .split('\r\n\r\n')[0]
    .split('\r\n')
    .find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    ?.slice(name.length + 1)
    .trim();
}

let certDir: string;
let tlsFiles: { key: string; cert: string };
before(() => {
  certDir = mkdtempSync(join(tmpdir(), 'blockflow-smtp-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
  ], { stdio: 'ignore' });
  tlsFiles = { key: readFileSync(join(certDir, 'key.pem'), 'utf8'), cert: readFileSync(join(certDir, 'cert.pem'), 'utf8') };
});
after(() => rmSync(certDir, { recursive: true, force: true }));

describe('sending mail over SMTP', () => {
  test('AUTH PLAIN, one RCPT per recipient, headers and a UTF-8 body', async () => {
    const smtp = await startSmtp();
    try {
      const result = await sendMail(emailConfig(smtp.port), { subject: 'Failed to run Mage pipeline etl', text: 'Failed.\nOpen http://x/runs/1 — ✓' }, { heloName: 'blockflow.test' });
      assert.deepEqual(result, { ok: true, attempts: 1 });
      assert.equal(smtp.mails.length, 1);
      const mail = smtp.mails[0];
      assert.deepEqual(mail.commands, [
        'EHLO blockflow.test',
        `AUTH PLAIN ${Buffer.from('\0mage\0päss').toString('base64')}`,
        'MAIL FROM:<mage@example.com>',
        'RCPT TO:<a@example.com>',
        'RCPT TO:<b@example.com>',
        'DATA',
      ]);
      assert.equal(header(mail.data, 'Subject'), 'Failed to run Mage pipeline etl');
      assert.equal(header(mail.data, 'From'), 'Mage <mage@example.com>');
      assert.equal(header(mail.data, 'To'), 'a@example.com, b@example.com');
      assert.equal(header(mail.data, 'Content-Type'), 'text/plain; charset="utf-8"');
      assert.equal(bodyOf(mail.data), 'Failed.\r\nOpen http://x/runs/1 — ✓');
    } finally {
      await smtp.close();
    }
  });

  test('STARTTLS upgrades the connection before logging in (AUTH LOGIN when PLAIN is not offered)', async () => {
    const smtp = await startSmtp({ tls: tlsFiles, auth: ['LOGIN'] });
    try {
      const result = await sendMail(emailConfig(smtp.port, { smtp_starttls: true }), { subject: 'S', text: 'T' }, { tls: { ca: tlsFiles.cert }, heloName: 'h' });
      assert.deepEqual(result, { ok: true, attempts: 1 });
      const mail = smtp.mails[0];
      assert.equal(mail.secure, true);
      assert.deepEqual(mail.commands.slice(0, 6), ['EHLO h', 'STARTTLS', 'EHLO h', 'AUTH LOGIN', 'user:mage', 'pass:päss']);
    } finally {
      await smtp.close();
    }
  });

  test('a certificate that does not verify stops the mail before any credential is sent', async () => {
    const smtp = await startSmtp({ tls: tlsFiles });
    try {
      const result = await sendMail(emailConfig(smtp.port, { smtp_starttls: true }), { subject: 'S', text: 'T' });
      assert.equal(result.ok, false);
      assert.match(result.error!, /TLS negotiation failed/);
      assert.deepEqual(smtp.log, ['EHLO ' + smtp.log[0].slice(5), 'STARTTLS']);
      assert.equal(smtp.mails.length, 0);
    } finally {
      await smtp.close();
    }
  });

  test('STARTTLS required but not offered is an error that says how to opt out', async () => {
    const smtp = await startSmtp();
    try {
      const result = await sendMail(emailConfig(smtp.port, { smtp_starttls: true }), { subject: 'S', text: 'T' }, { retryDelayMs: 10 });
      assert.deepEqual(result, {
        ok: false,
        attempts: 1,
        error: `smtp://127.0.0.1:${smtp.port}: the server does not offer STARTTLS (set smtp_starttls: false to send without TLS)`,
      });
    } finally {
      await smtp.close();
    }
  });

  test('a permanent refusal (550) is not retried; a temporary one (421 greeting) is, once', async () => {
    const refusing = await startSmtp({ replies: { RCPT: ['550 no such user'] } });
    try {
      const result = await sendMail(emailConfig(refusing.port), { subject: 'S', text: 'T' }, { retryDelayMs: 10 });
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 1);
      assert.match(result.error!, /RCPT TO:<a@example\.com> was refused: 550 no such user/);
    } finally {
      await refusing.close();
    }
    const busy = await startSmtp({ greetings: ['421 try later'] });
    try {
      const result = await sendMail(emailConfig(busy.port), { subject: 'S', text: 'T' }, { retryDelayMs: 10 });
      assert.deepEqual(result, { ok: true, attempts: 2 });
      assert.equal(busy.sessions, 2);
      assert.equal(busy.mails.length, 1);
    } finally {
      await busy.close();
    }
  });

  test('headers never carry line breaks; non-ASCII subjects are RFC 2047 encoded', () => {
    const text = formatMail(emailConfig(25), { subject: 'Échec\r\nBcc: evil@x', text: 'b' });
    const subject = header(text, 'Subject')!;
    assert.match(subject, /^=\?UTF-8\?B\?.+\?=$/);
    assert.equal(Buffer.from(subject.slice(10, -2), 'base64').toString('utf8'), 'Échec Bcc: evil@x');
    assert.equal(header(text, 'Bcc'), undefined);
  });
});
