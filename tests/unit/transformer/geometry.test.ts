import assert from 'node:assert/strict';
import { geometryOf, planResize, tensorToSource, orientedSize, fitInside, workingSize } from '@edgeml/transformer';

describe('transformer/geometry', () => {
  it('fill stretches to the output size', () => {
    const p = planResize(300, 100, { width: 64, height: 64, resize: 'fill' });
    assert.deepEqual([p.resizeWidth, p.resizeHeight, p.padLeft, p.padTop], [64, 64, 0, 0]);
    const g = geometryOf(p, 300, 100, 1);
    assert.equal(g.scaleX, 64 / 300);
    assert.equal(g.scaleY, 64 / 100);
  });

  it('contain letterboxes a wide image, centred, and the geometry maps corners back to source pixels', () => {
    const p = planResize(200, 100, { width: 640, height: 640, resize: 'contain' });
    assert.deepEqual([p.resizeWidth, p.resizeHeight, p.padLeft, p.padTop], [640, 320, 0, 160]);
    const g = geometryOf(p, 200, 100, 1);
    assert.deepEqual(tensorToSource(g, 0, 160), { x: 0, y: 0 });
    assert.deepEqual(tensorToSource(g, 640, 480), { x: 200, y: 100 });
    assert.equal(g.padTop, 160);
    assert.equal(g.scaleX, 3.2);
  });

  it('contain letterboxes a tall image on the left and right (odd padding goes right)', () => {
    const p = planResize(101, 300, { width: 640, height: 640, resize: 'contain' });
    assert.equal(p.resizeHeight, 640);
    assert.equal(p.resizeWidth, Math.round(101 * (640 / 300)));
    assert.equal(p.padLeft, Math.floor((640 - p.resizeWidth) / 2));
    assert.equal(p.padTop, 0);
  });

  it('cover centre-crops and records the crop as a negative pad', () => {
    const p = planResize(400, 100, { width: 100, height: 100, resize: 'cover' });
    assert.deepEqual([p.resizeWidth, p.resizeHeight, p.extractLeft, p.extractTop, p.extractWidth, p.extractHeight], [400, 100, 150, 0, 100, 100]);
    const g = geometryOf(p, 400, 100, 1);
    assert.equal(g.padLeft, -150);
    assert.equal(g.cropLeft, 150);
    assert.deepEqual(tensorToSource(g, 0, 0), { x: 150, y: 0 });
  });

  it('padRight scales to the height, width ceil(H·w/h) capped at W (PaddleOCR cls)', () => {
    const narrow = planResize(100, 50, { width: 192, height: 48, resize: 'padRight' });
    assert.deepEqual([narrow.resizeWidth, narrow.resizeHeight, narrow.padLeft, narrow.padTop], [96, 48, 0, 0]);
    const odd = planResize(101, 50, { width: 192, height: 48, resize: 'padRight' });
    assert.equal(odd.resizeWidth, Math.ceil((48 * 101) / 50));
    const wide = planResize(1000, 50, { width: 192, height: 48, resize: 'padRight' });
    assert.equal(wide.resizeWidth, 192, 'wider than the ratio allows: squeezed to W');
  });

  it('refuses sizes that are not positive integers', () => {
    assert.throws(() => planResize(0, 10, { width: 10, height: 10, resize: 'fill' }), RangeError);
    assert.throws(() => planResize(10, 10, { width: 1.5, height: 10, resize: 'fill' }), RangeError);
  });

  it('orientations 5–8 swap width and height; fitInside never enlarges', () => {
    assert.deepEqual(orientedSize(40, 20, 6), { width: 20, height: 40 });
    assert.deepEqual(orientedSize(40, 20, 3), { width: 40, height: 20 });
    assert.deepEqual(fitInside(4000, 2000, 1024, 1024), { width: 1024, height: 512 });
    assert.deepEqual(fitInside(40, 20, 1024, 1024), { width: 40, height: 20 });
  });

  it('workingSize: the source scaled by the largest factor any output needs, never enlarged, never a pixel short', () => {
    // 1280×960 with a 1024×768 artifact, a 640×480 det and a 64×48 cls: the artifact's size.
    assert.deepEqual(workingSize(1280, 960, [{ width: 1024, height: 768 }, { width: 640, height: 480 }, { width: 64, height: 48 }]), { width: 1024, height: 768 });
    // A fill target of another ratio: the larger factor (height) wins; the width follows the source ratio.
    assert.deepEqual(workingSize(1280, 960, [{ width: 640, height: 640 }]), { width: 853, height: 640 });
    // An output that enlarges (the demo's 360×80 text under a 640-wide det): decode at the source size.
    assert.deepEqual(workingSize(360, 80, [{ width: 640, height: 142 }, { width: 192, height: 48 }]), { width: 360, height: 80 });
    // Rounding never leaves the raster below a target.
    const s = workingSize(999, 333, [{ width: 334, height: 111 }]);
    assert.ok(s.width >= 334 && s.height >= 111, JSON.stringify(s));
    assert.deepEqual(workingSize(10, 10, []), { width: 10, height: 10 });
  });
});
