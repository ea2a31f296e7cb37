/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), enough
 * for tests to check scraped values: `name{label="v",...} value` lines; comments skipped.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses exposition text into samples; throws on a line it cannot read. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    if (match === null) {
      throw new Error(`unparseable metrics line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, '$1');
    }
    const raw = match[3]!;
    const value =
      raw === '+Inf'
        ? Number.POSITIVE_INFINITY
        : raw === '-Inf'
          ? Number.NEGATIVE_INFINITY
          : Number(raw);
    // Case-insensitive, as Prometheus reads it (prom-client writes `Nan`).
    if (Number.isNaN(value) && raw.toLowerCase() !== 'nan') {
      throw new Error(`bad sample value in: ${line}`);
    }
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`; throws if absent. */
export function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found === undefined) {
    throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  }
  return found.value;
}
