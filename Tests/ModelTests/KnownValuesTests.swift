import Testing
@testable import Model

/// Fixed parameters and input with loss and gradients computed independently in NumPy
/// (float64, the forward and backward formulas written out by hand; printed to 10 decimals
/// and pasted here).
@Suite struct KnownValuesTests {
    @Test func fixedParametersGiveTheNumPyLossAndGradients() throws {
        let mlp = try MLP(layers: [3, 3, 3])
        let parameters = try TensorSet(layout: mlp.layout, tensors: [
            "W1": Tensor(shape: [3, 3], data: [0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9]),
            "b1": Tensor(shape: [3], data: [0.01, -0.02, 0.03]),
            "W2": Tensor(shape: [3, 3], data: [0.2, -0.1, 0.4, 0.3, 0.6, -0.5, -0.7, 0.2, 0.1]),
            "b2": Tensor(shape: [3], data: [-0.05, 0.05, 0.0]),
            "W3": Tensor(shape: [3], data: [0.5, -1.0, 1.5]),
        ])
        let batch = try mlp.gradients(of: [Sample(x: [1, 2, -0.5], t: 0.75)], parameters: parameters)

        #expect(abs(batch.results[0].output - -1.232687818) < 1e-6)
        #expect(abs(batch.results[0].loss - 3.9310509835) < 1e-5)
        let expected: [String: [Double]] = [
            "W1": [3.6756977649, 7.3513955299, -1.8378488825, 0.0018884104, 0.0037768207, -0.0009442052,
                   -0.5155178091, -1.0310356183, 0.2577589046],
            "b1": [3.6756977649, 0.0018884104, -0.5155178091],
            "W2": [-0.5863933393, -1.1999500115, 1.4723512726, 0.5654899305, 1.1571748912, -1.4198657505,
                   -1.9831600486, -4.0581854596, 4.9794362004],
            "b2": [-1.6986370232, 1.6380849982, -5.7447260323],
            "W3": [1.5009117903, -3.03785806, 0.7331708566],
        ]
        let gradient = batch.gradient(0)
        for (name, values) in expected {
            let actual = gradient[name]!.data
            #expect(actual.count == values.count)
            for (a, e) in zip(actual, values) {
                #expect(relativeError(Double(a), e, floor: 1e-3) < 1e-5, "\(name): \(a) vs \(e)")
            }
        }
    }
}
