import {
  elementCount,
  type Batch,
  type Datatype,
  type ModelDescription,
  type Tensor,
  type TensorSpec,
  type TensorValues,
  type TextMeasure,
} from '@modeldock/model-runtime';
import { HttpError } from '@modeldock/service-kit';

/** Work limits on one request, checked before anything is queued. */
export interface RequestLimits {
  /** Most rows (texts) in one request. */
  maxRows: number;
  /** Most characters in one text, after NFKC normalisation (what the encoder reads). */
  maxTextLength: number;
  /** Most encoder pieces in one text. */
  maxTextPieces: number;
  /**
   * Most padded encoder positions the request's engine calls may take, as the batcher runs them
   * (the text measure's `plan`): what its engine time grows with (packages/model-runtime/BUDGET.md).
   */
  maxRequestPositions: number;
  /** Most elements in one request's tensors (numeric models). */
  maxTensorElements: number;
}

/** What the server knows of a text model's work: its kind's measure (tokenizer pieces, planned positions). */
export type TextBudget = TextMeasure;

/** A tensor as a request carries it, not yet validated: any JSON. */
export interface RawTensor {
  name: unknown;
  datatype: unknown;
  shape: unknown;
  data: unknown;
  /** Where it came from in the request, for error messages (`inputs[0]`). */
  field: string;
  /** Where its data came from, when not `<field>.data` (`rawtext_list`). */
  dataField?: string;
}

const invalid = (message: string) => HttpError.invalidInput(message);

/** What a client does about a request over a size limit, unless its protocol has better advice. */
export const SIZE_HINT = 'send fewer or shorter texts per request';

/** A short, safe description of a client value for an error message (never more than a short prefix of it). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length <= 40 && /^[\w .:/-]*$/.test(value) ? `'${value}'` : 'a string';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** `[1, 500]`: where flat element `index` sits in a tensor of `shape` (row-major). */
function positionOf(index: number, shape: readonly number[]): string {
  const position: number[] = [];
  let rest = index;
  for (let dim = shape.length - 1; dim >= 0; dim -= 1) {
    const size = Math.max(1, shape[dim] as number);
    position.unshift(rest % size);
    rest = Math.floor(rest / size);
  }
  return `[${position.join(', ')}]`;
}

/**
 * A tensor's values in row-major order. OIP allows `data` flat or nested by the shape; nested data
 * must follow the shape at every level (rows of 500 and 524 values are not a [2, 512] tensor even
 * though they hold 1,024), and the first place where it does not is named. Walks without
 * recursion, and never past `count` elements (the shape's element count, already bounded).
 */
function tensorValues(data: unknown, shape: readonly number[], count: number, name: string, field: string): unknown[] {
  if (!Array.isArray(data)) throw invalid(`'${field}.data' must be an array`);
  const shown = `[${shape.join(', ')}]`;
  if (!data.some((item) => Array.isArray(item))) {
    if (data.length !== count) throw invalid(`input '${name}' has shape ${shown} (${count} elements) but ${data.length} elements`);
    return data;
  }
  const out: unknown[] = [];
  const rank = shape.length;
  // One frame per open level: the array, where we are in it, and its position in the tensor.
  const stack: { array: unknown[]; next: number; at: number[] }[] = [];
  const open = (array: unknown[], at: number[]) => {
    const wanted = shape[at.length] as number;
    if (array.length !== wanted) {
      const where = at.length === 0 ? `'${field}.data'` : `input '${name}': element [${at.join(', ')}]`;
      throw invalid(`${where} has ${array.length} values where shape ${shown} needs ${wanted}`);
    }
    stack.push({ array, next: 0, at });
  };
  if (rank === 0) throw invalid(`input '${name}' has shape [] but nested data`);
  open(data, []);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    if (frame.next >= frame.array.length) {
      stack.pop();
      continue;
    }
    const index = frame.next;
    frame.next += 1;
    const item = frame.array[index];
    const inner = frame.at.length + 1 < rank;
    if (inner !== Array.isArray(item)) {
      const at = [...frame.at, index].join(', ');
      throw invalid(`input '${name}': element [${at}] must be ${inner ? `an array of ${shape[frame.at.length + 1] as number} values` : 'a value, not an array'} for shape ${shown}`);
    }
    if (inner) open(item as unknown[], [...frame.at, index]);
    else out.push(item);
  }
  return out;
}

