"""Integer probability tables and the rANS coder of src/lib/entropy/, in Python.

Everything here mirrors the C code bit for bit, so that what the trainer and the exporter report
as the size of a latent is the size libaic's coder produces, and so that the test vectors in
tests/data/nn/ carry the exact bytes the C encoder must write:

- cdf_from_pmf        aic_cdf_from_pmf (cdf.c): one rounding to 2^-32, then integer water-filling
- gaussian_tables     aic_gaussian_tables_build (gaussian_tables.c)
- TableSet            a list of tables packed as the model file stores them (see pack())
- bits_*              the exact cost of coding values under tables (escapes included)
- rans_encode_*       aic_entropy_encode_factorized / _indexed (latent_coder.c), byte for byte
- rans_decode_*       their decoders (for self-tests)

Table layout (as cdf.h): a table of `count` symbols codes the values offset .. offset+count-2 as
symbols 0 .. count-2; symbol count-1 is the escape. cdf has count+1 entries, cdf[0] = 0,
cdf[count] = 65536, strictly increasing. A value outside the range is coded as the escape, one
bypass bit (1: below the range, 0: above), then its distance d >= 1 from the nearest end of the
range Elias-gamma style: n = floor(log2 d) zero bits, a one bit, the n low bits of d.
"""

import math

import numpy as np

PREC_BITS = 16
TOTAL = 1 << PREC_BITS
RANS_L = 1 << 23
MAX_SYMBOLS = 8192
MAX_BYPASS = 16
STREAM_OVERHEAD_BYTES = 8  # the two final 32-bit states


# ---- tables ----------------------------------------------------------------------------------

def _quantize(q):
    """Integer frequencies summing to TOTAL from rounded masses q (int64 array, sum > 0): the
    smallest masses get a floor of 1 while their proportional share would be below 1, the rest
    floor(q * budget / rest) plus one unit each to the largest remainders (ties: lower symbol).
    Exactly cdf.c's quantize()."""
    count = len(q)
    order = np.lexsort((np.arange(count), q))  # by key, then index
    keys = [int(v) for v in q[order]]
    total_q = sum(keys)
    freq = [0] * count
    floored, rest = 0, total_q
    while floored < count - 1 and keys[floored] * (TOTAL - floored) < rest:
        rest -= keys[floored]
        freq[int(order[floored])] = 1
        floored += 1
    budget = TOTAL - floored
    given = 0
    rem = []
    for j in range(floored, count):
        num = keys[j] * budget
        idx = int(order[j])
        freq[idx] = num // rest
        given += num // rest
        rem.append((-(num % rest), idx))  # descending remainder, ascending index
    rem.sort()
    for j in range(budget - given):
        freq[rem[j][1]] += 1
    return freq


def cdf_from_pmf(pmf, escape_mass):
    """The cdf (list of count+1 ints) of the values pmf[0..n) plus an escape of escape_mass.
    Probabilities need not be normalised; each must be in [0, 1]."""
    p = list(pmf) + [escape_mass]
    if not 1 <= len(pmf) <= MAX_SYMBOLS - 1:
        raise ValueError(f"{len(pmf)} values: outside 1..{MAX_SYMBOLS - 1}")
    q = []
    for v in p:
        v = float(v)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"probability {v} outside [0, 1]")
        q.append(math.floor(math.ldexp(v, 32) + 0.5))  # llround: exact for v * 2^32 < 2^52
    q = np.array(q, dtype=np.int64)
    if q.sum() == 0:
        raise ValueError("all probabilities are zero")
    freq = _quantize(q)
    cdf = [0]
    for f in freq:
        cdf.append(cdf[-1] + f)
    assert cdf[-1] == TOTAL and min(freq) >= 1
    return cdf


def gaussian_scale(i, n, smin, smax):
    if n < 2:
        return smin
    lmin, lmax = math.log(smin), math.log(smax)
    return math.exp(lmin + i * (lmax - lmin) / (n - 1))


def _upper_tail(t, s):
    return 0.5 * math.erfc(t / (s * math.sqrt(2.0)))


def _half_width(s, tail_mass):
    lo, hi = 0, (MAX_SYMBOLS - 2) // 2
    if 2.0 * _upper_tail(hi + 0.5, s) > tail_mass:
        return hi
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if 2.0 * _upper_tail(mid + 0.5, s) <= tail_mass:
            hi = mid
        else:
            lo = mid + 1
    return lo


def gaussian_tables(n, smin, smax, tail_mass):
    """[(offset, cdf)] for zero-mean Gaussians of the n log-spaced scales, as
    aic_gaussian_tables_build builds them (values -W..W, escape = two-sided tail beyond W+1/2).
    math.erfc may differ from the C library's by an ulp, which can move a frequency by one unit:
    the model file carries these integers, so the tables the decoder uses are the exported ones."""
    out = []
    for i in range(n):
        s = gaussian_scale(i, n, smin, smax)
        w = _half_width(s, tail_mass)
        pmf = []
        for k in range(2 * w + 1):
            a = abs(k - w)
            pmf.append(_upper_tail(a - 0.5, s) - _upper_tail(a + 0.5, s))
        esc = 2.0 * _upper_tail(w + 0.5, s)
        out.append((-w, cdf_from_pmf(pmf, esc)))
    return out


