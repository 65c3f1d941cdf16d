/** Fixed-width bitsets over 32-bit words: the permission sets of roles, grants and keys. */
export type Bits = Uint32Array;

export function emptyBits(words: number): Bits {
  return new Uint32Array(words);
}

export function setBit(bits: Bits, index: number): void {
  bits[index >>> 5]! |= 1 << (index & 31);
}

export function hasBit(bits: Bits, index: number): boolean {
  return (bits[index >>> 5]! & (1 << (index & 31))) !== 0;
}

/** `target |= source`, in place. */
export function orInto(target: Bits, source: Bits): void {
  for (let word = 0; word < target.length; word++) target[word]! |= source[word]!;
}

/** Indices set in `bits` but not in `held`. */
export function missingFrom(bits: Bits, held: Bits): number[] {
  const missing: number[] = [];
  for (let word = 0; word < bits.length; word++) {
    let rest = bits[word]! & ~held[word]!;
    while (rest !== 0) {
      const low = rest & -rest;
      missing.push(word * 32 + 31 - Math.clz32(low));
      rest ^= low;
    }
  }
  return missing;
}

/** The indices set in `bits`, ascending. */
export function indicesOf(bits: Bits): number[] {
  return missingFrom(bits, emptyBits(bits.length));
}

export function isEmptyBits(bits: Bits): boolean {
  for (let word = 0; word < bits.length; word++) if (bits[word] !== 0) return false;
  return true;
}
