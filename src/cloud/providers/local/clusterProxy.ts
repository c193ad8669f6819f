/**
 * The stable address of a local cluster: a reverse proxy on one port that spreads requests round-robin over the
 * ready replicas (what a Kubernetes Service does). WebSocket upgrades are tunnelled as raw TCP.
 */
import http from 'node:http';
import net from 'node:net';

export class ClusterProxy {
  private backends: number[] = [];
  private next = 0;
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly clusterName: string, private readonly host = '127.0.0.1') {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.on('upgrade', (req, socket, head) => this.tunnel(req, socket as net.Socket, head));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Listens on `port` (0 for any); resolves with the port actually bound. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, this.host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  setBackends(ports: number[]): void {
    this.backends = [...ports];
  }

  private pick(): number | undefined {
    if (this.backends.length === 0) return undefined;
    this.next = (this.next + 1) % this.backends.length;
    return this.backends[this.next];
  }

  private unavailable(res: http.ServerResponse): void {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 503, message: `cluster ${this.clusterName} has no ready replica` } }));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const port = this.pick();
    if (port === undefined) return this.unavailable(res);
    const upstream = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) this.unavailable(res);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  private tunnel(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const port = this.pick();
    if (port === undefined) return void socket.destroy();
    const upstream = net.connect(port, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
