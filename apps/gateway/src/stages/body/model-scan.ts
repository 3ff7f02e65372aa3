/**
 * Finds the top-level `"model"` member of a JSON object body as its bytes arrive, without parsing
 * the body: the gateway only needs that one string to route an OpenAI request, and a full
 * `JSON.parse` of a client's megabyte on the event loop costs every other client (and the health
 * probes) its time. The scan is one pass over the bytes seen so far, holds no tree, and stops at the
 * first top-level `model`.
 *
 * Rules (the replica still parses and validates the whole body):
 * - the body must be a JSON object; the first top-level `"model"` key decides (keys are compared
 *   after unescaping, so `"mod\u0065l"` counts). A later duplicate is not looked at: the replica's
 *   parser takes the last one, and a replica refuses a model that is not its own, so a duplicate
 *   can only earn the client a 404, never reach another model's replicas;
 * - its value must be a string (decoded as JSON decodes it);
 * - containers may nest at most `maxDepth` levels before `model` is found;
 * - anything that is not JSON up to that point is a syntax error.
 */
export type ModelScan =
  | { readonly state: 'pending' }
  | { readonly state: 'found'; readonly model: string }
  /** The top-level object ended without a `model` key. */
  | { readonly state: 'missing' }
  /** `model` is there but its value is not a string. */
  | { readonly state: 'not-string' }
  | { readonly state: 'invalid'; readonly reason: string };

/** Longest model value (raw bytes) decoded; a longer one cannot be a configured model and is cut. */
const MAX_CAPTURE_BYTES = 1024;

const enum S {
  Root,
  Value,
  FirstKey,
  Key,
  Colon,
  FirstItem,
  After,
  String,
  Escape,
  Unicode,
  Number,
  Literal,
  End,
  Done,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const PENDING: ModelScan = { state: 'pending' };

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

/** Bytes that may continue a JSON number (the replica's parser checks the exact grammar). */
function isNumberByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || byte === 0x2b || byte === 0x2d || byte === 0x2e || byte === 0x45 || byte === 0x65;
}

/** See {@link ModelScan}; feed it every chunk with {@link ModelScanner.write}, then call {@link ModelScanner.end}. */
export class ModelScanner {
  #state = S.Root;
  /** Open containers: 1 for an object, 0 for an array. */
  readonly #stack: number[] = [];
  /** What the current string is: a top-level key, the model value, or something to skip. */
  #stringRole: 'key' | 'model' | 'skip' = 'skip';
  /** Raw bytes of a top-level key or the model value, unescaped with JSON.parse when the string ends. */
  #capture: number[] = [];
  #captureCut = false;
  #hexLeft = 0;
  #literal = '';
  /** The value that follows is the top-level `model`'s. */
  #modelNext = false;
  /** The current string is an object key (a `:` follows), not a value. */
  #stringIsKey = false;
  #result: ModelScan = PENDING;

  constructor(private readonly maxDepth: number) {}

  /** The verdict so far: `pending` until the model is found or the body is known to be wrong. */
  get result(): ModelScan {
    return this.#result;
  }

