import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { duplicateKey } from '../../src/http/json-keys.js';
import { json, startHarness } from '../helpers/harness.js';

test('a key given twice in one object is found, however it is escaped or nested', () => {
  assert.equal(duplicateKey('{"grant_type":"password","grant_type":"refresh_token"}'), 'grant_type');
  assert.equal(duplicateKey('{"a":1,"\\u0061":2}'), 'a');
  assert.equal(duplicateKey('{"data":{"attributes":{"username":"x","username":"y"}}}'), 'username');
  assert.equal(duplicateKey('[{"a":1},{"a":2}]'), null, 'the same key in sibling objects is fine');
  assert.equal(duplicateKey('{"a":{"a":1},"b":["a","a"],"c":"a\\"a"}'), null, 'values and nested objects are not keys of the outer object');
});

test('any JSON value without duplicate keys is passed, and one with a duplicate is caught', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.equal(duplicateKey(JSON.stringify(value)), null);
      const withDuplicate = `{"k":1,${JSON.stringify({ v: value }).slice(1, -1)},"k":2}`;
      assert.equal(duplicateKey(withDuplicate), 'k');
    }),
  );
});

test('a JSON body with a duplicate key is 400 invalid_request, not a silent pick of the last value', async () => {
  const h = await startHarness();
  try {
    const response = await h.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/json' },
      payload: `{"grant_type":"client_credentials","client_id":"${h.clientId}","client_secret":"${h.clientSecret}","grant_type":"password"}`,
    });
    assert.equal(response.statusCode, 400);
    assert.equal(json(response).error, 'invalid_request');
    assert.match(json(response).error_description, /grant_type/);
  } finally {
    await h.close();
  }
});