def factorized_table(cum, lo, tail_mass):
    """A table from cumulative probabilities cum[k] = P(X < lo - 1/2 + k), k = 0..n: the values
    lo .. lo+n-1, trimmed to where the mass is (each tail beyond the range <= tail_mass / 2),
    escape = the mass outside. Returns (offset, cdf)."""
    cum = np.clip(np.asarray(cum, dtype=np.float64), 0.0, 1.0)
    cum = np.maximum.accumulate(cum)
    n = len(cum) - 1
    # first value whose upper edge holds more than tail/2 below it; last one symmetric
    first = int(np.searchsorted(cum[1:], tail_mass / 2, side="right"))
    last = n - 1 - int(np.searchsorted((1.0 - cum[:-1])[::-1], tail_mass / 2, side="right"))
    first = min(first, n - 1)
    last = max(last, first)
    if last - first + 1 > MAX_SYMBOLS - 1:  # keep the centre
        mid = (first + last) // 2
        first, last = mid - (MAX_SYMBOLS - 1) // 2 + 1, mid + (MAX_SYMBOLS - 1) // 2 - 1
    pmf = np.diff(cum)[first:last + 1]
    esc = cum[first] + (1.0 - cum[last + 1])
    pmf = np.clip(pmf, 0.0, 1.0)
    if pmf.sum() <= 0:
        pmf = np.ones_like(pmf)
    return lo + first, cdf_from_pmf(pmf.tolist(), float(min(max(esc, 0.0), 1.0)))


class TableSet:
    """Tables as the model file stores them: `cdf` i32 (every table's count+1 entries, one table
    after the other), `count` i32 [T], `offset` i32 [T]; table t starts at sum over u < t of
    (count[u] + 1). Also padded arrays for fast vectorised cost estimates."""

    def __init__(self, tables):
        self.tables = [(int(o), [int(v) for v in c]) for o, c in tables]
        for o, c in self.tables:
            if not (2 <= len(c) - 1 <= MAX_SYMBOLS and c[0] == 0 and c[-1] == TOTAL
                    and all(b > a for a, b in zip(c, c[1:]))):
                raise ValueError("invalid cdf table")
        self.count = np.array([len(c) - 1 for _, c in self.tables], dtype=np.int64)
        self.offset = np.array([o for o, _ in self.tables], dtype=np.int64)
        width = int(self.count.max())
        self.freq = np.ones((len(self.tables), width), dtype=np.int64)
        for t, (_, c) in enumerate(self.tables):
            f = np.diff(np.array(c, dtype=np.int64))
            self.freq[t, :len(f)] = f
        self.neglog2 = PREC_BITS - np.log2(self.freq.astype(np.float64))

    def __len__(self):
        return len(self.tables)

    def pack(self):
        cdf = np.concatenate([np.array(c, dtype=np.int32) for _, c in self.tables])
        return cdf, self.count.astype(np.int32), self.offset.astype(np.int32)

    def bits(self, values, index):
        """Exact cost in bits of coding each value under table index[i] (escape included), as a
        float array of the shape of values."""
        v = np.asarray(values, dtype=np.int64)
        t = np.asarray(index, dtype=np.int64)
        s = v - self.offset[t]
        esc = self.count[t] - 1
        inside = (s >= 0) & (s < esc)
        sc = np.where(inside, s, esc)
        cost = self.neglog2[t, sc]
        if not inside.all():
            lo = self.offset[t]
            hi = lo + esc - 1
            d = np.where(v < lo, lo - v, v - hi)
            d = np.maximum(d, 1)
            nbits = np.floor(np.log2(d.astype(np.float64))).astype(np.int64)
            # exact floor(log2) for the few large d where float rounding could be off
            nbits = np.where((1 << nbits) > d, nbits - 1, nbits)
            nbits = np.where((1 << (nbits + 1)) <= d, nbits + 1, nbits)
            cost = cost + np.where(inside, 0.0, 1.0 + 2.0 * nbits + 1.0)
        return cost


# ---- rANS, byte-exact with src/lib/entropy -------------------------------------------------

