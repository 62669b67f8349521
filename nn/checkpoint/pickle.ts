/**
 * A safe, non-evaluating unpickler for the binary pickle opcodes (protocols 2 to 5) that `torch.save` emits.
 *
 * Format: a pickle is a program for a small stack machine; opcodes push constants, build lists, tuples and
 * dicts, store and fetch objects in a memo, name globals and call them (REDUCE, NEWOBJ), and end with STOP.
 *
 * Safety rules: nothing is ever evaluated. A global resolves only if the caller's allow-list has it (a
 * function written here in TypeScript that builds a plain value); any other name is refused with a
 * FormatError naming it and the offset, before anything is called. Text-protocol opcodes, INST/OBJ, extension
 * registries and out-of-band buffers are refused as unsupported. Every length is checked against the bytes
 * that remain before it is read, so truncated input fails cleanly; the machine is iterative (no recursion)
 * and each opcode consumes at least one byte, so work and memory stay proportional to the input size.
 * Dicts are `PyDict`s keyed by an internal string, never properties of a plain object.
 */
import { FormatError } from '../../engine/errors.js';

/** The pickle ends before it is complete (a reader holding only a prefix of the file may fetch more and retry). */
export class PickleTruncatedError extends FormatError {}

/** A value on the pickle stack; `X` is whatever the caller's globals and persistent loader produce. */
export type PickleValue<X> =
  | null | boolean | number | bigint | string | Uint8Array
  | PyTuple<X> | PyList<X> | PyDict<X> | PyGlobal<X> | X;

export class PyTuple<X> {
  /** Dict-key form, computed on first use (tuples are immutable). */
  key: string | undefined;
  constructor(readonly items: readonly PickleValue<X>[]) {}
}

export class PyList<X> {
  constructor(readonly items: PickleValue<X>[]) {}
}

/** An insertion-ordered dict. Keys are hashed like Python's (1, 1.0 and True are one key). */
export class PyDict<X> {
  readonly entries = new Map<string, { key: PickleValue<X>; value: PickleValue<X> }>();
  /** Sets key -> value; returns false (and sets nothing) for a key type this reader does not hash. */
  set(key: PickleValue<X>, value: PickleValue<X>): boolean {
    const hashed = dictKey(key);
    if (hashed === undefined) return false;
    const existing = this.entries.get(hashed);
    if (existing) existing.value = value; // Python keeps the first key object and its position
    else this.entries.set(hashed, { key, value });
    return true;
  }
  /** The value under a string key, if present. */
  get(key: string): PickleValue<X> | undefined {
    return this.entries.get(dictKey(key)!)?.value;
  }
}

/** Builds the value of an allow-listed global when it is called (REDUCE or NEWOBJ). */
export type GlobalFn<X> = (args: readonly PickleValue<X>[], offset: number) => PickleValue<X>;

export class PyGlobal<X> {
  constructor(readonly module: string, readonly name: string, readonly call: GlobalFn<X>) {}
}

export interface UnpickleOptions<X> {
  /** Allowed globals by 'module.name'; every other name is refused. */
  globals: ReadonlyMap<string, GlobalFn<X>>;
  /** Resolves BINPERSID ids (refusing any it does not understand). */
  persistentLoad: (pid: PickleValue<X>, offset: number) => PickleValue<X>;
  /** Added to positions in error messages, for pickles embedded in a larger file. */
  baseOffset?: number;
  /** Prefix of error messages, e.g. 'loadTorch: data.pkl'. */
  label: string;
}

/** Python-like type name for messages. */
export function describe<X>(v: PickleValue<X>): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyList) return 'list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyGlobal) return `global ${v.module}.${v.name}`;
  return (v as object).constructor?.name ?? 'object';
}

/**
 * The hash key of a dict key: scalars and flat tuples of scalars (all that checkpoints use). Numbers and bools
 * share one space because Python's 1 == 1.0 == True. Returns undefined for unsupported key types.
 */
function dictKey<X>(v: PickleValue<X>): string | undefined {
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `n${v}`;
  if (typeof v === 'boolean') return v ? 'n1' : 'n0';
  if (v === null) return 'N';
  if (v instanceof PyTuple) {
    if (v.key === undefined) {
      const parts: string[] = [];
      for (const item of v.items) {
        const k = item instanceof PyTuple ? undefined : dictKey(item);
        if (k === undefined) return undefined;
        parts.push(JSON.stringify(k));
      }
      v.key = `t${parts.join(',')}`;
    }
    return v.key;
  }
  return undefined;
}

