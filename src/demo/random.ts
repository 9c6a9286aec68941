/**
 * A small seeded pseudo-random generator for the demo data.
 *
 * `Math.random()` cannot be seeded, and the demo must produce the same rows on every database and every run,
 * so seed data comes from mulberry32: 32 bits of state, one multiply-xorshift round per number, good enough
 * statistically for fake data and fast enough to draw a few million numbers in well under a second.
 *
 * ### Examples
 * ```ts
 * const random = createRandom(42)
 * random.next()          // 0 <= x < 1, the same sequence for seed 42 everywhere
 * random.int(1, 6)       // a die roll
 * random.pick(['a', 'b'])
 * ```
 */
export interface Random {
  /** A float in `[0, 1)`. */
  next(): number
  /** An integer in `[min, max]` (both inclusive). */
  int(min: number, max: number): number
  /** `true` with probability `p`. */
  chance(p: number): boolean
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T
  /**
   * An integer in `[0, n)` skewed towards 0: `floor(n * next() ** exponent)`. Exponent 1 is uniform; with
   * exponent 2 and n = 2,000, index 0 is drawn about 2% of the time and the upper half about 29%.
   * Models "a few users write most of the posts".
   */
  skewedIndex(n: number, exponent: number): number
}

/**
 * Creates a {@link Random} from a 32-bit seed (any integer; it is reduced modulo 2^32).
 *
 * ### Examples
 * ```ts
 * createRandom(42).next() === createRandom(42).next() // true
 * ```
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0

  // mulberry32, by Tommy Ettinger (public domain).
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    skewedIndex: (n, exponent) => Math.floor(n * next() ** exponent),
  }
}

/**
 * Derives an independent seed for one named stream from a base seed (FNV-1a over the name, mixed with the
 * seed). Each demo table draws from its own stream, so changing how one table is generated does not shift
 * the data of the others.
 *
 * ### Examples
 * ```ts
 * const users = createRandom(deriveSeed(42, 'users'))
 * ```
 */
export function deriveSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
