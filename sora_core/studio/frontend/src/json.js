// JSON that keeps "3.0" a float. JavaScript has one number type, so JSON.parse reads 3.0 as 3 and
// JSON.stringify writes it back as 3: a spec imported with `shift: 3.0` would export as `shift: 3`. Here
// an object (or array) remembers which of its keys held integral floats in a hidden Symbol-keyed set,
// which object spread copies along, and `stringify` writes those back with a decimal point.

export const FLOATS = Symbol("sora.floats");

function assign(target, key, value) {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** JSON.parse, marking integral floats (3.0, 1e3) so `stringify` writes them as floats again. */
export function parse(text) {
  let i = 0;
  const fail = (what) => {
    throw new SyntaxError(`JSON: ${what} at position ${i}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const string = () => {
    if (text[i] !== '"') fail("expected a string");
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    if (j >= text.length) fail("unterminated string");
    const s = JSON.parse(text.slice(i, j + 1));
    i = j + 1;
    return s;
  };
  // returns [value, isIntegralFloat]
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const obj = {};
      let floats = null;
      ws();
      if (text[i] === "}") {
        i++;
        return [obj, false];
      }
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        const [v, isFloat] = value();
        assign(obj, key, v);
        if (isFloat) (floats ||= new Set()).add(key);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] !== "}") fail("expected ',' or '}'");
        i++;
        break;
      }
      if (floats) obj[FLOATS] = floats;
      return [obj, false];
    }
    if (c === "[") {
      i++;
      const arr = [];
      let floats = null;
      ws();
      if (text[i] === "]") {
        i++;
        return [arr, false];
      }
      for (;;) {
        const [v, isFloat] = value();
        if (isFloat) (floats ||= new Set()).add(String(arr.length));
        arr.push(v);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] !== "]") fail("expected ',' or ']'");
        i++;
        break;
      }
      if (floats) arr[FLOATS] = floats;
      return [arr, false];
    }
    if (c === '"') return [string(), false];
    if (text.startsWith("true", i)) {
      i += 4;
      return [true, false];
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return [false, false];
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return [null, false];
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail("unexpected character");
    i += m[0].length;
    const n = Number(m[0]);
    return [n, /[.eE]/.test(m[0]) && Number.isInteger(n)];
  };
  const [result] = value();
  ws();
  if (i !== text.length) fail("unexpected text after the value");
  return result;
}

function number(n, isFloat) {
  if (!Number.isFinite(n)) return "null";
  const s = String(n);
  return isFloat && Number.isInteger(n) && !/[.eE]/.test(s) ? `${s}.0` : s;
}

/** JSON.stringify that writes the marked integral floats with a decimal point. */
export function stringify(value) {
  const write = (v, isFloat) => {
    if (v === null) return "null";
    if (typeof v === "number") return number(v, isFloat);
    if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
    if (v instanceof Date) return JSON.stringify(v);
    if (Array.isArray(v)) {
      const floats = v[FLOATS];
      return `[${v.map((x, k) => (x === undefined || typeof x === "function" ? "null" : write(x, !!floats && floats.has(String(k))))).join(",")}]`;
    }
    if (typeof v === "object") {
      const floats = v[FLOATS];
      const parts = [];
      for (const key of Object.keys(v)) {
        const x = v[key];
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue;
        parts.push(`${JSON.stringify(key)}:${write(x, !!floats && floats.has(key))}`);
      }
      return `{${parts.join(",")}}`;
    }
    return "null";
  };
  return write(value, false);
}

/** A deep copy that keeps the float marks. */
export function copy(v) {
  if (Array.isArray(v)) {
    const out = v.map(copy);
    if (v[FLOATS]) out[FLOATS] = new Set(v[FLOATS]);
    return out;
  }
  if (v && typeof v === "object") {
    const out = {};
    for (const key of Object.keys(v)) assign(out, key, copy(v[key]));
    if (v[FLOATS]) out[FLOATS] = new Set(v[FLOATS]);
    return out;
  }
  return v;
}

/** Mark or unmark `key` of an object as holding a float (returns a new set; the object is not changed). */
export function withFloat(obj, key, isFloat) {
  const floats = new Set(obj[FLOATS] || []);
  if (isFloat) floats.add(String(key));
  else floats.delete(String(key));
  return floats;
}
