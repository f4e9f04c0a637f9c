import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import {
  AsyncByteQueue,
  Bool,
  Field,
  Float64,
  Int64,
  Null,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
  makeData,
  type Data,
  type DataType,
} from 'apache-arrow';
import { fsyncDir, TEMP_FILE_PREFIX } from '@edgeml/shared';
import type { ColumnType } from '../config.js';
import { isInt64Text, jsonToText, parseBoolText, parseFloatText, parseTimestampText } from './values.js';

/**
 * Arrow side of the table stage: typed column builders that fill plain typed arrays (no per-value
 * Arrow builder calls), record batches over one shared Schema, and an IPC *file* writer that
 * streams to a temp file and renames it into place.
 */

export function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'null':
      return new Null();
    case 'bool':
      return new Bool();
    case 'int64':
      return new Int64();
    case 'float64':
      return new Float64();
    case 'timestamp':
      return new TimestampMillisecond('UTC');
    case 'utf8':
      return new Utf8();
  }
}

export function arrowSchema(columns: readonly { name: string; type: ColumnType }[]): Schema {
  return new Schema(columns.map((c) => new Field(c.name, arrowType(c.type), true)));
}

const TWO_32 = 2 ** 32;

/** A value a cell can hold before typing: CSV text, or a JSON value (undefined = missing key). */
export type CellValue = string | number | boolean | null | undefined | object;

/**
 * Collects one column of one record batch. `append` parses the value into the column type;
 * a value that does not parse (only possible with a twin override) becomes null and is counted.
 */
export class ColumnBuilder {
  readonly type: ColumnType;
  length = 0;
  nullCount = 0;
  invalidCount = 0;
  private validity: Uint8Array;
  private values: Float64Array | BigInt64Array | Uint8Array | undefined;
  private words: Int32Array | undefined;
  private offsets: Int32Array | undefined;
  private text: Buffer | undefined;
  private textBytes = 0;
  private readonly capacity: number;
  private readonly nullValues: ReadonlySet<string>;

  constructor(type: ColumnType, capacity: number, nullValues: ReadonlySet<string>) {
    this.type = type;
    this.capacity = capacity;
    this.nullValues = nullValues;
    this.validity = new Uint8Array(Math.ceil(capacity / 8));
    this.reset();
  }

  /** Bytes of text held (utf8 columns), so batches can be cut by size as well as rows. */
  get byteLength(): number {
    return this.textBytes;
  }

  private reset(): void {
    this.length = 0;
    this.nullCount = 0;
    this.validity = new Uint8Array(Math.ceil(this.capacity / 8));
    this.values = undefined;
    this.words = undefined;
    this.offsets = undefined;
    this.text = undefined;
    this.textBytes = 0;
    switch (this.type) {
      case 'int64':
      case 'timestamp': {
        const v = new BigInt64Array(this.capacity);
        this.values = v;
        this.words = new Int32Array(v.buffer);
        break;
      }
      case 'float64':
        this.values = new Float64Array(this.capacity);
        break;
      case 'bool':
        this.values = new Uint8Array(Math.ceil(this.capacity / 8));
        break;
      case 'utf8':
        this.offsets = new Int32Array(this.capacity + 1);
        // Small to start (it doubles as needed): a 4000-column table must not cost 64 KiB a column up front.
        this.text = Buffer.allocUnsafe(Math.min(64 * 1024, Math.max(256, this.capacity * 8)));
        break;
      case 'null':
        break;
    }
  }

  private setInt(i: number, n: number): void {
    // Safe integers go in as two 32-bit words (little-endian), avoiding a BigInt per cell.
    const hi = Math.floor(n / TWO_32);
    this.words![2 * i] = (n - hi * TWO_32) | 0;
    this.words![2 * i + 1] = hi | 0;
  }

  append(value: CellValue): void {
    const i = this.length++;
    if (value === null || value === undefined || (typeof value === 'string' && this.nullValues.has(value)) || this.type === 'null') {
      if (this.type === 'utf8') this.offsets![i + 1] = this.textBytes;
      if (value !== null && value !== undefined && this.type === 'null' && !(typeof value === 'string' && this.nullValues.has(value))) this.invalidCount++;
      this.nullCount++;
      return;
    }
    let ok = true;
    switch (this.type) {
      case 'int64': {
        if (typeof value === 'number' && Number.isSafeInteger(value)) this.setInt(i, value);
        else if (typeof value === 'bigint' && BigInt.asIntN(64, value) === value) (this.values as BigInt64Array)[i] = value;
        else if (typeof value === 'string' && isInt64Text(value)) {
          const n = Number(value);
          if (Number.isSafeInteger(n)) this.setInt(i, n);
          else (this.values as BigInt64Array)[i] = BigInt(value);
        } else ok = false;
        break;
      }
      case 'float64': {
        const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? parseFloatText(value) : undefined;
        if (n === undefined) ok = false;
        else (this.values as Float64Array)[i] = n;
        break;
      }
      case 'bool': {
        const b = typeof value === 'boolean' ? value : typeof value === 'string' ? parseBoolText(value) : undefined;
        if (b === undefined) ok = false;
        else if (b) (this.values as Uint8Array)[i >> 3]! |= 1 << (i & 7);
        break;
      }
      case 'timestamp': {
        const t = typeof value === 'string' ? parseTimestampText(value) : undefined;
        if (t === undefined) ok = false;
        else this.setInt(i, t);
        break;
      }
      case 'utf8': {
        const s = typeof value === 'string' ? value : jsonToText(value);
        const need = this.textBytes + s.length * 3;
        if (need > this.text!.length) {
          const grown = Buffer.allocUnsafe(Math.max(need, this.text!.length * 2));
          this.text!.copy(grown, 0, 0, this.textBytes);
          this.text = grown;
        }
        this.textBytes += this.text!.write(s, this.textBytes, 'utf8');
        this.offsets![i + 1] = this.textBytes;
        break;
      }
    }
    if (ok) this.validity[i >> 3]! |= 1 << (i & 7);
    else {
      this.invalidCount++;
      this.nullCount++;
    }
  }

