/// Arithmetic that cannot trap. Every number that came from a client, a token or an upstream
/// (token counts, prices times counts, timestamps plus skew) is combined with these: Swift
/// traps on overflow, and a trap stops the whole process, every gate with it.
extension FixedWidthInteger {
    /// `self * other`, or the bound in the product's direction when it does not fit.
    @inlinable
    package func multipliedSaturating(by other: Self) -> Self {
        let (result, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return result }
        return (self < 0) != (other < 0) ? .min : .max
    }

    /// `self + other`, or the bound in `other`'s direction when it does not fit.
    @inlinable
    package func addingSaturating(_ other: Self) -> Self {
        let (result, overflow) = addingReportingOverflow(other)
        guard overflow else { return result }
        return other < 0 ? .min : .max
    }

    /// `self - other`, or the bound in the difference's direction when it does not fit.
    @inlinable
    package func subtractingSaturating(_ other: Self) -> Self {
        let (result, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return result }
        return other < 0 ? .max : .min
    }
}
