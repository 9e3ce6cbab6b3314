/**
 * Prometheus text exposition format 0.0.4: per family a `# HELP` and a `# TYPE` line, then its
 * samples `name{label="value",...} value`. Label values escape `\`, `"` and newline; HELP text
 * escapes `\` and newline. Every family is written once, its samples together.
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'untyped';
export type Labels = Record<string, string | number>;

export interface Sample {
  labels?: Labels;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as Go's ParseFloat reads it: NaN, +Inf, -Inf, or a plain number. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(k)}`);
    parts.push(`${k}="${escapeLabelValue(String(v))}"`);
  }
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class ExpositionWriter {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  /** Writes one metric family. A family with no samples writes nothing. */
  family(name: string, type: MetricType, help: string, samples: Iterable<Sample>): this {
    this.claim(name);
    const body: string[] = [];
    for (const s of samples) body.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    if (body.length === 0) return this;
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`, ...body);
    return this;
  }

  /** One unlabelled sample. */
  single(name: string, type: MetricType, help: string, value: number): this {
    return this.family(name, type, help, [{ value }]);
  }

  /** One histogram: `name_bucket{le}` cumulative counts ending with +Inf, `name_sum`, `name_count`. */
  histogram(name: string, help: string, h: { cumulative(): Array<{ le: number; count: number }>; sum: number; count: number }): this {
    this.claim(name);
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
    for (const b of h.cumulative()) this.lines.push(`${name}_bucket{le="${formatValue(b.le)}"} ${b.count}`);
    this.lines.push(`${name}_sum ${formatValue(h.sum)}`, `${name}_count ${h.count}`);
    return this;
  }

  private claim(name: string): void {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`);
    this.seen.add(name);
  }

  toString(): string {
    return this.lines.length ? this.lines.join('\n') + '\n' : '';
  }
}
