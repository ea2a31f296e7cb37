/**
 * A linear-time matcher for the regular expressions a message fault's `matchText` takes
 * (they may come from any Toxiproxy API client). V8's RegExp backtracks: `(a+)+$` against
 * a run of 'a' takes exponential time, and `.*.*.*x` polynomial time, on the proxy's only
 * thread. This one compiles the pattern to an NFA and runs every thread in lockstep
 * (Thompson's construction, a Pike VM without captures), so a test costs at most
 * (input code points) x (program size) steps, whatever the pattern.
 *
 * The language is the part of JavaScript's `u`-flag syntax that is regular: literals and
 * escapes (`\d \w \s` and their negations, `\t \n \r \f \v \0`, `\xHH`, `\uHHHH`,
 * `\u{H...}`, escaped syntax characters), `.`, classes with ranges and negation, groups
 * (capturing, named, `(?:`), `|`, quantifiers (`* + ? {n} {n,} {n,m}`, lazy or not: a
 * test has the same answer either way) and the anchors `^ $` (no `m` flag). Backreferences,
 * lookaround, `\b`, `\B` and `\p{...}` are refused with {@link UnsupportedPatternError}.
 * The caller checks the syntax with `new RegExp(pattern, 'u')` first; what that accepts
 * and this parses means the same.
 */

/** A pattern this matcher cannot run (see the module header), or one too large. */
export class UnsupportedPatternError extends Error {}

/** Largest compiled program, in instructions (a `{n,m}` repeat is expanded). */
export const MAX_PROGRAM_SIZE = 1024;

type Predicate = (codePoint: number) => boolean;

type Node =
  | { kind: 'char'; test: Predicate }
  | { kind: 'begin' }
  | { kind: 'end' }
  | { kind: 'concat'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; item: Node; min: number; max: number };

const isDigit: Predicate = (c) => c >= 0x30 && c <= 0x39;
const isWord: Predicate = (c) =>
  isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const SPACE = /\s/u;
const isSpace: Predicate = (c) => SPACE.test(String.fromCodePoint(c));
const isLineTerminator: Predicate = (c) => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
const not =
  (test: Predicate): Predicate =>
  (c) =>
    !test(c);

class Parser {
  private at = 0;
  private readonly chars: string[];

  constructor(pattern: string) {
    this.chars = [...pattern];
  }

  parse(): Node {
    const node = this.alternation();
    if (this.at < this.chars.length) {
      throw new UnsupportedPatternError('unbalanced parenthesis');
    }
    return node;
  }

  private peek(): string | undefined {
    return this.chars[this.at];
  }

