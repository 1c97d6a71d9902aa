/**
 * The ceiling every figure is measured against: a bare Fastify route answering
 * a small fixed JSON, in a process of its own, under the same load settings.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/ceiling', async () => ({ ok: true, service: 'tokend-bench-ceiling' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on ${address}\n`);
