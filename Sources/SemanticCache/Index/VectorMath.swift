import CVectorMath

/// Distance kernels: dot products of unit vectors (cosine similarity) in SIMD registers.
enum VectorMath {
    /// `a · b` over `n` floats (the C kernel for this CPU's widest SIMD).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        tg_dot_f32(a, b, n)
    }

    /// `a · b` where `b` is int8-quantized (multiply the result by b's scale).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Int8>, _ n: Int) -> Float {
        tg_dot_f32_i8(a, b, n)
    }

    /// The kernel this CPU runs: avx512, avx2 or generic.
    static var kernel: String { String(cString: tg_dot_kernel()) }

    /// `a · b` of two int8-quantized vectors (multiply by both scales).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s = SIMD16<Int32>()
        var i = 0
        while i + 16 <= n {
            let x = SIMD16<Int16>(truncatingIfNeeded: ra.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self))
            let y = SIMD16<Int16>(truncatingIfNeeded: rb.loadUnaligned(fromByteOffset: i, as: SIMD16<Int8>.self))
            s &+= SIMD16<Int32>(truncatingIfNeeded: x &* y)  // |x·y| <= 127², no overflow
            i &+= 16
        }
        var total = s.wrappedSum()
        while i < n {
            total &+= Int32(a[i]) &* Int32(b[i])
            i &+= 1
        }
        return total
    }

    /// Scales `v` to unit length in place; false for a zero (or non-finite) vector.
    static func normalize(_ v: inout [Float]) -> Bool {
        let norm = v.withUnsafeBufferPointer { dot($0.baseAddress!, $0.baseAddress!, $0.count) }.squareRoot()
        guard norm > 0, norm.isFinite else { return false }
        for i in v.indices { v[i] /= norm }
        return true
    }
}