  private next(): string {
    const char = this.chars[this.at];
    if (char === undefined) {
      throw new UnsupportedPatternError('unexpected end of pattern');
    }
    this.at += 1;
    return char;
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.at += 1;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let char = this.peek(); char !== undefined && char !== '|' && char !== ')'; ) {
      items.push(this.quantified(this.atom()));
      char = this.peek();
    }
    return { kind: 'concat', items };
  }

  private quantified(item: Node): Node {
    const char = this.peek();
    let min: number;
    let max: number;
    if (char === '*') {
      [min, max] = [0, Number.POSITIVE_INFINITY];
    } else if (char === '+') {
      [min, max] = [1, Number.POSITIVE_INFINITY];
    } else if (char === '?') {
      [min, max] = [0, 1];
    } else if (char === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(this.chars.slice(this.at, this.at + 24).join(''));
      if (match === null) {
        return item;
      }
      this.at += [...match[0]].length - 1;
      min = Number(match[1]);
      max =
        match[2] === undefined
          ? min
          : match[3] === ''
            ? Number.POSITIVE_INFINITY
            : Number(match[3]);
    } else {
      return item;
    }
    this.at += 1;
    if (this.peek() === '?') {
      this.at += 1; // lazy: the same answer for a test
    }
    if (item.kind === 'begin' || item.kind === 'end') {
      return item; // a repeated anchor is the anchor (or nothing, which only widens)
    }
    return { kind: 'repeat', item, min, max };
  }

  private atom(): Node {
    const char = this.next();
    switch (char) {
      case '^':
        return { kind: 'begin' };
      case '$':
        return { kind: 'end' };
      case '.':
        return { kind: 'char', test: not(isLineTerminator) };
      case '[':
        return { kind: 'char', test: this.characterClass() };
      case '\\':
        return { kind: 'char', test: this.escape(false) };
      case '(': {
        if (this.peek() === '?') {
          this.at += 1;
          const kind = this.next();
          if (kind === '<' && this.peek() !== '=' && this.peek() !== '!') {
            while (this.next() !== '>') {
              // a group name: skipped, there are no captures
            }
          } else if (kind !== ':') {
            throw new UnsupportedPatternError('lookaround is not supported');
          }
        }
        const inner = this.alternation();
        if (this.next() !== ')') {
          throw new UnsupportedPatternError('unbalanced parenthesis');
        }
        return inner;
      }
      default: {
        const codePoint = char.codePointAt(0)!;
        return { kind: 'char', test: (c) => c === codePoint };
      }
    }
  }

  private characterClass(): Predicate {
    const negated = this.peek() === '^';
    if (negated) {
      this.at += 1;
    }
    const parts: Predicate[] = [];
    while (this.peek() !== ']') {
      const from = this.classAtom();
      if (this.peek() === '-' && this.chars[this.at + 1] !== ']' && typeof from === 'number') {
        this.at += 1;
        const to = this.classAtom();
        if (typeof to !== 'number') {
          throw new UnsupportedPatternError('bad class range');
        }
        parts.push((c) => c >= from && c <= to);
      } else {
        parts.push(typeof from === 'number' ? (c) => c === from : from);
      }
    }
    this.at += 1;
    const test: Predicate = (c) => parts.some((part) => part(c));
    return negated ? not(test) : test;
  }

  /** A class member: a code point, or a predicate for `\d` and friends. */
  private classAtom(): number | Predicate {
    const char = this.next();
    if (char !== '\\') {
      return char.codePointAt(0)!;
    }
    if (this.peek() === 'b') {
      this.at += 1;
      return 0x08; // [\b] is backspace
    }
    if (this.peek() === '-') {
      this.at += 1;
      return 0x2d;
    }
    const single = this.singleEscape();
    return single ?? this.escape(true);
  }

  /** An escape that stands for one code point, or undefined (the caller reads a class). */
  private singleEscape(): number | undefined {
    const char = this.peek();
    const simple: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };
    if (char !== undefined && Object.hasOwn(simple, char)) {
      this.at += 1;
      return simple[char];
    }
    if (char === '0') {
      this.at += 1;
      return 0;
    }
    if (char === 'x') {
      this.at += 1;
      return Number.parseInt(this.next() + this.next(), 16);
    }
    if (char === 'u') {
      this.at += 1;
      if (this.peek() === '{') {
        this.at += 1;
        let hex = '';
        for (let digit = this.next(); digit !== '}'; digit = this.next()) {
          hex += digit;
        }
        return Number.parseInt(hex, 16);
      }
      const unit = Number.parseInt(this.next() + this.next() + this.next() + this.next(), 16);
      // `\uD83D\uDE00` is one code point in a u-flag pattern.
      if (
        unit >= 0xd800 &&
        unit <= 0xdbff &&
        this.peek() === '\\' &&
        this.chars[this.at + 1] === 'u'
      ) {
        const save = this.at;
        this.at += 2;
        const low = Number.parseInt(this.next() + this.next() + this.next() + this.next(), 16);
        if (low >= 0xdc00 && low <= 0xdfff) {
          return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
        }
        this.at = save;
      }
      return unit;
    }
    return undefined;
  }

  private escape(inClass: boolean): Predicate {
    const single = inClass ? undefined : this.singleEscape();
    if (single !== undefined) {
      return (c) => c === single;
    }
    const char = this.next();
    switch (char) {
      case 'd':
        return isDigit;
      case 'D':
        return not(isDigit);
      case 'w':
        return isWord;
      case 'W':
        return not(isWord);
      case 's':
        return isSpace;
      case 'S':
        return not(isSpace);
      default:
        if (/^[\^$\\.*+?()[\]{}|/]$/.test(char)) {
          const codePoint = char.codePointAt(0)!;
          return (c) => c === codePoint;
        }
        // Backreferences, \b, \B, \k, \p, \c: not regular, or not supported here.
        throw new UnsupportedPatternError('escape not supported');
    }
  }
}

type Instruction =
  | { op: 'char'; test: Predicate }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; to: number }
  | { op: 'begin' }
  | { op: 'end' }
  | { op: 'match' };

