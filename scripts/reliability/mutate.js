// Mutations of a byte string (fuzz): bit flips, random bytes, truncation, duplication, insertion, swaps.
export function mutate(input, r) {
  const b = Buffer.from(input)
  const ops = 1 + Math.floor(r() * 3)
  let out = b
  for (let k = 0; k < ops; k++) {
    const i = Math.floor(r() * Math.max(1, out.length))
    switch (Math.floor(r() * 7)) {
      case 0: // bit flip
        if (out.length) out[i] ^= 1 << Math.floor(r() * 8)
        break
      case 1: // random byte
        if (out.length) out[i] = Math.floor(r() * 256)
        break
      case 2: // truncate
        out = out.subarray(0, i)
        break
      case 3: // duplicate a slice
        out = Buffer.concat([out.subarray(0, i), out.subarray(i, i + 1 + Math.floor(r() * 16)), out.subarray(i)])
        break
      case 4: // insert random bytes
        out = Buffer.concat([out.subarray(0, i), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))), out.subarray(i)])
        break
      case 5: // an extreme length/number byte
        if (out.length) out[i] = [0x00, 0xff, 0x7f, 0x80, 0x1b, 0x9f, 0xbf][Math.floor(r() * 7)]
        break
      default: // swap two bytes
        if (out.length > 1) {
          const j = Math.floor(r() * out.length)
          const t = out[i]
          out[i] = out[j]
          out[j] = t
        }
    }
  }
  return Buffer.from(out)
}
