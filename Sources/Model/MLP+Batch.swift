#if canImport(Glibc)
import Glibc
#endif

extension MLP {
    /// Per-sample gradients of a whole batch, with the matrix products batched: the forward
    /// pass and the back-propagation through W2 are matrix-matrix products over all samples
    /// (each weight read once per batch, not once per sample), and only the outer products
    /// that make each sample's weight gradients are per sample, written straight into their rows.
    public func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [SampleResult] {
        let n = samples.count, d = inputSize, h1 = hidden1, h2 = hidden2, stride = layout.count
        let X = scratch.floats(4, count: n * d)
        let A1 = scratch.floats(5, count: n * h1)
        let A2 = scratch.floats(6, count: n * h2)
        let dZ2 = scratch.floats(7, count: n * h2)
        let dZ1 = scratch.floats(8, count: n * h1)
        let y = scratch.floats(9, count: n)
        for (i, sample) in samples.enumerated() {
            guard case .vector(let x) = sample.input else { preconditionFailure("validate(_:) first") }
            x.withUnsafeBufferPointer { (X + i * d).update(from: $0.baseAddress!, count: d) }
        }
        return try parameters.storage.withUnsafeBufferPointer { (p) throws(ModelError) -> [SampleResult] in
            let w = Weights(self, p.baseAddress!)
            // A1 = tanh(X W1ᵀ + b1);  A2 = tanh(A1 W2ᵀ + b2);  y = A2 W3
            for i in 0..<n { (A1 + i * h1).update(from: w.b1, count: h1) }
            BLAS.gemmTransposedB(m: n, n: h1, k: d, X, w.W1, beta: 1, A1)
            for k in 0..<(n * h1) { A1[k] = tanhf(A1[k]) }
            for i in 0..<n { (A2 + i * h2).update(from: w.b2, count: h2) }
            BLAS.gemmTransposedB(m: n, n: h2, k: h1, A1, w.W2, beta: 1, A2)
            for k in 0..<(n * h2) { A2[k] = tanhf(A2[k]) }
            BLAS.gemv(rows: n, columns: h2, A2, w.W3, beta: 0, y)

            var results: [SampleResult] = []
            results.reserveCapacity(n)
            for i in 0..<n {
                let residual = y[i] - samples[i].target
                let dy = 2 * residual
                let g = Gradient(self, gradients + i * stride)
                let a2 = A2 + i * h2, dz2 = dZ2 + i * h2
                // dW3 = dy a2;  dz2 = dy W3 ⊙ (1 - a2²);  db2 = dz2
                for j in 0..<h2 {
                    g.W3[j] = dy * a2[j]
                    dz2[j] = dy * w.W3[j] * (1 - a2[j] * a2[j])
                    g.b2[j] = dz2[j]
                }
                results.append(SampleResult(loss: residual * residual, output: y[i]))
            }
            // dZ1 = (dZ2 W2) ⊙ (1 - A1²)
            BLAS.gemm(m: n, n: h1, k: h2, dZ2, w.W2, beta: 0, dZ1)
            for k in 0..<(n * h1) { dZ1[k] *= 1 - A1[k] * A1[k] }
            for i in 0..<n {
                let g = Gradient(self, gradients + i * stride)
                let dz1 = dZ1 + i * h1, dz2 = dZ2 + i * h2, x = X + i * d
                // db1 = dz1;  dW2 = dz2 a1ᵀ;  dW1 = dz1 xᵀ
                g.b1.update(from: dz1, count: h1)
                Self.writeOuter(dz2, count: h2, A1 + i * h1, count: h1, into: g.W2)
                Self.writeOuter(dz1, count: h1, x, count: d, into: g.W1)
                // |a1|, |a2| <= 1, so the gradients are finite when the loss, dz1 and dz2 are,
                // and the largest entry of dW1 is max|dz1| max|x|.
                guard results[i].loss.isFinite, Self.maxMagnitude(dz2, h2).isFinite,
                      (Self.maxMagnitude(dz1, h1) * Self.maxMagnitude(x, d)).isFinite else {
                    throw .nonFinite("samples[\(i)]: the loss or its gradient overflows Float32 at these parameters")
                }
            }
            return results
        }
    }

    /// a = u vᵀ, written row by row (no read of a).
    private static func writeOuter(_ u: UnsafePointer<Float>, count rows: Int, _ v: UnsafePointer<Float>, count columns: Int,
                                   into a: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let scale = u[r], row = a + r * columns
            for c in 0..<columns { row[c] = scale * v[c] }
        }
    }

    /// The largest |value|, or a non-finite value if there is one.
    private static func maxMagnitude(_ values: UnsafePointer<Float>, _ count: Int) -> Float {
        var largest: Float = 0
        for k in 0..<count {
            let magnitude = abs(values[k])
            if !(magnitude <= largest) { largest = magnitude.isNaN ? .infinity : magnitude }
        }
        return largest
    }
}
