extension MLP {
    /// A batch's rows in the scratch: the inputs (layer 0) and each layer's activations `A(l)`, their
    /// pre-activations `Z(l)` where the activation keeps them, the layers' gradients `dZ(l)`, and
    /// the loss's gradients `dY`, `n` rows each.
    struct Rows {
        let mlp: MLP, n: Int, scratch: Scratch, X: UnsafeMutablePointer<Float>
        func A(_ l: Int) -> UnsafeMutablePointer<Float> { l == 0 ? X : scratch.floats(.activations(layer: l), count: n * mlp.layers[l]) }
        func Z(_ l: Int) -> UnsafeMutablePointer<Float>? { mlp.preactivations(l, count: n * mlp.layers[l], scratch) }
        func dZ(_ l: Int) -> UnsafeMutablePointer<Float> { scratch.floats(.layerGradient(layer: l), count: n * mlp.layers[l]) }
        var dY: UnsafeMutablePointer<Float> { scratch.floats(.outputGradient, count: n * mlp.options.outputs) }
    }

    /// The forward pass over a batch as matrix products: copies the validated samples' inputs into
    /// rows, writes every layer's activations and the outputs `Y` (K a row), and returns the rows.
    func forward(_ samples: some Collection<Sample>, _ p: UnsafePointer<Float>, into Y: UnsafeMutablePointer<Float>, _ scratch: Scratch) -> Rows {
        let rows = Rows(mlp: self, n: samples.count, scratch: scratch, X: scratch.floats(.inputs, count: samples.count * inputSize))
        for (i, sample) in samples.enumerated() {
            guard case .vector(let x) = sample.input else { preconditionFailure("validate(_:) first") }
            x.withUnsafeBufferPointer { (rows.X + i * inputSize).update(from: $0.baseAddress!, count: inputSize) }
        }
        // Al = f(A(l-1) Wlᵀ + bl);  Y = An W(n+1)ᵀ (+ b(n+1))
        for l in 1...depth {
            let a = rows.A(l), width = layers[l]
            for i in 0..<rows.n { (a + i * width).update(from: bias(l, p), count: width) }
            BLAS.gemmTransposedB(m: rows.n, n: width, k: layers[l - 1], rows.A(l - 1), weights(l, p), beta: 1, a)
            options.activation.apply(a, count: rows.n * width, preactivation: rows.Z(l))
        }
        output.forwardBatch(rows.A(depth), rows: rows.n, p, into: Y)
        return rows
    }

    /// Per-sample gradients of a whole batch, with the matrix products batched: the forward
    /// pass and the back-propagation between layers are matrix-matrix products over all
    /// samples (each weight read once per batch, not once per sample), and only the outer
    /// products that make each sample's weight gradients are per sample, written straight
    /// into their rows.
    public func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, outputs Y: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [Float] {
        let n = samples.count, k = options.outputs, stride = layout.count
        return try parameters.storage.withUnsafeBufferPointer { (p) throws(ModelError) -> [Float] in
            let p = p.baseAddress!
            let rows = forward(samples, p, into: Y, scratch)
            let last = rows.A(depth), width = layers[depth], dY = rows.dY

            var losses: [Float] = []
            losses.reserveCapacity(n)
            for i in 0..<n {
                let y = Y + i * k, dy = dY + i * k, a = last + i * width
                let loss = options.loss.evaluate(y, count: k, target: samples[i].target, gradient: dy)
                // dW(n+1) = dy anᵀ;  db(n+1) = dy
                output.writeWeightGradient(a, dy, into: gradients + i * stride)
                guard loss.isFinite, (maxMagnitude(dy, k) * maxMagnitude(a, width)).isFinite else {
                    throw .nonFinite("samples[\(i)]: the loss or its gradient overflows Float32 at these parameters")
                }
                losses.append(loss)
            }
            // dAn = dY W(n+1), then for each layer dZl = dAl ⊙ f'(Zl) and dA(l-1) = dZl Wl.
            output.inputGradientBatch(dY, rows: n, p, into: rows.dZ(depth))
            for l in Swift.stride(from: depth, through: 1, by: -1) {
                let dz = rows.dZ(l), width = layers[l], fanIn = layers[l - 1], input = rows.A(l - 1)
                options.activation.backpropagate(dz, count: n * width, activations: rows.A(l), preactivations: rows.Z(l))
                for i in 0..<n {
                    let g = gradients + i * stride, row = dz + i * width, x = input + i * fanIn
                    // dbl = dzl;  dWl = dzl a(l-1)ᵀ: finite where max|dzl| max|a(l-1)| is.
                    (g + offset(ofBias: l)).update(from: row, count: width)
                    writeOuter(row, count: width, x, count: fanIn, into: g + offset(ofWeights: l))
                    guard (maxMagnitude(row, width) * maxMagnitude(x, fanIn)).isFinite else {
                        throw .nonFinite("samples[\(i)]: the loss or its gradient overflows Float32 at these parameters")
                    }
                }
                if l > 1 {
                    BLAS.gemm(m: n, n: fanIn, k: width, dz, weights(l, p), beta: 0, rows.dZ(l - 1))
                }
            }
            return losses
        }
    }

