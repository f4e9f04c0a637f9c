import assert from 'node:assert/strict';
import { CREATE_OPTIONS_LIMITS, chunkCreateOptions, createOptionsKey, joinCreateOptions, type JsonObject } from '@edgeml/deploy-tools';

function bigOptions(chars: number): JsonObject {
  // A Binds list long enough to serialise to at least `chars` characters.
  const binds: string[] = [];
  while (JSON.stringify({ HostConfig: { Binds: binds } }).length < chars) binds.push(`/srv/edgeml/volume-${binds.length}:/mnt/v${binds.length}`);
  return { HostConfig: { Binds: binds } };
}

describe('deployment/tools createOptions chunking', () => {
  it('names chunks as edgeAgent reads them: createOptions, createOptions01, … createOptions10', () => {
    assert.deepEqual([0, 1, 2, 9, 10].map(createOptionsKey), ['createOptions', 'createOptions01', 'createOptions02', 'createOptions09', 'createOptions10']);
  });

  it('keeps small options in one compact chunk', () => {
    const chunks = chunkCreateOptions({ ExposedPorts: { '9600/tcp': {} } });
    assert.deepEqual(chunks, { createOptions: '{"ExposedPorts":{"9600/tcp":{}}}' });
  });

  for (const size of [511, 512, 513, 1024, 1025, 3000]) {
    it(`round-trips options of about ${size} characters through 512-character chunks`, () => {
      const options = bigOptions(size);
      const chunks = chunkCreateOptions(options);
      const text = JSON.stringify(options);
      assert.equal(Object.keys(chunks).length, Math.ceil(text.length / 512));
      for (const value of Object.values(chunks)) assert.ok(value.length <= CREATE_OPTIONS_LIMITS.chunkChars);
      const joined = joinCreateOptions({ image: 'x', ...chunks });
      assert.deepEqual(joined.problems, []);
      assert.deepEqual(joined.options, options);
    });
  }

  it('never cuts inside a surrogate pair', () => {
    const options = { Labels: { note: 'x'.repeat(510) + '😀😀😀' } };
    const chunks = chunkCreateOptions(options);
    for (const value of Object.values(chunks)) assert.ok(!/[\ud800-\udbff]$/.test(value), 'a chunk ends in a high surrogate');
    assert.deepEqual(joinCreateOptions(chunks).options, options);
  });

  it('reports gaps, oversize chunks, too many chunks and non-JSON text, every one', () => {
    const gap = joinCreateOptions({ createOptions: '{"a":', createOptions02: '1}' });
    assert.match(gap.problems.join('\n'), /"createOptions02" is out of sequence: expected "createOptions01"/);
    const oversize = joinCreateOptions({ createOptions: JSON.stringify({ a: 'b'.repeat(600) }) });
    assert.match(oversize.problems.join('\n'), /holds 608 characters; a chunk holds at most 512/);
    const many = joinCreateOptions(chunkCreateOptions(bigOptions(9 * 512)));
    assert.match(many.problems.join('\n'), /createOptions chunks; the tooling allows at most 8/);
    const broken = joinCreateOptions({ createOptions: '{"a":' });
    assert.match(broken.problems.join('\n'), /not valid JSON/);
  });

  it('accepts an object only in a template', () => {
    assert.deepEqual(joinCreateOptions({ createOptions: { a: 1 } }, { allowObject: true }).problems, []);
    assert.match(joinCreateOptions({ createOptions: { a: 1 } }).problems.join('\n'), /must be a string in a deployment manifest/);
  });
});
