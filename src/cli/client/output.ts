/** Where a verb writes: results on stdout, progress and errors on stderr. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** Terminal width of stdout when it is a terminal (tables fit their last column to it). */
  columns?: number;
}

export const processOutput: Output = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  ...(process.stdout.isTTY && process.stdout.columns ? { columns: process.stdout.columns } : {}),
};

/** An Output that keeps what was written (tests). */
export function memoryOutput(columns?: number): Output & { stdout: string; stderr: string } {
  const o = {
    stdout: '',
    stderr: '',
    out(text: string) {
      o.stdout += text;
    },
    err(text: string) {
      o.stderr += text;
    },
    ...(columns !== undefined ? { columns } : {}),
  };
  return o;
}