    /// The batch's gradients summed, with every matrix product batched: the forward pass and the
    /// back-propagation as in `writeGradients`, and each layer's weight gradients summed over the
    /// samples by one product dZᵀ A instead of an outer product per sample, so no sample's
    /// gradient is ever held. Chunks of at most 32 samples, fewer when the layers are wide, keep
    /// each scratch buffer under 2^21 floats (8 MB).
    public func accumulateGradientSum(
        of samples: [Sample], parameters: TensorSet,
        into sum: UnsafeMutablePointer<Float>, outputs Y: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> [Float] {
        let chunk = max(1, min(32, (1 << 21) / layers.reduce(0, +)))
        var losses: [Float] = []
        losses.reserveCapacity(samples.count)
        parameters.storage.withUnsafeBufferPointer { p in
            for start in Swift.stride(from: 0, to: samples.count, by: chunk) {
                let part = samples[start..<min(start + chunk, samples.count)]
                losses += accumulateGradientSum(of: part, p.baseAddress!, into: sum, outputs: Y + start * options.outputs, scratch)
            }
        }
        return losses
    }

    private func accumulateGradientSum(
        of samples: ArraySlice<Sample>, _ p: UnsafePointer<Float>,
        into d: UnsafeMutablePointer<Float>, outputs Y: UnsafeMutablePointer<Float>, _ scratch: Scratch
    ) -> [Float] {
        let n = samples.count, k = options.outputs
        let rows = forward(samples, p, into: Y, scratch)
        let dY = rows.dY
        let losses = samples.indices.map { i in
            let row = i - samples.startIndex
            return options.loss.evaluate(Y + row * k, count: k, target: samples[i].target, gradient: dY + row * k)
        }
        // dW(n+1) += dYᵀ An;  db(n+1) += the rows of dY;  dAn = dY W(n+1)
        output.accumulateWeightGradientSum(rows.A(depth), dY, rows: n, into: d)
        output.inputGradientBatch(dY, rows: n, p, into: rows.dZ(depth))
        for l in Swift.stride(from: depth, through: 1, by: -1) {
            let dz = rows.dZ(l), width = layers[l], fanIn = layers[l - 1]
            // dZl = dAl ⊙ f'(Zl);  dbl += the rows of dZl;  dWl += dZlᵀ A(l-1);  dA(l-1) = dZl Wl
            options.activation.backpropagate(dz, count: n * width, activations: rows.A(l), preactivations: rows.Z(l))
            addRows(dz, rows: n, columns: width, into: d + offset(ofBias: l))
            BLAS.gemmTransposedA(m: width, n: fanIn, k: n, dz, rows.A(l - 1), beta: 1, d + offset(ofWeights: l))
            if l > 1 {
                BLAS.gemm(m: n, n: fanIn, k: width, dz, weights(l, p), beta: 0, rows.dZ(l - 1))
            }
        }
        return losses
    }
}