class _Enc:
    def __init__(self):
        self.x = [RANS_L, RANS_L]
        self.out = bytearray()

    def put(self, lane, start, freq):
        x = self.x[lane]
        x_max = ((RANS_L >> PREC_BITS) << 8) * freq
        while x >= x_max:
            self.out.append(x & 0xFF)
            x >>= 8
        self.x[lane] = ((x // freq) << PREC_BITS) + (x % freq) + start

    def put_bits(self, lane, v, nbits):
        shift = PREC_BITS - nbits
        self.put(lane, (v & ((1 << nbits) - 1)) << shift, 1 << shift)

    def put_value(self, lane, table, v):
        offset, cdf = table
        count = len(cdf) - 1
        s = v - offset
        if 0 <= s < count - 1:
            self.put(lane, cdf[s], cdf[s + 1] - cdf[s])
            return
        lo, hi = offset, offset + count - 2
        below = 1 if v < lo else 0
        d = lo - v if below else v - hi
        n = d.bit_length() - 1
        if n > MAX_BYPASS:
            self.put_bits(lane, d & 0xFFFF, MAX_BYPASS)
            self.put_bits(lane, d >> MAX_BYPASS, n - MAX_BYPASS)
        elif n > 0:
            self.put_bits(lane, d, n)
        self.put_bits(lane, 1, 1)
        for _ in range(n):
            self.put_bits(lane, 0, 1)
        self.put_bits(lane, below, 1)
        esc = count - 1
        self.put(lane, cdf[esc], TOTAL - cdf[esc])

    def finish(self):
        for lane in (1, 0):
            for i in (3, 2, 1, 0):
                self.out.append((self.x[lane] >> (8 * i)) & 0xFF)
        return bytes(self.out[::-1])


def rans_encode_factorized(tables, symbols):
    """symbols: int array C x N (channel-major), coded with tables[c] for channel c: the bytes of
    aic_entropy_encode_factorized."""
    sym = np.asarray(symbols, dtype=np.int64)
    c_n, n = sym.shape
    e = _Enc()
    for c in range(c_n - 1, -1, -1):
        row = sym[c]
        for i in range(n - 1, -1, -1):
            e.put_value((c * n + i) & 1, tables[c], int(row[i]))
    return e.finish()


def rans_encode_indexed(tables, index, symbols):
    """symbols[i] coded with tables[index[i]]: the bytes of aic_entropy_encode_indexed."""
    sym = np.asarray(symbols, dtype=np.int64).ravel()
    idx = np.asarray(index, dtype=np.int64).ravel()
    e = _Enc()
    for i in range(len(sym) - 1, -1, -1):
        e.put_value(i & 1, tables[int(idx[i])], int(sym[i]))
    return e.finish()


class _Dec:
    def __init__(self, data):
        if len(data) < 8:
            raise ValueError("stream shorter than 8 bytes")
        self.x = [int.from_bytes(data[0:4], "little"), int.from_bytes(data[4:8], "little")]
        self.data, self.p = data, 8

    def peek(self, lane):
        return self.x[lane] & (TOTAL - 1)

    def advance(self, lane, start, freq):
        x = self.x[lane]
        x = freq * (x >> PREC_BITS) + (x & (TOTAL - 1)) - start
        while x < RANS_L:
            if self.p >= len(self.data):
                raise ValueError("stream overrun")
            x = (x << 8) | self.data[self.p]
            self.p += 1
        self.x[lane] = x

    def get_bits(self, lane, nbits):
        shift = PREC_BITS - nbits
        v = self.peek(lane) >> shift
        self.advance(lane, v << shift, 1 << shift)
        return v

    def get_value(self, lane, table):
        offset, cdf = table
        count = len(cdf) - 1
        slot = self.peek(lane)
        s = int(np.searchsorted(cdf, slot, side="right")) - 1
        self.advance(lane, cdf[s], cdf[s + 1] - cdf[s])
        if s < count - 1:
            return offset + s
        below = self.get_bits(lane, 1)
        n = 0
        while self.get_bits(lane, 1) == 0:
            n += 1
            if n > 31:
                raise ValueError("malformed escape")
        d = 1 << n
        if n > MAX_BYPASS:
            d |= self.get_bits(lane, n - MAX_BYPASS) << MAX_BYPASS
            d |= self.get_bits(lane, MAX_BYPASS)
        elif n > 0:
            d |= self.get_bits(lane, n)
        return offset - d if below else offset + count - 2 + d

    def finish(self):
        if self.p != len(self.data) or self.x != [RANS_L, RANS_L]:
            raise ValueError("bad end of stream")


def rans_decode_factorized(tables, data, c_n, n):
    d = _Dec(data)
    out = np.zeros((c_n, n), dtype=np.int64)
    for c in range(c_n):
        for i in range(n):
            out[c, i] = d.get_value((c * n + i) & 1, tables[c])
    d.finish()
    return out


def rans_decode_indexed(tables, index, data):
    idx = np.asarray(index, dtype=np.int64).ravel()
    d = _Dec(data)
    out = np.zeros(len(idx), dtype=np.int64)
    for i in range(len(idx)):
        out[i] = d.get_value(i & 1, tables[int(idx[i])])
    d.finish()
    return out