class Compiler {
  readonly program: Instruction[] = [];

  private emit(instruction: Instruction): number {
    if (this.program.length >= MAX_PROGRAM_SIZE) {
      throw new UnsupportedPatternError('pattern too large');
    }
    this.program.push(instruction);
    return this.program.length - 1;
  }

  compile(node: Node): void {
    switch (node.kind) {
      case 'char':
        this.emit({ op: 'char', test: node.test });
        return;
      case 'begin':
      case 'end':
        this.emit({ op: node.kind });
        return;
      case 'concat':
        for (const item of node.items) {
          this.compile(item);
        }
        return;
      case 'alt': {
        const jumps: number[] = [];
        for (let index = 0; index < node.options.length - 1; index += 1) {
          const split = this.emit({ op: 'split', x: 0, y: 0 });
          this.setSplit(split, split + 1, -1);
          this.compile(node.options[index]!);
          jumps.push(this.emit({ op: 'jmp', to: 0 }));
          this.setSplit(split, split + 1, this.program.length);
        }
        this.compile(node.options.at(-1)!);
        for (const jump of jumps) {
          (this.program[jump] as { to: number }).to = this.program.length;
        }
        return;
      }
      case 'repeat': {
        for (let index = 0; index < node.min; index += 1) {
          this.compile(node.item);
        }
        if (node.max === Number.POSITIVE_INFINITY) {
          const split = this.emit({ op: 'split', x: 0, y: 0 });
          this.compile(node.item);
          this.emit({ op: 'jmp', to: split });
          this.setSplit(split, split + 1, this.program.length);
          return;
        }
        const splits: number[] = [];
        for (let index = node.min; index < node.max; index += 1) {
          splits.push(this.emit({ op: 'split', x: 0, y: 0 }));
          this.compile(node.item);
        }
        for (const split of splits) {
          this.setSplit(split, split + 1, this.program.length);
        }
        return;
      }
    }
  }

  private setSplit(at: number, x: number, y: number): void {
    this.program[at] = { op: 'split', x, y };
  }
}

/** A compiled pattern; {@link LinearRegex.test} runs in time linear in the input. */
export class LinearRegex {
  private readonly program: Instruction[];

  /** Throws {@link UnsupportedPatternError} for a pattern outside the supported language. */
  constructor(pattern: string) {
    const compiler = new Compiler();
    compiler.compile(new Parser(pattern).parse());
    compiler.program.push({ op: 'match' });
    this.program = compiler.program;
  }

  /** Whether the pattern matches anywhere in `text` (as `RegExp.prototype.test`). */
  test(text: string): boolean {
    const size = this.program.length;
    let current: number[] = [];
    let next: number[] = [];
    // The step at which each instruction was last added: one thread per instruction per step.
    const seen = new Int32Array(size).fill(-1);
    let step = 0;
    let atStart = true;
    const add = (list: number[], pc: number, atEnd: boolean): boolean => {
      const stack = [pc];
      while (stack.length > 0) {
        const at = stack.pop()!;
        if (seen[at] === step) {
          continue;
        }
        seen[at] = step;
        const instruction = this.program[at]!;
        switch (instruction.op) {
          case 'jmp':
            stack.push(instruction.to);
            break;
          case 'split':
            stack.push(instruction.y, instruction.x);
            break;
          case 'begin':
            if (atStart) {
              stack.push(at + 1);
            }
            break;
          case 'end':
            if (atEnd) {
              stack.push(at + 1);
            }
            break;
          case 'match':
            return true;
          case 'char':
            list.push(at);
            break;
        }
      }
      return false;
    };
    for (let index = 0; ; ) {
      const atEnd = index >= text.length;
      atStart = index === 0;
      // A search: a new thread starts at every position.
      if (add(current, 0, atEnd)) {
        return true;
      }
      if (atEnd) {
        return false;
      }
      const codePoint = text.codePointAt(index)!;
      index += codePoint > 0xffff ? 2 : 1;
      step += 1;
      atStart = false;
      const nextAtEnd = index >= text.length;
      for (const pc of current) {
        const instruction = this.program[pc] as { test: Predicate };
        if (instruction.test(codePoint) && add(next, pc + 1, nextAtEnd)) {
          return true;
        }
      }
      [current, next] = [next, []];
    }
  }
}
