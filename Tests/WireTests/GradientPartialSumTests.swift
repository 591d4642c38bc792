import Model
import Testing
@testable import Wire

@Suite struct GradientPartialSumTests {
    let layout = ParameterLayout([("w", [2]), ("b", [1])])

    func read(_ json: String) throws -> GradientPartialSum {
        try JSONReader.read(Array(json.utf8)) { try GradientPartialSum(reading: &$0, layout: layout) }
    }

    @Test func perSampleGradientsAndPartialSumsAddUpInLayoutOrder() throws {
        let perSample = try read(#"""
        {"version": 4, "results": [
          {"loss": 1.5, "output": 0, "gradients": {"b": {"shape": [1], "data": [1]}, "w": {"shape": [2], "data": [0.5, -1]}}},
          {"loss": 0.25, "output": 1, "gradients": {"w": {"shape": [2], "dtype": "float32", "b64": "AACAPwAAAEA="}, "b": {"shape": [1], "data": [3]}}}
        ]}
        """#)
        #expect(perSample.version == 4)
        #expect(perSample.samples == 2)
        #expect(perSample.lossSum == 1.75)
        #expect(perSample.sum == [1.5, 1, 4])
        let summed = try read(#"{"version": 4, "results": [{"loss": 2, "output": 0}], "gradient_sum": {"w": {"shape": [2], "data": [1, 2]}, "b": {"shape": [1], "data": [3]}}}"#)
        #expect(summed.samples == 1)
        #expect(summed.lossSum == 2)
        #expect(summed.sum == [1, 2, 3])
        // `"results": "sum"`: the count and the loss sum as the server wrote them, a Float64 read exactly.
        let totals = try read(#"{"version": 4, "samples": 3, "loss_sum": 0.30000000000000004, "gradient_sum": {"w": {"shape": [2], "data": [1, 2]}, "b": {"shape": [1], "data": [3]}}}"#)
        #expect(totals.samples == 3)
        #expect(totals.lossSum == 0.1 + 0.2)
        #expect(totals.sum == [1, 2, 3])
    }

    /// The first block of gradients is read as the sum instead of added to zeros: it must still
    /// be what adding to zeros gives, -0 turned to +0, in both forms and whatever the key order.
    @Test func theFirstGradientsAreReadAsAddedToZero() throws {
        let summed = try read(#"{"version": 1, "samples": 1, "loss_sum": 1, "gradient_sum": {"b": {"shape": [1], "data": [-0.0]}, "w": {"shape": [2], "data": [-0.0, -1e-45]}}}"#)
        #expect(summed.sum.map(\.bitPattern) == [0, (-1e-45 as Float).bitPatternAsDouble, 0])
        let perSample = try read(#"""
        {"version": 1, "results": [
          {"loss": 1, "gradients": {"w": {"shape": [2], "dtype": "float32", "b64": "AAAAgAAAAIA="}, "b": {"shape": [1], "data": [-0.0]}}},
          {"loss": 1, "gradients": {"w": {"shape": [2], "data": [-0.0, 2]}, "b": {"shape": [1], "data": [-0.0]}}}
        ]}
        """#)
        #expect(perSample.sum.map(\.bitPattern) == [0, Double(2).bitPattern, 0])
    }

    @Test(arguments: [
        (#"{"version": 1, "results": [{"loss": 1, "gradients": {"w": {"shape": [2], "data": [1, 2]}}}]}"#, "expected every parameter (w, b), got 1 of 2"),
        (#"{"version": 1, "results": [{"loss": 1, "gradients": {"w": {"shape": [2], "data": [1, 2]}, "b": {"shape": [1], "data": [1]}, "c": {"shape": [1], "data": [1]}}}]}"#, "not a parameter of this model (expected one of w, b)"),
        (#"{"version": 1, "results": [{"loss": 1}]}"#, "expected version, results or samples and loss_sum, and gradients per sample or gradient_sum"),
        (#"{"version": 1, "samples": 2, "gradient_sum": {"w": {"shape": [2], "data": [1, 2]}, "b": {"shape": [1], "data": [3]}}}"#, "expected version, results or samples and loss_sum, and gradients per sample or gradient_sum"),
    ])
    func answersThatDoNotFitTheModelAreRefused(json: String, message: String) {
        #expect { try read(json) } throws: { error in
            (error as? WireError)?.message.hasSuffix(message) == true
        }
    }

    @Test func aTensorOfAnotherShapeIsAShapeMismatch() {
        #expect(throws: ModelError.shapeMismatch("results[0].gradients.w: expected [2], got [3]")) {
            try read(#"{"version": 1, "results": [{"loss": 1, "gradients": {"w": {"shape": [3], "data": [1, 2, 3]}, "b": {"shape": [1], "data": [1]}}}]}"#)
        }
    }
}

extension Float {
    /// The bits of this Float32 value as a Float64.
    var bitPatternAsDouble: UInt64 { Double(self).bitPattern }
}