function shapeOf(value: unknown, spec: TensorSpec, field: string, textInput: boolean): { shape: number[]; given: number[] } {
  if (!Array.isArray(value) || value.length === 0 || value.length > 8 || !value.every((dim) => Number.isInteger(dim) && (dim as number) >= 0)) {
    throw invalid(`'${field}.shape' must be an array of non-negative integers`);
  }
  const given = value as number[];
  // A text input [n] also comes as [n, 1] (one text per row, as TF Serving and Triton write it).
  const accepted = textInput && given.length === 2 && given[1] === 1 ? [given[0] as number] : given;
  const matches =
    accepted.length === spec.shape.length && spec.shape.every((dim, i) => i === 0 || dim === -1 || dim === accepted[i]);
  if (!matches) {
    throw invalid(`input '${spec.name}' must have shape [${spec.shape.map((dim) => (dim === -1 ? 'n' : dim)).join(', ')}], got [${given.join(', ')}]`);
  }
  return { shape: accepted, given };
}

/** FP32's largest finite magnitude; JSON numbers beyond it (and `1e999`, which parses as Infinity) have no FP32 value. */
const FP32_MAX = 3.4028234663852886e38;

function typedValues(datatype: Datatype, values: unknown[], name: string, shape: readonly number[]): TensorValues {
  const bad = (index: number, expected: string) =>
    invalid(`input '${name}': element ${positionOf(index, shape)} must be ${expected}, got ${describeValue(values[index])}`);
  switch (datatype) {
    case 'FP32': {
      const out = new Float32Array(values.length);
      values.forEach((value, i) => {
        if (typeof value !== 'number') throw bad(i, 'a number');
        // Math.fround rounds to the nearest FP32: anything past the largest finite one becomes ±Infinity.
        const rounded = Math.fround(value);
        if (!Number.isFinite(rounded)) {
          throw invalid(`input '${name}': element ${positionOf(i, shape)} is outside the FP32 range (±${FP32_MAX.toPrecision(8)})`);
        }
        out[i] = rounded;
      });
      return out;
    }
    case 'INT32': {
      const out = new Int32Array(values.length);
      values.forEach((value, i) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
          throw bad(i, 'a 32-bit integer');
        }
        out[i] = value;
      });
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(values.length);
      values.forEach((value, i) => {
        if (typeof value !== 'boolean') throw bad(i, 'a boolean');
        out[i] = value ? 1 : 0;
      });
      return out;
    }
    case 'BYTES':
      values.forEach((value, i) => {
        if (typeof value !== 'string') throw bad(i, 'a string');
      });
      return values as string[];
    default: {
      const unknown: never = datatype;
      throw new Error(`unhandled datatype ${String(unknown)}`);
    }
  }
}

/**
 * Checks texts bound for the sentence encoder against the per-text limits and counts their
 * pieces. The raw length is bounded first (Unicode normalisation is quadratic in a run of
 * combining marks), then the length after NFKC, which is what the encoder reads (one character can
 * become eighteen), then each text's pieces. The request's engine calls, which its pieces plan,
 * are bounded by the data plane.
 * @returns each text's pieces (their sum is OpenAI's `usage`).
 */
export function checkTexts(texts: readonly string[], field: string, limits: RequestLimits, budget: TextBudget): number[] {
  return texts.map((text, i) => {
    const where = `'${field}[${i}]'`;
    if (text.length > limits.maxTextLength) throw invalid(`${where} has ${text.length} characters; the limit is ${limits.maxTextLength}`);
    if (text.trim() === '') throw invalid(`${where} is blank`);
    const normalized = budget.normalize(text);
    if (normalized.length > limits.maxTextLength) {
      throw invalid(`${where} has ${normalized.length} characters after Unicode normalisation; the limit is ${limits.maxTextLength}`);
    }
    const count = budget.countPieces(text);
    if (count > limits.maxTextPieces) throw invalid(`${where} has ${count} encoder pieces (tokens); the limit is ${limits.maxTextPieces}`);
    return count;
  });
}

