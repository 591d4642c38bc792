import Testing
@testable import Model

@Suite struct BadInputTests {
    let mlp = try! MLP(layers: [3, 4, 2])

    @Test func wrongInputLengthNamesTheFieldAndShapes() throws {
        let parameters = mlp.makeParameters(.glorot, seed: 1)
        #expect(throws: ModelError.shapeMismatch("samples[1].input: expected [3], got [2]")) {
            try mlp.gradients(of: [Sample(x: [1, 2, 3], t: 1), Sample(x: [1, 2], t: 1)], parameters: parameters)
        }
    }

    @Test func nonFiniteInputsAndTargetsAreRejected() throws {
        let parameters = mlp.makeParameters(.glorot, seed: 1)
        #expect(throws: ModelError.nonFinite("samples[0].input[1]: nan is not finite")) {
            try mlp.gradients(of: [Sample(x: [1, .nan, 3], t: 1)], parameters: parameters)
        }
        #expect(throws: ModelError.nonFinite("samples[0].target: inf is not finite")) {
            try mlp.gradients(of: [Sample(x: [1, 2, 3], t: .infinity)], parameters: parameters)
        }
    }

    @Test func wrongGradientShapeNamesTheParameterAndShapes() {
        #expect(throws: ModelError.shapeMismatch("W1: expected [4,3], got [3,4]")) {
            try GradientUpdate(layout: mlp.layout, tensors: ["W1": Tensor(zeros: [3, 4])])
        }
    }

    @Test func unknownAndNonFiniteGradientsAreRejected() throws {
        #expect(throws: ModelError.self) {
            try GradientUpdate(layout: mlp.layout, tensors: ["W9": Tensor(zeros: [1])])
        }
        // With several unknown names among known ones, the error names the first in sorted order.
        let names = mlp.layout.names.joined(separator: ", ")
        #expect(throws: ModelError.unknownParameter("A9: not a parameter of this model (expected one of \(names))")) {
            try GradientUpdate(layout: mlp.layout, tensors: ["Z9": Tensor(zeros: [1]), "b1": Tensor(zeros: [4]), "A9": Tensor(zeros: [1]), "M9": Tensor(zeros: [1])])
        }
        #expect(throws: ModelError.nonFinite("b1: value nan at flat index 2 is not finite")) {
            try GradientUpdate(layout: mlp.layout, tensors: ["b1": Tensor(shape: [4], data: [0, 0, .nan, 0])])
        }
    }

    @Test func tensorDataMustFillItsShape() {
        #expect(throws: ModelError.invalidShape("shape [2,2] holds 4 values, got 3")) {
            try Tensor(shape: [2, 2], data: [1, 2, 3])
        }
        #expect(throws: ModelError.self) { try Tensor(shape: [-1], data: []) }
        #expect(throws: ModelError.self) { try Tensor(shape: [Int.max, 4], data: []) }
    }

    @Test func missingParameterInFullSetIsNamed() {
        #expect(throws: ModelError.unknownParameter("W3: missing (every parameter is required: W1, b1, W2, b2, W3)")) {
            try TensorSet(layout: mlp.layout, tensors: [
                "W1": Tensor(zeros: [4, 3]), "b1": Tensor(zeros: [4]),
                "W2": Tensor(zeros: [2, 4]), "b2": Tensor(zeros: [2]),
            ])
        }
    }

    @Test func invalidLayerSizesAreRejected() {
        #expect(throws: ModelError.self) { try MLP(layers: [3]) }
        #expect(throws: ModelError.self) { try MLP(layers: [3, 0, 3]) }
        #expect(throws: ModelError.self) { try MLP(layers: [Int](repeating: 2, count: MLP.maxHiddenLayers + 2)) }
        #expect(throws: ModelError.self) { try MLP(layers: [3, 3], options: NetworkOptions(outputs: 0)) }
        #expect(throws: ModelError.self) { try MLP(layers: [3, 3], options: NetworkOptions(outputs: 1, loss: .softmaxCrossEntropy)) }
        #expect(throws: Never.self) { try MLP(layers: [Int](repeating: 2, count: MLP.maxHiddenLayers + 1)) }
    }

    @Test func initializationIsDeterministicAndInRange() {
        let a = mlp.makeParameters(.glorot, seed: 5), b = mlp.makeParameters(.glorot, seed: 5)
        #expect(a == b)
        #expect(a != mlp.makeParameters(.glorot, seed: 6))
        let limit = (6.0 / Double(3 + 4)).squareRoot()
        #expect(a["W1"]!.data.allSatisfy { abs(Double($0)) <= limit })
        #expect(a["b1"]!.data.allSatisfy { $0 == 0 })
        let u = mlp.makeParameters(.uniform01, seed: 5)
        #expect(u["W2"]!.data.allSatisfy { (0..<1).contains($0) })
        #expect(Set(u["W2"]!.data).count == 8)
    }
}

@Suite struct OverflowTests {
    /// Finite but huge parameters make the output overflow: an error, not an answer with infinities.
    @Test func resultsThatOverflowAreRefused() throws {
        let mlp = try MLP(layers: [1, 2, 2])
        var parameters = mlp.makeParameters(.glorot, seed: 1)
        for i in mlp.layout.entry(named: "W3")!.range { parameters.storage[i] = 3e38 }
        for i in mlp.layout.entry(named: "b2")!.range { parameters.storage[i] = 5 }
        #expect(throws: ModelError.nonFinite("samples[0]: the output overflows Float32 at these parameters")) {
            try mlp.outputs(for: [.vector([1])], parameters: parameters)
        }
        #expect(throws: ModelError.nonFinite("samples[0]: the loss or its gradient overflows Float32 at these parameters")) {
            try mlp.gradients(of: [Sample(x: [1], t: 0)], parameters: parameters)
        }
        #expect(throws: ModelError.self) { try mlp.gradientSum(of: [Sample(x: [1], t: 0)], parameters: parameters) }
    }
}
