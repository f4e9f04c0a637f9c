import assert from 'node:assert/strict';
import { compileGlobs, createPathFilter, extensionOf, kindOf, WATCHER_CONFIG_DEFAULTS } from '@edgeml/watcher';

describe('watcher/patterns', () => {
  const defaults = createPathFilter(WATCHER_CONFIG_DEFAULTS);

  it('ignores temp and partial names by default, at any depth', () => {
    for (const name of ['a.tmp', 'b.TEMP'.toLowerCase(), 'c.partial', 'd.part', 'e.jpg.crdownload', 'f.filepart', '.g.swp', '~$report.xlsx', '.photo.jpg.Xa81Qz', '.tmp-result.json-a1b2c3', '.DS_Store', 'cam1/sub/.h.csv.123456']) {
      assert.deepEqual(defaults(name), { accepted: false, reason: 'tempName' }, name);
    }
    for (const name of ['a.jpg', 'cam1/b.csv', 'résumé ñ.png', 'with space/x y.tsv', 'no-extension', 'partial-results.csv', 'tmp/a.jpg']) {
      assert.deepEqual(defaults(name), { accepted: true }, name);
    }
  });

  it('applies include and exclude on the path relative to the inbox', () => {
    const f = createPathFilter({ ...WATCHER_CONFIG_DEFAULTS, include: ['cam*/**/*.jpg', '*.csv'], exclude: ['cam2/**'] });
    assert.deepEqual(f('cam1/x/a.jpg'), { accepted: true });
    assert.deepEqual(f('cam2/a.jpg'), { accepted: false, reason: 'excluded' });
    assert.deepEqual(f('a.csv'), { accepted: true });
    assert.deepEqual(f('sub/a.csv'), { accepted: false, reason: 'notIncluded' });
    assert.deepEqual(f('cam1/a.png'), { accepted: false, reason: 'notIncluded' });
  });

  it('marker files are never candidates in marker mode, ordinary files otherwise', () => {
    const marker = createPathFilter({ ...WATCHER_CONFIG_DEFAULTS, markerMode: true, markerSuffix: '.done' });
    assert.deepEqual(marker('x/big.bin.done'), { accepted: false, reason: 'marker' });
    assert.deepEqual(marker('x/big.bin'), { accepted: true });
    assert.deepEqual(defaults('x/big.bin.done'), { accepted: true });
  });

  it('temp names win over include', () => {
    const f = createPathFilter({ ...WATCHER_CONFIG_DEFAULTS, include: ['**/*.tmp'] });
    assert.deepEqual(f('a.tmp'), { accepted: false, reason: 'tempName' });
  });

  it('compileGlobs names a bad glob', () => {
    assert.ok('matcher' in compileGlobs(['**/*.jpg']));
    const bad = compileGlobs(['']);
    assert.ok('problems' in bad && bad.problems[0]!.includes('invalid glob'));
  });

  it('derives the kind from the extension', () => {
    for (const n of ['a.jpg', 'a.JPEG', 'a.png', 'a.webp', 'a.gif', 'a.tif', 'a.tiff', 'a.bmp', 'a.avif', 'a.heic', 'a.svg']) assert.equal(kindOf(n), 'image', n);
    for (const n of ['a.csv', 'a.tsv', 'a.jsonl', 'a.NDJSON']) assert.equal(kindOf(n), 'table', n);
    for (const n of ['a.pdf', 'a', '.bashrc', 'a.json', 'a.jpg.gz']) assert.equal(kindOf(n), 'other', n);
    assert.equal(extensionOf('A.TIFF'), '.tiff');
    assert.equal(extensionOf('noext'), '');
    assert.equal(extensionOf(`a.${'x'.repeat(100)}`), '', 'an over-long "extension" is none');
  });
});
