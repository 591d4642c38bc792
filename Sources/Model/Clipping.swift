/// DP-SGD's per-sample clipping (Abadi et al., 2016): each sample's whole gradient, all
/// parameters together, scaled by min(1, C / ‖g‖₂), so that no sample moves the sum by more than C.
extension GradientBatch {
    /// Clips every row to L2 norm at most `norm` and returns each row's norm before clipping. The
    /// norm is summed in Float64; a row under the norm is left exactly as it was, a row over it is
    /// multiplied by the Float32 nearest C / ‖g‖₂.
    public mutating func clip(to norm: Float) -> [Double] {
        let p = layout.count, n = count
        return storage.withUnsafeMutableBufferPointer { storage in
            (0..<n).map { i in
                let row = storage.baseAddress! + i * p
                var squares = 0.0
                for k in 0..<p { squares += Double(row[k]) * Double(row[k]) }
                let length = squares.squareRoot()
                if length > Double(norm) {
                    let scale = Float(Double(norm) / length)
                    for k in 0..<p { row[k] *= scale }
                }
                return length
            }
        }
    }
}

extension Network {
    /// The per-sample losses and outputs, each sample's gradient norm before clipping, and the sum
    /// of the clipped gradients (added in Float64, rounded once). The samples' gradients are made
    /// `chunk` samples at a time, so memory stays bounded however many samples there are.
    public func clippedGradientSum(of samples: [Sample], parameters: TensorSet, clipNorm: Float, chunk: Int,
                                   scratch: Scratch = Scratch()) throws(ModelError) -> (results: SampleResults, norms: [Double], sum: TensorSet) {
        precondition(chunk >= 1, "at least one sample at a time")
        try check(parameters)
        try validate(samples)
        var total = [Double](repeating: 0, count: layout.count)
        var losses: [Float] = [], outputs: [Float] = [], norms: [Double] = []
        for start in stride(from: 0, to: samples.count, by: chunk) {
            // Validated above, as a whole: each chunk goes straight to the computation.
            let part = Array(samples[start..<min(start + chunk, samples.count)])
            var batch: GradientBatch
            do throws(ModelError) {
                batch = try gradientBatch(ofValidated: part, parameters: parameters, scratch: scratch)
            } catch {
                throw error.renumbered(from: start)
            }
            norms += batch.clip(to: clipNorm)
            losses += batch.results.losses
            outputs += batch.results.outputs
            batch.storage.withUnsafeBufferPointer { rows in
                for i in 0..<batch.count {
                    let row = rows.baseAddress! + i * layout.count
                    for k in 0..<layout.count { total[k] += Double(row[k]) }
                }
            }
            scratch.recycle(batch)
        }
        let sum = TensorSet(layout: layout, storage: total.map { Float($0) })
        guard sum.isFinite else { throw .nonFinite("gradient_sum: overflows Float32 at these parameters") }
        return (SampleResults(outputCount: outputCount, losses: losses, outputs: outputs), norms, sum)
    }
}

extension ModelError {
    /// The same error with `samples[i]` renumbered as `samples[offset + i]` (for work done in chunks).
    func renumbered(from offset: Int) -> ModelError {
        guard offset > 0 else { return self }
        return mapMessage { message in
            guard message.hasPrefix("samples["), let close = message.firstIndex(of: "]"),
                  let index = Int(message[message.index(message.startIndex, offsetBy: 8)..<close]) else { return message }
            return "samples[\(index + offset)" + message[close...]
        }
    }
}
