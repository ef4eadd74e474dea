// The guest's serial console as the host sees it: the full text (for the
// artifact log), the last lines (for failure reports), and the command's
// own output, which /init frames with a start and an end line.
export const START_MARK = '--- devmap: command start ---';
export const END_MARK = '--- devmap: command end ---';
const TAIL = 40;

export class ConsoleLog {
  text = '';
  readonly tail: string[] = [];
  started = false;
  ended = false;
  startedAt = 0;
  #partial = '';
  #onEnd: (() => void)[] = [];

  /** `forward` gets the command's output, line by line, as it arrives. */
  constructor(private readonly forward: (text: string) => void = () => {}) {}

  push(chunk: string): void {
    const text = chunk.replace(/\r\n/g, '\n').replace(/\r/g, '');
    this.text += text;
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL) this.tail.shift();
    if (!this.started && line.endsWith(START_MARK)) {
      this.started = true;
      this.startedAt = Date.now();
    } else if (this.started && !this.ended && line.endsWith(END_MARK)) {
      this.ended = true;
      for (const fn of this.#onEnd.splice(0)) fn();
    } else if (this.started && !this.ended) this.forward(line + '\n');
  }

  /** Resolves once the end line has arrived (all output is in), or after `ms`. */
  waitEnd(ms: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#onEnd.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** What the kernel said when it panicked, if it did. */
  panicLine(): string | undefined {
    return this.text.split('\n').find((l) => /Kernel panic - not syncing/.test(l))?.trim();
  }

  lastLines(n = 25): string {
    return [...this.tail, ...(this.#partial ? [this.#partial] : [])].slice(-n).join('\n');
  }
}
