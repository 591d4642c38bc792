import Testing
@testable import Model

/// Fixed parameters and input with loss and gradients computed independently in NumPy
/// (float64, the forward and backward formulas written out by hand; printed to 10 decimals
/// and pasted here).
@Suite struct KnownValuesTests {
    static let decimals: [(name: String, shape: [Int], values: [Double])] = [
        ("W1", [3, 3], [0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9]),
        ("b1", [3], [0.01, -0.02, 0.03]),
        ("W2", [3, 3], [0.2, -0.1, 0.4, 0.3, 0.6, -0.5, -0.7, 0.2, 0.1]),
        ("b2", [3], [-0.05, 0.05, 0.0]),
        ("W3", [3], [0.5, -1.0, 1.5]),
    ]

    @Test func fixedParametersGiveTheNumPyLossAndGradients() throws {
        let mlp = try MLP(layers: [3, 3, 3])
        let parameters = try TensorSet(layout: mlp.layout, tensors: Dictionary(uniqueKeysWithValues: Self.decimals.map {
            ($0.name, try Tensor(shape: $0.shape, data: $0.values.map(Float.init)))
        }))
        let x: [Float] = [1, 2, -0.5], t: Float = 0.75
        let batch = try mlp.gradients(of: [Sample(x: x, t: t)], parameters: parameters)
        let numpy: [Double] = [
            3.6756977649, 7.3513955299, -1.8378488825, 0.0018884104, 0.0037768207, -0.0009442052,
            -0.5155178091, -1.0310356183, 0.2577589046,                                             // W1
            3.6756977649, 0.0018884104, -0.5155178091,                                              // b1
            -0.5863933393, -1.1999500115, 1.4723512726, 0.5654899305, 1.1571748912, -1.4198657505,
            -1.9831600486, -4.0581854596, 4.9794362004,                                             // W2
            -1.6986370232, 1.6380849982, -5.7447260323,                                             // b2
            1.5009117903, -3.03785806, 0.7331708566,                                                // W3
        ]
        // NumPy computed from the decimals; the library from their Float32 roundings. So the
        // reference starts from the decimals, each carrying one rounding (bound |v|), and the
        // input and target, which are exact in Float32, with none.
        func rounded(_ i: Int) -> [Rounded] { Self.decimals[i].values.map { Rounded($0, bound: abs($0)) } }
        let reference = ReferenceMLP(d: 3, h1: 3, h2: 3, W1: rounded(0), b1: rounded(1), W2: rounded(2), b2: rounded(3), W3: rounded(4))
        let expected = reference.lossGradient(x, t)
        // The reference evaluates the formulas in Float64 and agrees with NumPy to the 10 printed
        // decimals: two independent implementations of the expected values.
        for (e, n) in zip(expected, numpy) { #expect(abs(e.value - n) <= 5e-11 + 1e-15 * abs(n), "\(e.value) vs NumPy \(n)") }
        #expect(abs(reference.output(x).value - -1.232687818) <= 5e-10)
        #expect(abs(reference.loss(x, t).value - 3.9310509835) <= 5e-11)

        // The library's Float32 results are within their rounding bounds of those values.
        // W1[1,:] and b1[1] are small because dz1[1] is a sum of terms that cancel: their bounds,
        // and so their allowed relative errors, are larger than the others'.
        expectWithinRounding(batch.storage, expected) { "gradient, flat index \($0)" }
        expectWithinRounding([batch.results.outputs[0]], [reference.output(x)]) { _ in "output" }
        expectWithinRounding([batch.results.losses[0]], [reference.loss(x, t)]) { _ in "loss" }
    }
}
