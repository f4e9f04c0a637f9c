import assert from 'node:assert/strict';

import { cond, condError, jsonMessage, message } from './helpers.js';

const doc = { result: { label: 'defect', score: 0.93, ok: false, items: [{ id: 'a' }, { id: 'b' }], none: null, when: '2024-05-01T12:00:00Z' }, n: 7 };

function encodeUtf16le(text: string): Buffer {
  return Buffer.from(text, 'utf16le');
}
function encodeUtf32le(text: string): Buffer {
  const points = [...text].map((c) => c.codePointAt(0) ?? 0);
  const out = Buffer.alloc(points.length * 4);
  points.forEach((p, k) => out.writeUInt32LE(p, k * 4));
  return out;
}

describe('routes: $body queries (§2.4)', () => {
  it('reads strings, numbers and booleans from a JSON body with application/json + utf-8', () => {
    const msg = jsonMessage(doc);
    assert.equal(cond('$body.result.label = "defect"', msg), 'true');
    assert.equal(cond('$body.result.score >= 0.9', msg), 'true');
    assert.equal(cond('$body.result.ok = false', msg), 'true');
    assert.equal(cond('$body.n = 7', msg), 'true');
  });

  it('follows one [index] per segment', () => {
    assert.equal(cond("$body.result.items[1].id = 'b'", jsonMessage(doc)), 'true');
  });

  it('is undefined without the JSON content type', () => {
    const msg = message({ sys: { contentEncoding: 'utf-8' }, body: JSON.stringify(doc) });
    assert.equal(cond('$body.n = 7', msg), 'undefined');
    assert.equal(cond('is_defined($body.n)', msg), 'false');
  });

  it('is undefined with a non-JSON content type', () => {
    assert.equal(cond('$body.n = 7', message({ sys: { contentType: 'text/plain', contentEncoding: 'utf-8' }, body: JSON.stringify(doc) })), 'undefined');
  });

  it('is undefined without a content encoding, or with one other than utf-8/16/32', () => {
    assert.equal(cond('$body.n = 7', message({ sys: { contentType: 'application/json' }, body: JSON.stringify(doc) })), 'undefined');
    assert.equal(cond('$body.n = 7', message({ sys: { contentType: 'application/json', contentEncoding: 'ascii' }, body: JSON.stringify(doc) })), 'undefined');
  });

  it('matches content type and encoding case-insensitively', () => {
    const msg = message({ sys: { ContentType: 'Application/JSON', CONTENTENCODING: 'UTF-8' }, body: JSON.stringify(doc) });
    assert.equal(cond('$body.n = 7', msg), 'true');
  });

  it('decodes utf-16 (little endian) and utf-32 bodies', () => {
    const text = JSON.stringify({ s: 'héllo ✓' });
    const utf16 = message({ sys: { contentType: 'application/json', contentEncoding: 'utf-16' }, body: encodeUtf16le(text) });
    const utf32 = message({ sys: { contentType: 'application/json', contentEncoding: 'utf-32' }, body: encodeUtf32le(text) });
    assert.equal(cond("$body.s = 'héllo ✓'", utf16), 'true');
    assert.equal(cond("$body.s = 'héllo ✓'", utf32), 'true');
  });

  it('is undefined when the body is not JSON or its root is not an object', () => {
    const json = { contentType: 'application/json', contentEncoding: 'utf-8' };
    assert.equal(cond('$body.n = 7', message({ sys: json, body: '{not json' })), 'undefined');
    assert.equal(cond('$body.n = 7', message({ sys: json, body: '[1,2]' })), 'undefined');
  });

  it('is undefined for object and array results', () => {
    const msg = jsonMessage(doc);
    assert.equal(cond('is_defined($body.result)', msg), 'false');
    assert.equal(cond('is_defined($body.result.items)', msg), 'false');
  });

  it('gives null (defined) for a path that selects nothing, as edgeHub', () => {
    const msg = jsonMessage(doc);
    assert.equal(cond('is_defined($body.nothing)', msg), 'true');
    assert.equal(cond("$body.nothing = 'x'", msg), 'false');
    assert.equal(cond('is_defined($body.result.items[9])', msg), 'true');
  });

  it('reads ISO-8601 date strings as undefined (Newtonsoft parses them as dates)', () => {
    assert.equal(cond('is_defined($body.result.when)', jsonMessage(doc)), 'false');
    assert.equal(cond("$body.s = '2024-05-01'", jsonMessage({ s: '2024-05-01' })), 'true');
  });

  it('compares values of different JSON types by type order (bool < number < string < null)', () => {
    const msg = jsonMessage(doc);
    assert.equal(cond("$body.n < 'a'", msg), 'true');
    assert.equal(cond("$body.n = '7'", msg), 'false');
  });

  it('does arithmetic on body numbers, undefined for other types', () => {
    const msg = jsonMessage(doc);
    assert.equal(cond('$body.n + 1 = 8', msg), 'true');
    assert.equal(cond('$body.n * 2 - 4 = 10', msg), 'true');
    assert.equal(cond('is_defined($body.result.label + 1)', msg), 'false');
  });

  it('rejects % and unary - on body values (edgeHub has no such operator)', () => {
    assert.match(condError('$body.n % 2 = 1').message, /operator '%'/);
    assert.match(condError('- $body.n = -7').message, /unary '-'/);
  });

  it('uses body booleans in NOT / AND / OR, with edgeHub\'s left-operand rule', () => {
    const msg = jsonMessage({ a: true, b: false });
    assert.equal(cond('NOT $body.b', msg), 'true');
    assert.equal(cond('$body.a AND true', msg), 'true');
    assert.equal(cond('$body.a AND $body.b', msg), 'false');
    assert.equal(cond('$body.a OR $body.b', msg), 'true');
    assert.match(condError('true AND $body.a').message, /swap the operands/);
  });

  it('lets an application property named $body.path override the query; {$body.path} does not', () => {
    const msg = jsonMessage(doc, { props: { '$body.n': '8' } });
    assert.equal(cond("$body.n = '8'", msg), 'true');
    assert.equal(cond('{$body.n} = 7', msg), 'true');
  });

  it('accepts the $BODY prefix in any case; $body without a path is the system property "body"', () => {
    assert.equal(cond('$BODY.n = 7', jsonMessage(doc)), 'true');
    assert.equal(cond("$body = 'x'", message({ sys: { body: 'x' } })), 'true');
  });

  it('reports an empty or unsupported $body path at compile time', () => {
    assert.match(condError('$body. = 1').message, /\$body query cannot be empty/);
    assert.match(condError('$body.a[x] = 1').message, /unsupported \$body path/);
    assert.match(condError('$body.a[0][1] = 1').message, /unsupported \$body path/);
    assert.match(condError('$body.a..b = 1').message, /unsupported \$body path/);
  });

  it('treats * as a wildcard segment: one match is its value, several are undefined', () => {
    assert.equal(cond("$body.one.* = 'x'", jsonMessage({ one: { k: 'x' } })), 'true');
    assert.equal(cond('is_defined($body.two.*)', jsonMessage({ two: { a: 1, b: 2 } })), 'false');
  });
});
