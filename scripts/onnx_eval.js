#!/usr/bin/env node
// Evaluates an ONNX model written by `mpq export --format onnx` on the
// Fashion-MNIST test set with ONNX Runtime, using only the model's own
// metadata ("mpq.preprocess") to turn raw pixels into its input:
//   x = (pixel / 255 - mean[c]) / std[c], images padded by `pad` pixels of
//   `pad_value` on each side.
//
//   node scripts/onnx_eval.js MODEL.onnx [--data DIR] [--limit N] [--logits OUT.f32]
//
// Prints "test accuracy: X%" and JSON on the last line; --logits writes the
// raw float32 logits [N, classes] for comparisons. Needs onnxruntime-node
// (npm install --ignore-scripts onnxruntime-node; NODE_PATH may point at it).
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function readIdx(file) {
  let b = fs.readFileSync(file);
  if (file.endsWith('.gz')) b = zlib.gunzipSync(b);
  const dims = b[3];
  const shape = [];
  for (let d = 0; d < dims; ++d) shape.push(b.readUInt32BE(4 + 4 * d));
  return { shape, data: b.subarray(4 + 4 * dims) };
}

function find(dir, stem) {
  for (const f of [stem, stem + '.gz']) if (fs.existsSync(path.join(dir, f))) return path.join(dir, f);
  throw new Error(`no ${stem}[.gz] in ${dir}`);
}

async function main() {
  const model = process.argv[2];
  if (!model || model.startsWith('--')) throw new Error('usage: onnx_eval.js MODEL.onnx [--data DIR] [--limit N]');
  const dir = arg('--data', '/usr/share/datasets/fashion-mnist');
  const images = readIdx(find(dir, 't10k-images-idx3-ubyte'));
  const labels = readIdx(find(dir, 't10k-labels-idx1-ubyte'));
  const session = await ort.InferenceSession.create(model);
  // The metadata: ONNX Runtime for Node does not expose metadata_props, so
  // read them from the file (protobuf field 14 of ModelProto: key 1, value 2).
  const meta = readMetadata(fs.readFileSync(model));
  const pre = JSON.parse(meta['mpq.preprocess']);
  const [, C, H, W] = pre.input_shape;
  const [h, w] = [images.shape[1], images.shape[2]];
  if (h + 2 * pre.pad !== H || w + 2 * pre.pad !== W || C !== 1)
    throw new Error(`the model wants ${C}x${H}x${W} from ${h}x${w} images padded by ${pre.pad}`);
  let n = images.shape[0];
  if (arg('--limit')) n = Math.min(n, Number(arg('--limit')));
  const batch = 100;
  let correct = 0;
  const classes = pre.classes;
  const all = new Float32Array(n * classes);
  for (let b = 0; b < n; b += batch) {
    const m = Math.min(batch, n - b);
    const x = new Float32Array(m * H * W);
    for (let i = 0; i < m; ++i)
      for (let y = 0; y < H; ++y)
        for (let xx = 0; xx < W; ++xx) {
          const iy = y - pre.pad, ix = xx - pre.pad;
          const p = iy >= 0 && iy < h && ix >= 0 && ix < w ? images.data[((b + i) * h + iy) * w + ix] : pre.pad_value;
          x[(i * H + y) * W + xx] = (p / 255 - pre.mean[0]) / pre.std[0];
        }
    const out = await session.run({ input: new ort.Tensor('float32', x, [m, 1, H, W]) });
    const logits = out.logits.data;
    all.set(logits, b * classes);
    for (let i = 0; i < m; ++i) {
      let best = 0;
      for (let k = 1; k < classes; ++k) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
      correct += best === labels.data[b + i];
    }
  }
  if (arg('--logits')) fs.writeFileSync(arg('--logits'), Buffer.from(all.buffer));
  const accuracy = correct / n;
  console.log(`test accuracy: ${(100 * accuracy).toFixed(2)}%`);
  console.log(JSON.stringify({ images: n, accuracy }));
}

// The metadata_props entries of an ONNX ModelProto.
function readMetadata(buf) {
  const out = {};
  let at = 0;
  const varint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      const byte = buf[at++];
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
      shift += 7n;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    if (wire === 0) { varint(); continue; }
    if (wire === 5) { at += 4; continue; }
    if (wire === 1) { at += 8; continue; }
    const len = Number(varint());
    if (field === 14) {
      const entry = buf.subarray(at, at + len);
      let e = 0, k = '', v = '';
      while (e < entry.length) {
        const ek = entry[e++];
        let l = 0, s = 0;
        for (;;) { const byte = entry[e++]; l |= (byte & 0x7f) << s; if (!(byte & 0x80)) break; s += 7; }
        const text = entry.subarray(e, e + l).toString('utf8');
        e += l;
        if (ek >> 3 === 1) k = text; else v = text;
      }
      out[k] = v;
    }
    at += len;
  }
  return out;
}

main().catch((e) => { console.error(`error: ${e.message}`); process.exit(2); });
