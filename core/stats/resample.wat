;; The bootstrap's inner loop (core/stats/bootstrap.ts, resampleRatio) in WebAssembly SIMD, four
;; resamples at once: one per 32-bit lane. Compiled into core/stats/resampleWasm.ts by
;; `npm run build:wasm` (scripts/build-wasm.mjs); tests/unit/stats.test.ts checks that file is up to date
;; and that the numbers equal resampleRatio's.
;;
;; Each lane replays resampleRatio exactly for its resample:
;;   a = (a + 0x6d2b79f5) >>> 0                       mulberry32 (core/stats/random.ts), the lane's
;;   t = imul(a ^ a >>> 15, a | 1)                      own stream position `a`
;;   t ^= t + imul(t ^ t >>> 7, t | 61)
;;   u = t ^ t >>> 14                                   rand() = u / 2^32
;;   i = floor(u / 2^32 * k)                            = (u * k) >> 32 here: u * k < 2^53 while
;;                                                      k <= 2^21, so the double product was exact
;;   s += sums[i]; c += counts[i]                       in draw order: the same double additions
;; and writes s / c (a double division, as in JS). The caller keeps k <= 2^21 and the counts' total
;; below 2^31 (so the i32 count is exact), k >= 1 (the loop draws before it tests), and passes each
;; lane's state before its first draw.
;;
;; Two copies of the loop: `ratios4` for clusters of one score each (c = k; no count loads, ~40%
;; faster: per-skill and per-level figures), `ratios4Counts` for clusters with counts.
(module
  ;; The caller's memory, shared by every thread of a batch: the clusters are written once.
  (import "env" "memory" (memory 1 65536 shared))

  ;; sums: byte offset of k f64; out: byte offset of 4 f64 (the lanes' s / k).
  (func (export "ratios4")
    (param $sums i32) (param $k i32)
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $out i32)
    (local $a v128) (local $t v128) (local $K v128)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64) (local $i i32)
    (local.set $a (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
      (i32x4.splat (local.get $a0)) (local.get $a1)) (local.get $a2)) (local.get $a3)))
    (local.set $K (i32x4.splat (local.get $k)))
    (loop $draw
      ;; mulberry32, four lanes
      (local.set $a (i32x4.add (local.get $a) (v128.const i32x4 0x6d2b79f5 0x6d2b79f5 0x6d2b79f5 0x6d2b79f5)))
      (local.set $t (i32x4.mul
        (v128.xor (local.get $a) (i32x4.shr_u (local.get $a) (i32.const 15)))
        (v128.or (local.get $a) (v128.const i32x4 1 1 1 1))))
      (local.set $t (v128.xor (local.get $t) (i32x4.add (local.get $t) (i32x4.mul
        (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 7)))
        (v128.or (local.get $t) (v128.const i32x4 61 61 61 61))))))
      (local.set $t (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 14))))
      ;; cluster index: the high 32 bits of the 64-bit products u * k, then a byte offset (x 8)
      (local.set $t (i32x4.shl
        (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
          (i64x2.extmul_low_i32x4_u (local.get $t) (local.get $K))
          (i64x2.extmul_high_i32x4_u (local.get $t) (local.get $K)))
        (i32.const 3)))
      (local.set $s0 (f64.add (local.get $s0) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 0 (local.get $t))))))
      (local.set $s1 (f64.add (local.get $s1) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 1 (local.get $t))))))
      (local.set $s2 (f64.add (local.get $s2) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 2 (local.get $t))))))
      (local.set $s3 (f64.add (local.get $s3) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 3 (local.get $t))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $draw (i32.lt_u (local.get $i) (local.get $k))))
    (f64.store offset=0 (local.get $out) (f64.div (local.get $s0) (f64.convert_i32_u (local.get $k))))
    (f64.store offset=8 (local.get $out) (f64.div (local.get $s1) (f64.convert_i32_u (local.get $k))))
    (f64.store offset=16 (local.get $out) (f64.div (local.get $s2) (f64.convert_i32_u (local.get $k))))
    (f64.store offset=24 (local.get $out) (f64.div (local.get $s3) (f64.convert_i32_u (local.get $k)))))

  ;; sums: byte offset of k f64; counts: byte offset of k i32; out: 4 f64 (the lanes' s / c).
  (func (export "ratios4Counts")
    (param $sums i32) (param $counts i32) (param $k i32)
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $out i32)
    (local $a v128) (local $t v128) (local $ct v128) (local $K v128)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32) (local $i i32)
    (local.set $a (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
      (i32x4.splat (local.get $a0)) (local.get $a1)) (local.get $a2)) (local.get $a3)))
    (local.set $K (i32x4.splat (local.get $k)))
    (loop $draw
      (local.set $a (i32x4.add (local.get $a) (v128.const i32x4 0x6d2b79f5 0x6d2b79f5 0x6d2b79f5 0x6d2b79f5)))
      (local.set $t (i32x4.mul
        (v128.xor (local.get $a) (i32x4.shr_u (local.get $a) (i32.const 15)))
        (v128.or (local.get $a) (v128.const i32x4 1 1 1 1))))
      (local.set $t (v128.xor (local.get $t) (i32x4.add (local.get $t) (i32x4.mul
        (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 7)))
        (v128.or (local.get $t) (v128.const i32x4 61 61 61 61))))))
      (local.set $t (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 14))))
      (local.set $t
        (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
          (i64x2.extmul_low_i32x4_u (local.get $t) (local.get $K))
          (i64x2.extmul_high_i32x4_u (local.get $t) (local.get $K))))
      ;; byte offsets: x 4 into the counts, x 8 into the sums
      (local.set $ct (i32x4.shl (local.get $t) (i32.const 2)))
      (local.set $t (i32x4.shl (local.get $t) (i32.const 3)))
      (local.set $s0 (f64.add (local.get $s0) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 0 (local.get $t))))))
      (local.set $s1 (f64.add (local.get $s1) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 1 (local.get $t))))))
      (local.set $s2 (f64.add (local.get $s2) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 2 (local.get $t))))))
      (local.set $s3 (f64.add (local.get $s3) (f64.load (i32.add (local.get $sums) (i32x4.extract_lane 3 (local.get $t))))))
      (local.set $c0 (i32.add (local.get $c0) (i32.load (i32.add (local.get $counts) (i32x4.extract_lane 0 (local.get $ct))))))
      (local.set $c1 (i32.add (local.get $c1) (i32.load (i32.add (local.get $counts) (i32x4.extract_lane 1 (local.get $ct))))))
      (local.set $c2 (i32.add (local.get $c2) (i32.load (i32.add (local.get $counts) (i32x4.extract_lane 2 (local.get $ct))))))
      (local.set $c3 (i32.add (local.get $c3) (i32.load (i32.add (local.get $counts) (i32x4.extract_lane 3 (local.get $ct))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $draw (i32.lt_u (local.get $i) (local.get $k))))
    (f64.store offset=0 (local.get $out) (f64.div (local.get $s0) (f64.convert_i32_u (local.get $c0))))
    (f64.store offset=8 (local.get $out) (f64.div (local.get $s1) (f64.convert_i32_u (local.get $c1))))
    (f64.store offset=16 (local.get $out) (f64.div (local.get $s2) (f64.convert_i32_u (local.get $c2))))
    (f64.store offset=24 (local.get $out) (f64.div (local.get $s3) (f64.convert_i32_u (local.get $c3)))))
)