  /** Scans `chunk`; once the verdict is in, further chunks are ignored. */
  write(chunk: Uint8Array): ModelScan {
    let i = 0;
    const length = chunk.length;
    while (i < length && this.#result === PENDING) {
      const byte = chunk[i] as number;
      switch (this.#state) {
        case S.String: {
          if (this.#stringRole === 'skip') {
            // Jump to the next quote or backslash: long texts cost one native search, not a byte loop.
            const quote = chunk.indexOf(QUOTE, i);
            const backslash = chunk.indexOf(BACKSLASH, i);
            const next = quote === -1 ? backslash : backslash === -1 ? quote : Math.min(quote, backslash);
            if (next === -1) {
              i = length;
              continue;
            }
            i = next;
          }
          const at = chunk[i] as number;
          if (at === QUOTE) this.#endString();
          else if (at === BACKSLASH) {
            this.#keep(at);
            this.#state = S.Escape;
          } else if (at < 0x20) this.#fail('a control character in a JSON string');
          else this.#keep(at);
          i++;
          continue;
        }
        case S.Escape:
          this.#keep(byte);
          if (byte === 0x75) {
            this.#hexLeft = 4;
            this.#state = S.Unicode;
          } else if ('"\\/bfnrt'.includes(String.fromCharCode(byte))) this.#state = S.String;
          else this.#fail('an invalid escape in a JSON string');
          i++;
          continue;
        case S.Unicode:
          if (!isHex(byte)) this.#fail('an invalid \\u escape in a JSON string');
          this.#keep(byte);
          if (--this.#hexLeft === 0) this.#state = S.String;
          i++;
          continue;
        case S.Number:
          if (isNumberByte(byte)) {
            i++;
            continue;
          }
          this.#state = S.After;
          continue; // the same byte again, as what follows the number
        case S.Literal:
          if (byte >= 0x61 && byte <= 0x7a && this.#literal.length < 5) {
            this.#literal += String.fromCharCode(byte);
            i++;
            continue;
          }
          if (this.#literal !== 'true' && this.#literal !== 'false' && this.#literal !== 'null') {
            this.#fail('not valid JSON');
            continue;
          }
          this.#state = S.After;
          continue;
        default:
          break;
      }
      i++;
      if (isSpace(byte)) continue;
      switch (this.#state) {
        case S.Root:
          if (byte !== 0x7b) this.#fail('the body must be a JSON object');
          else this.#push(1, S.FirstKey);
          break;
        case S.FirstItem:
          if (byte === 0x5d) this.#pop();
          else this.#value(byte);
          break;
        case S.Value:
          this.#value(byte);
          break;
        case S.FirstKey:
          if (byte === 0x7d) this.#pop();
          else this.#key(byte);
          break;
        case S.Key:
          this.#key(byte);
          break;
        case S.Colon:
          if (byte === 0x3a) this.#state = S.Value;
          else this.#fail("expected ':' after an object key");
          break;
        case S.After: {
          const inObject = this.#stack[this.#stack.length - 1] === 1;
          if (byte === 0x2c) this.#state = inObject ? S.Key : S.Value;
          else if (byte === (inObject ? 0x7d : 0x5d)) this.#pop();
          else this.#fail(`expected ',' or '${inObject ? '}' : ']'}'`);
          break;
        }
        case S.End:
          this.#fail('data after the JSON object');
          break;
        default:
          break;
      }
    }
    return this.#result;
  }

  /** The body is complete: a scan still pending never found a top-level `model`. */
  end(): ModelScan {
    if (this.#result !== PENDING) return this.#result;
    this.#result = this.#state === S.End ? { state: 'missing' } : { state: 'invalid', reason: 'the JSON body ends early' };
    return this.#result;
  }

  #fail(reason: string): void {
    this.#result = { state: 'invalid', reason };
    this.#state = S.Done;
  }

  #keep(byte: number): void {
    if (this.#stringRole === 'skip') return;
    if (this.#capture.length < MAX_CAPTURE_BYTES) this.#capture.push(byte);
    else this.#captureCut = true;
  }

  #push(kind: number, next: S): void {
    if (this.#stack.length >= this.maxDepth) {
      this.#fail(`JSON nested deeper than ${this.maxDepth} levels`);
      return;
    }
    this.#stack.push(kind);
    this.#state = next;
  }

  #pop(): void {
    this.#stack.pop();
    this.#state = this.#stack.length === 0 ? S.End : S.After;
  }

  #key(byte: number): void {
    if (byte !== QUOTE) {
      this.#fail('expected a string as an object key');
      return;
    }
    this.#startString(this.#stack.length === 1 ? 'key' : 'skip', true);
  }

  #value(byte: number): void {
    const isModel = this.#modelNext;
    this.#modelNext = false;
    if (isModel && byte !== QUOTE) {
      this.#result = { state: 'not-string' };
      this.#state = S.Done;
      return;
    }
    if (byte === QUOTE) this.#startString(isModel ? 'model' : 'skip', false);
    else if (byte === 0x7b) this.#push(1, S.FirstKey);
    else if (byte === 0x5b) this.#push(0, S.FirstItem);
    else if (byte === 0x2d || (byte >= 0x30 && byte <= 0x39)) this.#state = S.Number;
    else if (byte === 0x74 || byte === 0x66 || byte === 0x6e) {
      this.#literal = String.fromCharCode(byte);
      this.#state = S.Literal;
    } else this.#fail('not valid JSON');
  }

  #startString(role: 'key' | 'model' | 'skip', isKey: boolean): void {
    this.#stringRole = role;
    this.#stringIsKey = isKey;
    this.#capture = [];
    this.#captureCut = false;
    this.#state = S.String;
  }

  #endString(): void {
    const role = this.#stringRole;
    this.#stringRole = 'skip';
    if (role === 'skip') {
      this.#state = this.#stringIsKey ? S.Colon : S.After;
      return;
    }
    const raw = Buffer.from(this.#capture).toString('utf8');
    let text: string | undefined;
    try {
      // The captured bytes are a complete, checked JSON string body: JSON.parse decodes it exactly as the replica will.
      text = this.#captureCut ? undefined : (JSON.parse(`"${raw}"`) as string);
    } catch {
      this.#fail('not valid JSON');
      return;
    }
    if (role === 'model') {
      this.#result = { state: 'found', model: text ?? raw };
      this.#state = S.Done;
      return;
    }
    this.#modelNext = text === 'model';
    this.#state = S.Colon;
  }
}
