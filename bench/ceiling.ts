/**
 * The ceiling every figure is measured against: a bare Fastify route answering
 * a small fixed JSON, in a process of its own, under the same load settings.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/ceiling', async () => ({ ok: true, service: 'tokend-bench-ceiling' }));
// Not a ceiling but a bound: what a bare route costs that parses a form body as introspection's does.
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
app.post('/form', async (request) => ({ ok: true, token: typeof (request.body as { token?: unknown }).token }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on ${address}\n`);
