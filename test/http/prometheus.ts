/**
 * A strict parser of the Prometheus text exposition format 0.0.4, enough to prove that what
 * /metrics serves is something Prometheus accepts: every line is a HELP, a TYPE or a sample;
 * names and label names are valid; label values use only the \\ \" \n escapes; each family has
 * one TYPE, declared before its samples; values are floats. It throws on the first violation.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  help: string | undefined;
  type: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value "${text}"`);
  return Number(text);
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${line}: bad escape \\${c} in HELP`);
  });
}

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const family = (name: string): ParsedFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: undefined, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const typed = new Set<string>();
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((raw, index) => {
    const n = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!NAME.test(name) || NAME.exec(name)?.[0] !== name) throw new Error(`line ${n}: bad metric name "${name}"`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${n}: second HELP for ${name}`);
        f.help = unescapeHelp(rest, n);
      } else {
        if (typed.has(name)) throw new Error(`line ${n}: second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`line ${n}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new Error(`line ${n}: bad type "${rest}"`);
        typed.add(name);
        f.type = rest;
      }
      return;
    }
    let rest = raw;
    const name = NAME.exec(rest)?.[0];
    if (name === undefined) throw new Error(`line ${n}: sample without a metric name: ${raw}`);
    rest = rest.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const label = LABEL_NAME.exec(rest)?.[0];
        if (label === undefined) throw new Error(`line ${n}: bad label name in ${raw}`);
        rest = rest.slice(label.length);
        if (!rest.startsWith('="')) throw new Error(`line ${n}: expected =" after ${label}`);
        rest = rest.slice(2);
        let value = '';
        for (;;) {
          const c = rest[0];
          if (c === undefined) throw new Error(`line ${n}: unterminated label value`);
          if (c === '"') {
            rest = rest.slice(1);
            break;
          }
          if (c === '\\') {
            const e = rest[1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`line ${n}: bad escape in label value`);
            rest = rest.slice(2);
            continue;
          }
          value += c;
          rest = rest.slice(1);
        }
        if (Object.hasOwn(labels, label)) throw new Error(`line ${n}: duplicate label ${label}`);
        labels[label] = value;
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}')) throw new Error(`line ${n}: expected , or } in ${raw}`);
      }
      rest = rest.slice(1);
    }
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) throw new Error(`line ${n}: expected " value [timestamp]" in ${raw}`);
    const value = parseValue(parts[1] ?? '', n);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new Error(`line ${n}: bad timestamp`);
    if (!typed.has(name)) throw new Error(`line ${n}: sample of ${name} before (or without) its TYPE`);
    family(name).samples.push({ name, labels, value });
  });
  return families;
}
