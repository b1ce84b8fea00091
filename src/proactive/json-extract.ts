// Reading JSON objects out of model output: code fences, prose around the object, <think>
// blocks, single or typographic quotes, unescaped inner quotes, trailing or missing commas,
// comments, unquoted keys, Python literals and "7/10" scores. A small forgiving parser instead of
// regex repairs, so that a string holding "}" or an apostrophe is read correctly.

/** The text without reasoning blocks (<think>…</think>); an unclosed block is dropped to the end. */
export function stripThinking(text: string): string {
  let out = text.replace(/<(think|thinking|reasoning)>[\s\S]*?<\/\1>/gi, '');
  // A template that opens the block inside the prompt leaves only the closing tag in the output.
  const close = /<\/(think|thinking|reasoning)>/gi;
  let last = -1;
  for (let m = close.exec(out); m; m = close.exec(out)) last = m.index + m[0].length;
  if (last >= 0) out = out.slice(last);
  const open = out.search(/<(think|thinking|reasoning)>/i);
  if (open >= 0) out = out.slice(0, open);
  return out.trim();
}

class Fail extends Error {}

const CLOSERS: Record<string, string[]> = { '"': ['"', '”'], "'": ["'", '’'], '“': ['”', '"'], '‘': ['’', "'"], '`': ['`'] };
const WORD_END = /[,}\]\n]/;

class Lenient {
  i: number;
  constructor(
    private readonly s: string,
    start: number,
  ) {
    this.i = start;
  }

  private ws(): void {
    for (;;) {
      while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
      if (this.s.startsWith('//', this.i)) {
        const nl = this.s.indexOf('\n', this.i);
        this.i = nl < 0 ? this.s.length : nl + 1;
      } else if (this.s.startsWith('/*', this.i)) {
        const end = this.s.indexOf('*/', this.i + 2);
        this.i = end < 0 ? this.s.length : end + 2;
      } else return;
    }
  }

  value(depth: number): unknown {
    if (depth > 64) throw new Fail();
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) throw new Fail();
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c in CLOSERS) return this.string();
    if (/[-+\d.]/.test(c)) return this.number();
    return this.word(true);
  }

  private object(depth: number): Record<string, unknown> {
    this.i++; // {
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === undefined) throw new Fail();
      if (c === '}') {
        this.i++;
        return out;
      }
      if (c === ',') {
        this.i++;
        continue;
      }
      const key = c in CLOSERS ? this.string() : this.word(false);
      if (typeof key !== 'string' || key === '') throw new Fail();
      this.ws();
      if (this.s[this.i] !== ':' && this.s[this.i] !== '=') throw new Fail();
      this.i++;
      out[key] = this.value(depth + 1);
    }
  }

  private array(depth: number): unknown[] {
    this.i++; // [
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === undefined) throw new Fail();
      if (c === ']') {
        this.i++;
        return out;
      }
      if (c === ',') {
        this.i++;
        continue;
      }
      out.push(this.value(depth + 1));
    }
  }

  /** A quoted string. A quote character closes it only where JSON could continue after it. */
  private string(): string {
    const closers = CLOSERS[this.s[this.i]];
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '\\') {
        const e = this.s[this.i + 1];
        this.i += 2;
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i, this.i + 4))) {
          out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 4), 16));
          this.i += 4;
        } else out += { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' }[e ?? ''] ?? e ?? '';
        continue;
      }
      if (closers.includes(c) && this.closesHere()) {
        this.i++;
        return out;
      }
      out += c;
      this.i++;
    }
    throw new Fail();
  }

  private closesHere(): boolean {
    let j = this.i + 1;
    while (j < this.s.length && /\s/.test(this.s[j])) j++;
    const next = this.s[j];
    // …or where the next key starts (a missing comma: `"a": "x" "b": 1`).
    return next === undefined || ',}]:'.includes(next) || /^["'“‘][^"'”’\n]{1,40}["'”’]\s*:/.test(this.s.slice(j, j + 48));
  }

  private number(): number {
    const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(this.s.slice(this.i));
    if (!m) return this.word(true) as never;
    this.i += m[0].length;
    // "7/10": the score out of ten
    const outOf = /^\s*\/\s*10\b/.exec(this.s.slice(this.i));
    if (outOf) this.i += outOf[0].length;
    return Number(m[0]);
  }

  /** Unquoted text: a key (up to ":"), a literal, or an unquoted string value (up to , } ] or a line end). */
  private word(isValue: boolean): unknown {
    const start = this.i;
    if (isValue) {
      // Up to , } ] or a line end, or a comment that follows a space.
      while (this.i < this.s.length && !WORD_END.test(this.s[this.i]) && !(/^\s\/[/*]/.test(this.s.slice(this.i, this.i + 3)))) this.i++;
    } else {
      while (this.i < this.s.length && /[\w$\- ]/.test(this.s[this.i]) && this.s[this.i] !== ':') this.i++;
    }
    const word = this.s.slice(start, this.i).trim();
    if (!isValue) return word;
    const literals: Record<string, unknown> = { true: true, false: false, null: null, True: true, False: false, None: null };
    if (word in literals) return literals[word];
    if (word === '') throw new Fail();
    return word;
  }
}

/** Parses a JSON-like value starting at `start`; null when it cannot. */
export function parseLenient(text: string, start = 0): { value: unknown; end: number } | null {
  const parser = new Lenient(text, start);
  try {
    const value = parser.value(0);
    return { value, end: parser.i };
  } catch (err) {
    if (err instanceof Fail) return null;
    throw err;
  }
}

function objectsIn(region: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  for (let i = region.indexOf('{'); i >= 0; i = region.indexOf('{', i)) {
    const parsed = parseLenient(region, i);
    if (parsed && typeof parsed.value === 'object' && parsed.value !== null && !Array.isArray(parsed.value)) {
      found.push(parsed.value as Record<string, unknown>);
      i = parsed.end;
    } else i++;
  }
  return found;
}

/** Every top-level JSON object in the output, in order: those inside code fences if there are any, else all. */
export function extractJsonObjects(text: string): Record<string, unknown>[] {
  const visible = stripThinking(text);
  const fenced: Record<string, unknown>[] = [];
  for (const m of visible.matchAll(/```[\w-]*[^\S\n]*\n?([\s\S]*?)```/g)) fenced.push(...objectsIn(m[1]));
  return fenced.length > 0 ? fenced : objectsIn(visible);
}

/** The value of the first key matching `pattern` (keys compared case-insensitively). */
export function pick(obj: Record<string, unknown>, pattern: RegExp): unknown {
  for (const [key, value] of Object.entries(obj)) if (pattern.test(key.trim())) return value;
  return undefined;
}
