import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createUser, login, startHarness, type Harness } from '../helpers/harness.js';

/*
 * Answers leave at the end of the event loop's turn (src/core/turn-end.ts),
 * below Fastify, on a real loopback connection: whole, in order, and once.
 */

let h: Harness;
let port: number;
before(async () => {
  h = await startHarness();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  port = (h.app.server.address() as { port: number }).port;
});
after(() => h.close());

/** The HTTP/1.1 answers read off one raw connection until `count` have come whole: status and body each. */
function exchange(request: string, count: number): Promise<Array<{ status: number; body: string }>> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let buffer = '';
    const answers: Array<{ status: number; body: string }> = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${answers.length} of ${count} answers came: ${buffer.slice(0, 300)}`));
    }, 5_000);
    socket.on('error', reject);
    socket.on('data', (data: Buffer) => {
      buffer += data.toString('latin1');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buffer.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) break;
        answers.push({ status: Number(head.slice(9, 12)), body: buffer.slice(end + 4, end + 4 + length) });
        buffer = buffer.slice(end + 4 + length);
      }
      if (answers.length >= count) {
        clearTimeout(timer);
        // Nothing more may follow: an answer written twice would show here.
        setTimeout(() => {
          socket.destroy();
          if (buffer === '') resolve(answers);
          else reject(new Error(`bytes after the last answer: ${buffer.slice(0, 200)}`));
        }, 50);
      }
    });
  });
}

test('pipelined requests on one connection are answered whole, in order, each once', async () => {
  const user = await createUser(h);
  const token = (await login(h, user)).access_token as string;
  const request = [
    'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n',
    'GET /no-such-route HTTP/1.1\r\nhost: x\r\n\r\n',
    `GET /v1/me HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`,
    'GET /v1/me HTTP/1.1\r\nhost: x\r\n\r\n',
    `POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 29\r\n\r\ngrant_type=client_credentials`,
  ].join('');
  const answers = await exchange(request, 5);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 404, 200, 401, 401],
  );
  assert.equal(JSON.parse(answers[2]!.body).username, user.username);
  for (const answer of answers) JSON.parse(answer.body); // each body whole
});

test('many connections in one turn each get their own answer', async () => {
  const user = await createUser(h, 'bob', 'another horse battery staple');
  const token = (await login(h, user)).access_token as string;
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      exchange(i % 2 === 0 ? `GET /v1/me HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n` : 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n', 1),
    ),
  );
  answers.forEach(([answer], i) => {
    assert.equal(answer!.status, 200);
    assert.deepEqual(JSON.parse(answer!.body), i % 2 === 0 ? { ...JSON.parse(answers[0]![0]!.body), username: 'bob' } : { status: 'ok' });
  });
});
