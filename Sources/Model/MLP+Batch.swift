extension MLP {
    /// Per-sample gradients of a whole batch, with the matrix products batched: the forward
    /// pass and the back-propagation between layers are matrix-matrix products over all
    /// samples (each weight read once per batch, not once per sample), and only the outer
    /// products that make each sample's weight gradients are per sample, written straight
    /// into their rows.
    public func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, outputs Y: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [Float] {
        let n = samples.count, k = options.outputs, stride = layout.count, activation = options.activation
        let X = scratch.floats(.inputs, count: n * inputSize)
        for (i, sample) in samples.enumerated() {
            guard case .vector(let x) = sample.input else { preconditionFailure("validate(_:) first") }
            x.withUnsafeBufferPointer { (X + i * inputSize).update(from: $0.baseAddress!, count: inputSize) }
        }
        // Rows of layer l's activations (l = 0: the inputs), and of their gradients.
        func A(_ l: Int) -> UnsafeMutablePointer<Float> { l == 0 ? X : scratch.floats(.activations(layer: l), count: n * layers[l]) }
        func dZ(_ l: Int) -> UnsafeMutablePointer<Float> { scratch.floats(.layerGradient(layer: l), count: n * layers[l]) }
        func Z(_ l: Int) -> UnsafeMutablePointer<Float>? { preactivations(l, count: n * layers[l], scratch) }
        let dY = scratch.floats(.outputGradient, count: n * k)

        return try parameters.storage.withUnsafeBufferPointer { (p) throws(ModelError) -> [Float] in
            let p = p.baseAddress!
            // Al = f(A(l-1) Wlᵀ + bl);  Y = An W(n+1)ᵀ (+ b(n+1))
            for l in 1...depth {
                let a = A(l), width = layers[l]
                for i in 0..<n { (a + i * width).update(from: bias(l, p), count: width) }
                BLAS.gemmTransposedB(m: n, n: width, k: layers[l - 1], A(l - 1), weights(l, p), beta: 1, a)
                activation.apply(a, count: n * width, preactivation: preactivations(l, count: n * width, scratch))
            }
            let last = A(depth), width = layers[depth]
            output.forwardBatch(last, rows: n, p, into: Y)

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
            output.inputGradientBatch(dY, rows: n, p, into: dZ(depth))
            for l in Swift.stride(from: depth, through: 1, by: -1) {
                let dz = dZ(l), width = layers[l], fanIn = layers[l - 1], input = A(l - 1)
                activation.backpropagate(dz, count: n * width, activations: A(l), preactivations: Z(l))
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
                    BLAS.gemm(m: n, n: fanIn, k: width, dz, weights(l, p), beta: 0, dZ(l - 1))
                }
            }
            return losses
        }
    }
}