  /** The collected values as Arrow Data; the builder starts a new batch. */
  flush(): Data {
    const length = this.length;
    const nullCount = this.nullCount;
    const type = arrowType(this.type);
    const nullBitmap = nullCount === 0 ? undefined : this.validity.subarray(0, Math.ceil(length / 8));
    let data: Data;
    switch (this.type) {
      case 'null':
        data = makeData({ type: type as Null, length, nullCount: length });
        break;
      case 'utf8':
        data = makeData({
          type: type as Utf8,
          length,
          nullCount,
          ...(nullBitmap === undefined ? {} : { nullBitmap }),
          valueOffsets: this.offsets!.subarray(0, length + 1),
          data: new Uint8Array(this.text!.buffer, this.text!.byteOffset, this.textBytes),
        });
        break;
      case 'bool':
        data = makeData({ type: type as Bool, length, nullCount, ...(nullBitmap === undefined ? {} : { nullBitmap }), data: (this.values as Uint8Array).subarray(0, Math.ceil(length / 8)) });
        break;
      case 'float64':
        data = makeData({ type: type as Float64, length, nullCount, ...(nullBitmap === undefined ? {} : { nullBitmap }), data: (this.values as Float64Array).subarray(0, length) });
        break;
      case 'int64':
        data = makeData({ type: type as Int64, length, nullCount, ...(nullBitmap === undefined ? {} : { nullBitmap }), data: (this.values as BigInt64Array).subarray(0, length) });
        break;
      case 'timestamp':
        data = makeData({ type: type as TimestampMillisecond, length, nullCount, ...(nullBitmap === undefined ? {} : { nullBitmap }), data: (this.values as BigInt64Array).subarray(0, length) });
        break;
    }
    this.reset();
    return data;
  }
}

/** A record batch from column Data sharing one `schema` (the writer requires the same schema every time). */
export function makeRecordBatch(schema: Schema, children: Data[], length: number): RecordBatch {
  const struct = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children });
  return new RecordBatch(schema, struct);
}

/** Collects the writer's output chunks synchronously so we can await each write to disk (backpressure). */
class ChunkCollector extends AsyncByteQueue {
  readonly chunks: Uint8Array[] = [];
  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.chunks.push(value);
  }
}

/**
 * Streams an Arrow IPC file to `<target>` atomically: batches go to a temp file in the same
 * directory as they are made; `commit()` fsyncs, renames and fsyncs the directory; `abort()`
 * removes the temp file. Memory held: one batch.
 */
export class ArrowFileSink {
  private readonly writer = new RecordBatchFileWriter();
  private readonly collector = new ChunkCollector();
  private handle: FileHandle | undefined;
  private readonly tempPath: string;
  bytesWritten = 0;

  private constructor(private readonly target: string) {
    this.tempPath = path.join(path.dirname(target), `${TEMP_FILE_PREFIX}${path.basename(target)}-${randomBytes(6).toString('hex')}`);
  }

  static async open(target: string, schema: Schema): Promise<ArrowFileSink> {
    const sink = new ArrowFileSink(target);
    await mkdir(path.dirname(target), { recursive: true });
    sink.handle = await open(sink.tempPath, 'w');
    sink.writer.reset(sink.collector, schema);
    await sink.drain();
    return sink;
  }

  private async drain(): Promise<void> {
    const chunks = this.collector.chunks.splice(0);
    for (const c of chunks) {
      await this.handle!.write(c);
      this.bytesWritten += c.byteLength;
    }
  }

  async write(batch: RecordBatch): Promise<void> {
    this.writer.write(batch);
    await this.drain();
  }

  async commit(): Promise<{ path: string; sizeBytes: number }> {
    // close() = reset() (writes the footer into the collector) + closing the collector.
    this.writer.close();
    await this.drain();
    const handle = this.handle!;
    this.handle = undefined;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(this.tempPath, this.target);
    await fsyncDir(path.dirname(this.target));
    return { path: this.target, sizeBytes: this.bytesWritten };
  }

  async abort(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    // Already on a failure path: the original error is what gets reported, not a close error.
    await handle?.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}