/** Validated request tensors as one batch, with the encoder pieces of each text of a text model. */
export interface DecodedTensors {
  inputs: Batch;
  /** All texts' encoder pieces (OpenAI's `usage`); 0 for a model without text. */
  pieces: number;
  /** Each row's encoder pieces, for a text model measured by a {@link TextBudget}. */
  textPieces?: number[];
}

/**
 * Validates raw request tensors against a model's signature and the work limits: every input
 * exactly once, its datatype, its shape (fixed dimensions must match), its element count and
 * element types, one row count for all, and the text budget for the encoder's input.
 */
export function decodeTensors(
  model: Pick<ModelDescription, 'signature' | 'textInput'>,
  raw: readonly RawTensor[],
  limits: RequestLimits,
  budget: TextBudget | undefined,
  /** What the client should do about a request over a size limit (default: send fewer or shorter texts). */
  hint: string = SIZE_HINT,
): DecodedTensors {
  const specs = model.signature.inputs;
  const expected = specs.map((spec) => `'${spec.name}'`).join(', ');
  if (raw.length !== specs.length) {
    throw invalid(`the model takes ${specs.length} input tensor${specs.length === 1 ? '' : 's'} (${expected}), got ${raw.length}`);
  }
  const tensors: Record<string, Tensor> = {};
  let rows: number | undefined;
  let elements = 0;
  let textPieces: number[] | undefined;
  for (const tensor of raw) {
    if (typeof tensor.name !== 'string') throw invalid(`'${tensor.field}.name' must be a string`);
    const spec = specs.find((candidate) => candidate.name === tensor.name);
    if (spec === undefined) throw invalid(`unknown input ${describeValue(tensor.name)}; inputs are ${expected}`);
    if (tensors[spec.name] !== undefined) throw invalid(`input '${spec.name}' is given twice`);
    if (tensor.datatype !== spec.datatype) {
      throw invalid(`input '${spec.name}' must have datatype ${spec.datatype}, got ${describeValue(tensor.datatype)}`);
    }
    const isText = model.textInput === spec.name;
    const { shape, given } = shapeOf(tensor.shape, spec, tensor.field, isText);
    const rowCount = shape[0] as number;
    if (rowCount === 0) throw invalid(`input '${spec.name}' has no rows`);
    if (rowCount > limits.maxRows) {
      throw invalid(`'${tensor.dataField ?? `${tensor.field}.data`}' has ${rowCount} rows; the limit is ${limits.maxRows}: ${hint}`);
    }
    if (rows !== undefined && rows !== rowCount) throw invalid(`every input must have the same number of rows (${rows} and ${rowCount})`);
    rows = rowCount;
    const count = elementCount(shape);
    elements += count;
    if (elements > limits.maxTensorElements) {
      throw invalid(`the request has more than ${limits.maxTensorElements} tensor elements; the limit is ${limits.maxTensorElements}`);
    }
    const values = tensorValues(tensor.data, given, count, spec.name, tensor.field);
    const data = typedValues(spec.datatype, values, spec.name, given);
    if (isText && budget !== undefined) textPieces = checkTexts(data as string[], tensor.dataField ?? `${tensor.field}.data`, limits, budget);
    tensors[spec.name] = { datatype: spec.datatype, shape, data };
  }
  const inputs = { rows: rows as number, tensors };
  if (textPieces === undefined) return { inputs, pieces: 0 };
  return { inputs, pieces: textPieces.reduce((sum, count) => sum + count, 0), textPieces };
}

/**
 * A list of texts from a protocol's JSON (the seed route's `rawtext_list`, OpenAI's `input`, TF
 * Serving's `instances`) as the one raw text tensor of a text model.
 */
export function textTensor(model: Pick<ModelDescription, 'signature' | 'textInput'>, value: unknown, field: string): RawTensor {
  const name = model.textInput;
  if (name === undefined) throw invalid('this model does not take text; send its input tensors');
  if (!Array.isArray(value)) throw invalid(`'${field}' must be an array of strings`);
  if (value.length === 0) throw invalid(`'${field}' must not be empty`);
  value.forEach((text: unknown, i) => {
    if (typeof text !== 'string') throw invalid(`'${field}[${i}]' must be a string, got ${describeValue(text)}`);
  });
  return { name, datatype: 'BYTES', shape: [value.length], data: value, field, dataField: field };
}