const enum Op {
  MARK = 0x28, EMPTY_TUPLE = 0x29, STOP = 0x2e, POP = 0x30, POP_MARK = 0x31, DUP = 0x32,
  BINBYTES = 0x42, SHORT_BINBYTES = 0x43, BINFLOAT = 0x47, BININT = 0x4a, BININT1 = 0x4b, BININT2 = 0x4d,
  NONE = 0x4e, BINPERSID = 0x51, REDUCE = 0x52, BINSTRING = 0x54, SHORT_BINSTRING = 0x55, BINUNICODE = 0x58,
  EMPTY_LIST = 0x5d, APPEND = 0x61, BUILD = 0x62, GLOBAL = 0x63, DICT = 0x64, APPENDS = 0x65, BINGET = 0x68,
  LONG_BINGET = 0x6a, LIST = 0x6c, BINPUT = 0x71, LONG_BINPUT = 0x72, SETITEM = 0x73, TUPLE = 0x74,
  SETITEMS = 0x75, EMPTY_DICT = 0x7d, PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87,
  NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96,
}

/**
 * Runs the pickle that starts at `start` in `data` and returns its value and the position just past STOP
 * (several pickles may follow one another, as in legacy torch files).
 */
export function unpickle<X>(data: Uint8Array, start: number, options: UnpickleOptions<X>): { value: PickleValue<X>; end: number } {
  const { globals, persistentLoad, label } = options;
  const base = (options.baseOffset ?? 0) - start;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = start;
  let opAt = start;
  let stack: PickleValue<X>[] = [];
  const metastack: PickleValue<X>[][] = [];
  const memo = new Map<number, PickleValue<X>>();

  const fail = (msg: string): never => {
    throw new FormatError(`${label}: ${msg}`, opAt + base);
  };
  const truncated = (msg: string): never => {
    throw new PickleTruncatedError(`${label}: truncated: ${msg}`, opAt + base);
  };
  const need = (n: number, what: string): void => {
    if (n > data.length - pos) truncated(`${what} needs ${n} bytes, ${data.length - pos} remain`);
  };
  const take = (n: number, what: string): Uint8Array => {
    need(n, what);
    pos += n;
    return data.subarray(pos - n, pos);
  };
  const u8 = (): number => take(1, 'argument')[0]!;
  const u32 = (): number => {
    need(4, 'argument');
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const u64 = (): number => {
    need(8, 'argument');
    pos += 8;
    const high = view.getUint32(pos - 4, true);
    if (high >= 0x200000) fail('length beyond 2^53');
    return high * 2 ** 32 + view.getUint32(pos - 8, true);
  };
  const text = (n: number): string => {
    const bytes = take(n, 'string');
    try {
      return utf8.decode(bytes);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const pop = (): PickleValue<X> => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop()!;
  };
  const top = (): PickleValue<X> => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PickleValue<X>[] => {
    const items = stack;
    const outer = metastack.pop();
    if (!outer) fail('no MARK to pop to');
    stack = outer!;
    return items;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal<X> => {
    const fn = globals.get(`${module}.${name}`);
    if (!fn) fail(`refusing global '${module}.${name}'`);
    return new PyGlobal(module, name, fn!);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) truncated('GLOBAL name has no newline');
    const s = new TextDecoder('latin1').decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const setItems = (dict: PyDict<X>, items: readonly PickleValue<X>[]): void => {
    if (items.length % 2) fail('odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2)
      if (!dict.set(items[i]!, items[i + 1]!)) fail(`unsupported dict key type ${describe(items[i]!)}`);
  };
  const call = (args: PickleValue<X>, callee: PickleValue<X>, opName: string): PickleValue<X> => {
    if (!(args instanceof PyTuple)) return fail(`${opName} arguments are a ${describe(args)}, not a tuple`);
    if (!(callee instanceof PyGlobal)) return fail(`${opName} on a ${describe(callee)}, which is not callable`);
    return callee.call(args.items, opAt + base);
  };

  for (;;) {
    opAt = pos;
    if (pos >= data.length) truncated('pickle ends without STOP');
    const op = data[pos++]!;
    switch (op) {
      case Op.PROTO: {
        const version = u8();
        if (version > 5) fail(`unsupported pickle protocol ${version}`);
        break;
      }
      case Op.FRAME:
        need(u64(), 'FRAME');
        break;
      case Op.STOP:
        return { value: pop(), end: pos };
      case Op.MARK:
        metastack.push(stack);
        stack = [];
        break;
      case Op.POP:
        if (stack.length) stack.pop();
        else popMark();
        break;
      case Op.POP_MARK:
        popMark();
        break;
      case Op.DUP:
        stack.push(top());
        break;
      case Op.NONE:
        stack.push(null);
        break;
      case Op.NEWTRUE:
        stack.push(true);
        break;
      case Op.NEWFALSE:
        stack.push(false);
        break;
      case Op.BININT:
        need(4, 'BININT');
        pos += 4;
        stack.push(view.getInt32(pos - 4, true));
        break;
      case Op.BININT1:
        stack.push(u8());
        break;
      case Op.BININT2:
        need(2, 'BININT2');
        pos += 2;
        stack.push(view.getUint16(pos - 2, true));
        break;
      case Op.LONG1:
      case Op.LONG4: {
        let n: number;
        if (op === Op.LONG1) n = u8();
        else {
          need(4, 'LONG4');
          pos += 4;
          n = view.getInt32(pos - 4, true);
          if (n < 0) fail(`LONG4 with negative length ${n}`);
        }
        const bytes = take(n, 'LONG');
        if (n === 0) {
          stack.push(0);
          break;
        }
        // Two's complement, little-endian: build the hex digits most significant first.
        let hex = '';
        for (let i = n - 1; i >= 0; i--) hex += bytes[i]!.toString(16).padStart(2, '0');
        let big = BigInt(`0x${hex}`);
        if (bytes[n - 1]! & 0x80) big -= 1n << BigInt(8 * n);
        const asNumber = Number(big);
        stack.push(Number.isSafeInteger(asNumber) ? asNumber : big);
        break;
      }
      case Op.BINFLOAT:
        need(8, 'BINFLOAT');
        pos += 8;
        stack.push(view.getFloat64(pos - 8, false));
        break;
      case Op.SHORT_BINUNICODE:
      case Op.SHORT_BINSTRING:
        stack.push(text(u8()));
        break;
      case Op.BINUNICODE:
        stack.push(text(u32()));
        break;
      case Op.BINSTRING: {
        need(4, 'BINSTRING');
        pos += 4;
        const n = view.getInt32(pos - 4, true);
        if (n < 0) fail(`BINSTRING with negative length ${n}`);
        stack.push(text(n));
        break;
      }
      case Op.BINUNICODE8:
        stack.push(text(u64()));
        break;
      case Op.SHORT_BINBYTES:
        stack.push(take(u8(), 'bytes').slice());
        break;
      case Op.BINBYTES:
        stack.push(take(u32(), 'bytes').slice());
        break;
      case Op.BINBYTES8:
      case Op.BYTEARRAY8:
        stack.push(take(u64(), 'bytes').slice());
        break;
      case Op.EMPTY_TUPLE:
        stack.push(new PyTuple<X>([]));
        break;
      case Op.TUPLE1:
        stack.push(new PyTuple([pop()]));
        break;
      case Op.TUPLE2: {
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case Op.TUPLE3: {
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case Op.TUPLE: {
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case Op.EMPTY_LIST:
        stack.push(new PyList<X>([]));
        break;
      case Op.LIST: {
        const items = popMark();
        stack.push(new PyList(items));
        break;
      }
      case Op.APPEND: {
        const value = pop();
        const list = top();
        if (!(list instanceof PyList)) fail(`APPEND to a ${describe(list)}`);
        (list as PyList<X>).items.push(value);
        break;
      }
      case Op.APPENDS: {
        const items = popMark();
        const list = top();
        if (!(list instanceof PyList)) fail(`APPENDS to a ${describe(list)}`);
        for (const item of items) (list as PyList<X>).items.push(item);
        break;
      }
      case Op.EMPTY_DICT:
        stack.push(new PyDict<X>());
        break;
      case Op.DICT: {
        const dict = new PyDict<X>();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case Op.SETITEM: {
        const value = pop();
        const key = pop();
        const dict = top();
        if (!(dict instanceof PyDict)) return fail(`SETITEM on a ${describe(dict)}`);
        setItems(dict, [key, value]);
        break;
      }
      case Op.SETITEMS: {
        const items = popMark();
        const dict = top();
        if (!(dict instanceof PyDict)) return fail(`SETITEMS on a ${describe(dict)}`);
        setItems(dict, items);
        break;
      }
      case Op.BINPUT:
        memo.set(u8(), top());
        break;
      case Op.LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case Op.MEMOIZE:
        memo.set(memo.size, top());
        break;
      case Op.BINGET:
      case Op.LONG_BINGET: {
        const index = op === Op.BINGET ? u8() : u32();
        if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
        stack.push(memo.get(index)!);
        break;
      }
      case Op.GLOBAL: {
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case Op.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case Op.REDUCE:
      case Op.NEWOBJ: {
        const args = pop();
        const callee = pop();
        stack.push(call(args, callee, op === Op.REDUCE ? 'REDUCE' : 'NEWOBJ'));
        break;
      }
      case Op.BUILD: {
        pop(); // the state
        const target = top();
        // Dict subclasses (OrderedDict) carry attributes such as a state dict's `_metadata`; those are dropped.
        if (!(target instanceof PyDict)) fail(`BUILD on a ${describe(target)} is not supported`);
        break;
      }
      case Op.BINPERSID:
        stack.push(persistentLoad(pop(), opAt + base));
        break;
      default: {
        const printable = op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
        fail(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}${printable}`);
      }
    }
  }
}
