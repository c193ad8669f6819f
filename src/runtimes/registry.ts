/**
 * One runtime per language family, created on first use and kept warm for the life of the server, so no
 * interpreter starts on a request path after warm-up.
 */
import type { BlockLanguage, BlockRuntime } from './types.js';

export type RuntimeFactory = () => BlockRuntime | Promise<BlockRuntime>;

export class RuntimeRegistry {
  private readonly factories = new Map<BlockLanguage, RuntimeFactory>();
  private readonly instances = new Map<RuntimeFactory, Promise<BlockRuntime>>();

  register(languages: readonly BlockLanguage[], factory: RuntimeFactory): void {
    for (const language of languages) this.factories.set(language, factory);
  }

  has(language: string): boolean {
    return this.factories.has(language as BlockLanguage);
  }

  /** The runtime for a language, started (and warmed) the first time it is asked for. */
  get(language: BlockLanguage): Promise<BlockRuntime> {
    const factory = this.factories.get(language);
    if (!factory) throw new Error(`No runtime for block language "${language}".`);
    let instance = this.instances.get(factory);
    if (!instance) {
      // A factory that throws (bad settings) rejects like one that fails later, never throws out of get().
      instance = new Promise<BlockRuntime>((resolve) => resolve(factory())).then(async (runtime) => {
        await runtime.warm();
        return runtime;
      });
      // A runtime that failed to start is retried on the next request instead of failing forever.
      instance.catch(() => this.instances.delete(factory));
      this.instances.set(factory, instance);
    }
    return instance;
  }

  /** Starts the runtimes for these languages now (server start), without waiting for them. */
  warmInBackground(languages: readonly BlockLanguage[], onError: (language: BlockLanguage, err: unknown) => void): void {
    for (const language of languages) {
      if (!this.has(language)) continue;
      this.get(language).catch((err) => onError(language, err));
    }
  }

  async close(): Promise<void> {
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.allSettled(all.map(async (p) => (await p).close()));
  }
}
