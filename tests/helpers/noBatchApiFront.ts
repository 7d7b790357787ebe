import http from 'node:http';
import type { OfflineServer } from '../../simulator/server.js';

/**
 * A vLLM-like front for the offline server: chat completions and models pass through, /files and
 * /batches answer 404 (a local server without the Batch API).
 */
export async function startNoBatchApiFront(server: OfflineServer): Promise<{ url: string; close(): Promise<void> }> {
  const front = http.createServer(async (req, res) => {
    if (/\/v1\/(files|batches)/.test(req.url ?? '')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Not Found', type: 'not_found' } }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r = await fetch(`${server.url}${(req.url ?? '').replace(/^\/v1/, '')}`, { method: req.method, headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
    res.writeHead(r.status, Object.fromEntries(r.headers)).end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(front.address() as { port: number }).port}/v1`,
    close: () => new Promise<void>((r) => { front.closeAllConnections(); front.close(() => r()); }),
  };
}
