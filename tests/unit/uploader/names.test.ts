import assert from 'node:assert/strict';
import { renderBlobName, safeSegment, templateProblems, UPLOADER_DEFAULTS } from '@edgeml/uploader';

describe('uploader blob name templates', () => {
  const id = 'ab'.repeat(32);
  it('renders the default template from device, kind, detectedAt (UTC) and content id', () => {
    const name = renderBlobName(UPLOADER_DEFAULTS.blobNameTemplate, { dataset: 'image', deviceId: 'dev-1', moduleId: 'uploader', kind: 'image', date: new Date('2026-01-02T23:30:00+02:00'), id, part: 'artifact', ext: 'png' });
    assert.equal(name, `image/dev-1/2026/01/02/${id}/artifact.png`);
  });
  it('is deterministic: the same inputs always give the same name', () => {
    const v = { deviceId: 'd', moduleId: 'm', kind: 'results', date: new Date(0), batchId: '0123456789abcdef' };
    assert.equal(renderBlobName(UPLOADER_DEFAULTS.resultsBlobNameTemplate, v), renderBlobName(UPLOADER_DEFAULTS.resultsBlobNameTemplate, v));
    assert.equal(renderBlobName(UPLOADER_DEFAULTS.resultsBlobNameTemplate, v), 'results/d/1970/01/01/00/19700101T000000Z-0123456789abcdef.jsonl');
  });
  it('makes hostile values safe path segments', () => {
    assert.equal(safeSegment('result:cls'), 'result-cls');
    assert.equal(safeSegment('../../etc'), '..-..-etc');
    assert.equal(safeSegment('..'), '_');
    assert.equal(safeSegment(''), '_');
    const name = renderBlobName('{deviceId}/{id}/{part}', { deviceId: '../x', moduleId: 'm', kind: 'k', date: new Date(0), id: 'a/b', part: '..' });
    assert.equal(name, '..-x/a-b/_');
  });
  it('refuses invalid dates', () => {
    assert.throws(() => renderBlobName('{id}/{part}', { deviceId: 'd', moduleId: 'm', kind: 'k', date: new Date('nope'), id, part: 'p' }), /MESSAGE_INVALID|not a valid date/);
  });
  it('lists every template problem', () => {
    assert.deepEqual(templateProblems(UPLOADER_DEFAULTS.blobNameTemplate, 'artifact'), []);
    assert.deepEqual(templateProblems(UPLOADER_DEFAULTS.resultsBlobNameTemplate, 'results'), []);
    const p = templateProblems('/{foo}/../{kind}', 'artifact');
    assert.ok(p.some((x) => x.includes('unknown placeholder {foo}')));
    assert.ok(p.some((x) => x.includes('{id}')));
    assert.ok(p.some((x) => x.includes('{part}')));
    assert.ok(p.some((x) => x.includes('relative')));
    assert.ok(p.some((x) => x.includes('..')));
    assert.ok(templateProblems('{deviceId}/x.jsonl', 'results').some((x) => x.includes('{batchId}')));
  });
});
